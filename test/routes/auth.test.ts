import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, counts, email, seedTenant } from "../helpers/api";

type ErrorBody = { statusCode: number; name: string; message: string };

describe("API key authentication", () => {
	it("answers 401 missing_api_key without an Authorization header", async () => {
		const res = await call<ErrorBody>("GET", "/emails");
		expect(res.status).toBe(401);
		expect(res.body).toEqual({ statusCode: 401, name: "missing_api_key", message: expect.any(String) });
	});

	it("answers 401 missing_api_key for a non-Bearer scheme", async () => {
		const res = await call<ErrorBody>("GET", "/emails", { headers: { authorization: "Basic dXNlcjpwYXNz" } });
		expect(res.status).toBe(401);
		expect(res.body.name).toBe("missing_api_key");
	});

	it("answers 403 invalid_api_key for an unknown key and writes nothing", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", { key: "mr_not-a-real-key", body: email(t) });
		expect(res.status).toBe(403);
		expect(res.body.name).toBe("invalid_api_key");
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	it("does not accept the admin token as an API key", async () => {
		const res = await call<ErrorBody>("GET", "/emails", { key: ADMIN_TOKEN });
		expect(res.status).toBe(403);
	});

	it("answers 403 for a revoked key", async () => {
		const t = await seedTenant();
		const created = await call<{ id: string; token: string }>("POST", "/api-keys", { key: t.key, body: { name: "temp" } });
		expect((await call("GET", "/emails", { key: created.body.token })).status).toBe(200);
		await call("DELETE", `/api-keys/${created.body.id}`, { key: t.key });
		const res = await call<ErrorBody>("GET", "/emails", { key: created.body.token });
		expect(res.status).toBe(403);
		expect(res.body.name).toBe("invalid_api_key");
	});

	it("lets a sending_access key send but answers 401 restricted_api_key elsewhere", async () => {
		const t = await seedTenant();
		const sending = await call<{ token: string }>("POST", "/api-keys", {
			key: t.key,
			body: { name: "sender", permission: "sending_access" },
		});
		const key = sending.body.token;
		const sent = await call<{ id: string }>("POST", "/emails", { key, body: email(t) });
		expect(sent.status).toBe(200);
		expect((await call("POST", "/emails/batch", { key, body: [email(t)] })).status).toBe(200);
		for (const [method, path] of [
			["GET", "/emails"],
			["GET", `/emails/${sent.body.id}`],
			["GET", `/emails/${sent.body.id}/events`],
			["POST", `/emails/${sent.body.id}/cancel`],
			["GET", "/api-keys"],
			["GET", "/suppressions"],
		] as const) {
			const res = await call<ErrorBody>(method, path, { key });
			expect(res.status, `${method} ${path}`).toBe(401);
			expect(res.body.name).toBe("restricted_api_key");
		}
	});
});

describe("admin authentication", () => {
	it("answers 401 without a token and 403 with a wrong one", async () => {
		expect((await call<ErrorBody>("GET", "/admin/tenants")).body.name).toBe("missing_api_key");
		const wrong = await call<ErrorBody>("GET", "/admin/tenants", { key: `${ADMIN_TOKEN}x` });
		expect(wrong.status).toBe(403);
		expect(wrong.body.name).toBe("invalid_api_key");
	});

	it("does not accept a tenant API key", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("GET", "/admin/tenants", { key: t.key });
		expect(res.status).toBe(403);
	});
});
