import { describe, expect, it } from "vitest";
import { call, counts, email, seedTenant } from "../helpers/api";

describe("POST /emails for a tenant whose providers include a transport with limits", () => {
	it("refuses a header SMTP cannot carry on one line with 422 naming it, and writes nothing", async () => {
		const t = await seedTenant({ providers: ["smtp", "sandbox"] });
		const res = await call("POST", "/emails", { key: t.key, body: email(t, { headers: { "X-Trace": "a".repeat(1000) } }) });
		expect(res.status).toBe(422);
		expect(res.body).toMatchObject({ statusCode: 422, name: "validation_error" });
		expect(String(res.body.message)).toBe(
			"Header X-Trace makes a 1009-octet line; SMTP carries at most 998 (SMTP is in this tenant's providers)",
		);
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	it("refuses a header Cloudflare Email Sending does not allow, naming it", async () => {
		const t = await seedTenant({ providers: ["cloudflare"] });
		const res = await call("POST", "/emails", { key: t.key, body: email(t, { headers: { "Thread-Topic": "quarterly" } }) });
		expect(res.status).toBe(422);
		expect(String(res.body.message)).toContain("Header Thread-Topic is not carried by Cloudflare Email Sending");
	});

	it("names the email of a batch that carries such a header", async () => {
		const t = await seedTenant({ providers: ["cloudflare"] });
		const res = await call("POST", "/emails/batch", {
			key: t.key,
			body: [email(t), email(t, { headers: { Precedence: "urgent" } })],
		});
		expect(res.status).toBe(422);
		expect(String(res.body.message)).toMatch(/^emails\[1\]: Header Precedence must be bulk, list, junk/);
	});

	it("accepts the same header for a tenant whose providers carry it", async () => {
		const t = await seedTenant({ providers: ["sandbox"] });
		const res = await call("POST", "/emails", { key: t.key, body: email(t, { headers: { "Thread-Topic": "quarterly" } }) });
		expect(res.status).toBe(200);
	});
});
