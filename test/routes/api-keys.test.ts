import { describe, expect, it } from "vitest";
import { call, email, seedTenant } from "../helpers/api";
import { verifiedDomain } from "../helpers/dns";

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

describe("PATCH /api-keys/:id", () => {
	it("renames a key and changes its permission, effective on its next request", async () => {
		const t = await seedTenant();
		const created = await call<{ id: string; token: string }>("POST", "/api-keys", { key: t.key, body: { name: "ci" } });
		const res = await call("PATCH", `/api-keys/${created.body.id}`, { key: t.key, body: { name: "deploy", permission: "sending_access" } });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "api_key", id: created.body.id });
		const list = await call<KeyList>("GET", "/api-keys", { key: t.key });
		expect(list.body.data.find((k) => k.id === created.body.id)).toMatchObject({ name: "deploy", permission: "sending_access" });
		const restricted = await call<{ name: string }>("GET", "/emails", { key: created.body.token });
		expect(restricted.status).toBe(401);
		expect(restricted.body.name).toBe("restricted_api_key");
	});

	it("answers 404 for another tenant's key or a revoked one, and changes nothing", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		expect((await call("PATCH", `/api-keys/${a.keyId}`, { key: b.key, body: { name: "mine" } })).status).toBe(404);
		const revoked = await call<{ id: string }>("POST", "/api-keys", { key: a.key, body: { name: "old" } });
		await call("DELETE", `/api-keys/${revoked.body.id}`, { key: a.key });
		expect((await call("PATCH", `/api-keys/${revoked.body.id}`, { key: a.key, body: { name: "x" } })).status).toBe(404);
		const list = await call<KeyList>("GET", "/api-keys", { key: a.key });
		expect(list.body.data.map((k) => k.name)).toEqual(["test"]);
	});

	it("refuses an empty change or an unknown permission with 422", async () => {
		const t = await seedTenant();
		expect((await call("PATCH", `/api-keys/${t.keyId}`, { key: t.key, body: {} })).status).toBe(422);
		expect((await call("PATCH", `/api-keys/${t.keyId}`, { key: t.key, body: { permission: "root" } })).status).toBe(422);
	});
});

describe("keys restricted to one domain (domain_id)", () => {
	type ErrorBody = { name: string; message: string };

	async function restrictedKey() {
		const t = await seedTenant({ allowed_from_domains: [] });
		const own = await verifiedDomain(t, `own-${crypto.randomUUID().slice(0, 8)}.example.com`);
		const other = await verifiedDomain(t, `other-${crypto.randomUUID().slice(0, 8)}.example.com`);
		const key = await call<{ id: string; token: string }>("POST", "/api-keys", {
			key: t.key,
			body: { name: "newsletter", permission: "sending_access", domain_id: own.id },
		});
		expect(key.status).toBe(201);
		return { t, own, other, key: key.body };
	}

	it("sends from its domain and subdomains only", async () => {
		const { t, own, other, key } = await restrictedKey();
		expect((await call("POST", "/emails", { key: key.token, body: email(t, { from: `a@${own.name}` }) })).status).toBe(200);
		expect((await call("POST", "/emails", { key: key.token, body: email(t, { from: `a@news.${own.name}` }) })).status).toBe(200);
		const refused = await call<ErrorBody>("POST", "/emails", { key: key.token, body: email(t, { from: `a@${other.name}` }) });
		expect(refused.status).toBe(422);
		expect(refused.body.name).toBe("invalid_from_address");
		expect(refused.body.message).toContain(`may only send from ${own.name}`);
		// The tenant's unrestricted key still sends from both.
		expect((await call("POST", "/emails", { key: t.key, body: email(t, { from: `a@${other.name}` }) })).status).toBe(200);
	});

	it("lists its domain_id, and sends nothing once the domain is deleted", async () => {
		const { t, own, key } = await restrictedKey();
		const list = await call<{ data: { id: string; domain_id: string | null }[] }>("GET", "/api-keys", { key: t.key });
		expect(list.body.data.find((k) => k.id === key.id)?.domain_id).toBe(own.id);
		await call("DELETE", `/domains/${own.id}`, { key: t.key });
		const refused = await call<ErrorBody>("POST", "/emails", { key: key.token, body: email(t, { from: `a@${own.name}` }) });
		expect(refused.body.message).toContain("which is not verified");
	});

	it("is lifted with domain_id null, and dropped when the key becomes full_access", async () => {
		const { t, other, key } = await restrictedKey();
		await call("PATCH", `/api-keys/${key.id}`, { key: t.key, body: { domain_id: null } });
		expect((await call("POST", "/emails", { key: key.token, body: email(t, { from: `a@${other.name}` }) })).status).toBe(200);
		const again = await restrictedKey();
		await call("PATCH", `/api-keys/${again.key.id}`, { key: again.t.key, body: { permission: "full_access" } });
		const list = await call<{ data: { id: string; domain_id: string | null }[] }>("GET", "/api-keys", { key: again.t.key });
		expect(list.body.data.find((k) => k.id === again.key.id)?.domain_id).toBeNull();
	});

	it.each([
		["a full_access key", (id: string) => ({ name: "x", permission: "full_access", domain_id: id }), "cannot be restricted"],
		["another tenant's domain", () => ({ name: "x", permission: "sending_access", domain_id: "OTHER" }), "is not a domain of this account"],
		["an id that is no domain", () => ({ name: "x", permission: "sending_access", domain_id: "nope" }), "is not a domain of this account"],
	])("refuses %s with 422 and creates no key", async (_label, body, message) => {
		const t = await seedTenant({ allowed_from_domains: [] });
		const mine = await verifiedDomain(t, `m-${crypto.randomUUID().slice(0, 8)}.example.com`);
		const stranger = await seedTenant({ allowed_from_domains: [] });
		const theirs = await verifiedDomain(stranger, `s-${crypto.randomUUID().slice(0, 8)}.example.com`);
		const payload = body(mine.id);
		if (payload.domain_id === "OTHER") payload.domain_id = theirs.id;
		const res = await call<ErrorBody>("POST", "/api-keys", { key: t.key, body: payload });
		expect(res.status).toBe(422);
		expect(res.body.message).toContain(message);
		expect((await call<KeyList>("GET", "/api-keys", { key: t.key })).body.data).toHaveLength(1);
	});
});
