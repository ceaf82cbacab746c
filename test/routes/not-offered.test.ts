import { Resend } from "resend";
import { describe, expect, it } from "vitest";
import { call, seedTenant } from "../helpers/api";

type ErrorBody = { statusCode: number; name: string; message: string };

describe("Resend resources Mailroom does not offer", () => {
	it.each([
		["GET", "/emails/receiving", "receiving emails"],
		["GET", "/emails/receiving/0192f1d8-7a1b-7c2d-8e3f-4a5b6c7d8e9f", "receiving emails"],
		["GET", "/emails/receiving/0192f1d8-7a1b-7c2d-8e3f-4a5b6c7d8e9f/attachments", "receiving emails"],
		["POST", "/emails/0192f1d8-7a1b-7c2d-8e3f-4a5b6c7d8e9f/share", "sharing emails"],
		["POST", "/domains/claim", "domain claims"],
		["POST", "/domains/0192f1d8-7a1b-7c2d-8e3f-4a5b6c7d8e9f/claim/verify", "domain claims"],
		["POST", "/contacts", "contacts"],
		["GET", "/contacts/someone@example.org", "contacts"],
		["GET", "/audiences", "audiences"],
		["DELETE", "/segments/x", "audiences and segments"],
		["POST", "/broadcasts", "broadcasts"],
		["GET", "/topics", "topics"],
		["POST", "/automations", "automations"],
		["POST", "/events/send", "automations"],
		["GET", "/inboxes", "inboxes"],
		["GET", "/logs", "API request logs"],
		["GET", "/oauth/grants", "OAuth grants"],
		["GET", "/contact-properties", "contacts"],
	])("%s %s answers 404 feature_not_offered naming it", async (method, path, feature) => {
		const t = await seedTenant();
		const res = await call<ErrorBody>(method, path, { key: t.key, ...(method === "POST" ? { body: {} } : {}) });
		expect(res.status).toBe(404);
		expect(res.body).toEqual({
			statusCode: 404,
			name: "feature_not_offered",
			message: expect.stringContaining(`does not offer ${feature}`),
		});
	});

	it("is what the resend SDK reports for a call Mailroom does not implement", async () => {
		const t = await seedTenant();
		const resend = new Resend(t.key, { baseUrl: "http://mailroom.test" });
		const { exports } = await import("cloudflare:workers");
		const realFetch = globalThis.fetch;
		globalThis.fetch = (input, init) => exports.default.fetch(new Request(input, init));
		try {
			const result = await resend.contacts.list();
			expect(result.data).toBeNull();
			expect(result.error).toMatchObject({ statusCode: 404, name: "feature_not_offered" });
		} finally {
			globalThis.fetch = realFetch;
		}
	});

	it("does not answer not_found for an email id that exists elsewhere in the path", async () => {
		const t = await seedTenant();
		const metrics = await call<ErrorBody>("GET", "/emails/metrics", { key: t.key });
		expect(metrics.status).toBe(200);
	});
});
