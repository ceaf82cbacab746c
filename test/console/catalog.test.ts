/** The console's copies of the Worker's lists (console/src/catalog.ts) stay equal to their sources. */
import { describe, expect, it } from "vitest";
import * as consoleCatalog from "../../console/src/catalog";
import { TENANT_DEFAULTS } from "../../src/config";
import { EMAIL_STATUSES, WEBHOOK_EVENT_TYPES } from "../../src/db/schema";
import { BEHAVIOURS } from "../../src/providers/sandbox/client";

describe("the console's catalog", () => {
	it("lists every email status", () => {
		expect(consoleCatalog.EMAIL_STATUSES).toEqual(EMAIL_STATUSES);
	});

	it("lists every webhook event type", () => {
		expect(consoleCatalog.WEBHOOK_EVENT_TYPES).toEqual(WEBHOOK_EVENT_TYPES);
	});

	it("starts a new tenant from the admin API's defaults", () => {
		expect(consoleCatalog.TENANT_DEFAULTS).toEqual({
			api_rate: TENANT_DEFAULTS.apiRate,
			send_rate: TENANT_DEFAULTS.sendRate,
			daily_quota: TENANT_DEFAULTS.dailyQuota,
		});
	});

	it("explains every sandbox behaviour", () => {
		expect(consoleCatalog.SANDBOX_ADDRESSES.map((a) => a.local)).toEqual(BEHAVIOURS);
	});
});
