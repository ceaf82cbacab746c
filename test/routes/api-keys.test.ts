import { describe, expect, it } from "vitest";
import { call, seedTenant } from "../helpers/api";

type KeyList = { object: string; data: { id: string; name: string; permission: string; created_at: string }[] };

describe("/api-keys", () => {
	it("creates a key shown once and lists keys without tokens", async () => {
		const t = await seedTenant();
		const created = await call<{ id: string; token: string }>("POST", "/api-keys", {
			key: t.key,
			body: { name: "ci", permission: "sending_access" },
		});
		expect(created.status).toBe(201);
		expect(Object.keys(created.body).sort()).toEqual(["id", "token"]);
		const list = await call<KeyList>("GET", "/api-keys", { key: t.key });
		expect(list.body.object).toBe("list");
		expect(list.body.data.map((k) => k.name).sort()).toEqual(["ci", "test"]);
		expect(JSON.stringify(list.body)).not.toContain(created.body.token);
		expect(list.body.data.find((k) => k.name === "ci")?.permission).toBe("sending_access");
	});

	it("does not show or revoke another tenant's keys", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		const list = await call<KeyList>("GET", "/api-keys", { key: b.key });
		expect(list.body.data.map((k) => k.id)).not.toContain(a.keyId);
		const res = await call<{ name: string }>("DELETE", `/api-keys/${a.keyId}`, { key: b.key });
		expect(res.status).toBe(404);
		expect(res.body.name).toBe("not_found");
		expect((await call("GET", "/emails", { key: a.key })).status).toBe(200);
	});

	it("rejects a key without a name or with an unknown permission", async () => {
		const t = await seedTenant();
		expect((await call("POST", "/api-keys", { key: t.key, body: {} })).status).toBe(422);
		expect((await call("POST", "/api-keys", { key: t.key, body: { name: "x", permission: "admin" } })).status).toBe(422);
		const list = await call<KeyList>("GET", "/api-keys", { key: t.key });
		expect(list.body.data).toHaveLength(1);
	});
});
