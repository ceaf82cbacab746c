import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Pacer } from "../../src/services/pacing";
import { seedTenant } from "../helpers/api";
import { realPacer } from "../helpers/pacer";
import { consume, depsWith, fakeProvider, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

describe("provider 429 storm", () => {
	it("makes fewer upstream calls in a 429 storm than without the limiter", async () => {
		const storm = async (pacer: Pacer | undefined) => {
			const t = await seedTenant();
			const ids: string[] = [];
			for (let i = 0; i < 10; i++) ids.push(await seedEmail(t));
			const provider = fakeProvider(json(429, { statusCode: 429, name: "rate_limit_exceeded", message: "slow down" }));
			vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
			const stormSettings = {
				PROVIDERS: "resend",
				RESEND_API_KEY: "re",
				RESEND_BASE_URL: "https://resend.test",
				PROVIDER_RATES: JSON.stringify({ resend: { per_second: 5, burst: 5 } }),
			};
			const deps = depsWith(stormSettings, pacer ? { pacer } : {});
			for (let round = 0; round < 5; round++) {
				await env.DB.prepare("UPDATE emails SET status = 'queued' WHERE tenant_id = ? AND status = 'queued'").bind(t.tenantId).run();
				await consume(t, ids, deps);
			}
			const calls = provider.requests.length;
			vi.restoreAllMocks();
			return calls;
		};
		const without = await storm(undefined);
		const withLimiter = await storm(realPacer({ PROVIDER_RATES: JSON.stringify({ resend: { per_second: 5, burst: 5 } }) }).pacer);
		console.log(`429 storm, upstream calls: ${without} without the limiter, ${withLimiter} with it`);
		expect(without).toBe(50);
		expect(withLimiter).toBeLessThanOrEqual(5);
	});
});
