import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, seedTenant } from "../helpers/api";
import { createWebhook } from "../helpers/webhooks";

type Tenant = Record<string, unknown> & { id: string };
type ErrorBody = { statusCode: number; name: string; message: string };
const admin = (method: string, path: string, body?: unknown) => call<Tenant & ErrorBody>(method, path, { key: ADMIN_TOKEN, body });

describe("/admin/tenants", () => {
	it("creates a tenant with defaults and returns it with 201", async () => {
		const res = await admin("POST", "/admin/tenants", { name: "Acme", allowed_from_domains: ["Acme.COM"] });
		expect(res.status).toBe(201);
		expect(res.body).toEqual({
			object: "tenant",
			id: expect.any(String),
			name: "Acme",
			allowed_from_domains: ["acme.com"],
			api_rate: { per_second: 10, burst: 20 },
			send_rate: { per_second: 10, burst: 100 },
			daily_quota: 10_000,
			providers: null,
			created_at: expect.any(String),
			updated_at: expect.any(String),
		});
	});

	it("stores explicit limits and a provider override, and reads them back", async () => {
		const created = await admin("POST", "/admin/tenants", {
			name: "Big",
			allowed_from_domains: ["big.example"],
			api_rate: { per_second: 50, burst: 100 },
			send_rate: { per_second: 20, burst: 40 },
			daily_quota: 500,
			providers: ["resend", "postmark"],
		});
		const read = await admin("GET", `/admin/tenants/${created.body.id}`);
		expect(read.body).toMatchObject({ api_rate: { per_second: 50, burst: 100 }, daily_quota: 500, providers: ["resend", "postmark"] });
	});

	it("changes only the fields given", async () => {
		const created = await admin("POST", "/admin/tenants", { name: "Patch", allowed_from_domains: ["p.example"] });
		const patched = await admin("PATCH", `/admin/tenants/${created.body.id}`, { daily_quota: 7 });
		expect(patched.status).toBe(200);
		expect(patched.body).toMatchObject({ name: "Patch", daily_quota: 7, allowed_from_domains: ["p.example"] });
	});

	it("creates a tenant without allowed_from_domains (it verifies its own through /domains)", async () => {
		const created = await admin("POST", "/admin/tenants", { name: "Self-service" });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ allowed_from_domains: [] });
	});

	it("lists tenants newest first with pagination", async () => {
		for (let i = 0; i < 3; i++) await admin("POST", "/admin/tenants", { name: `L${i}`, allowed_from_domains: ["l.example"] });
		const page = await call<{ object: string; has_more: boolean; data: Tenant[] }>("GET", "/admin/tenants?limit=2", { key: ADMIN_TOKEN });
		expect(page.body.object).toBe("list");
		expect(page.body.data).toHaveLength(2);
		expect(page.body.has_more).toBe(true);
	});

	it("answers 404 for unknown tenant ids", async () => {
		for (const id of ["00000000-0000-4000-8000-000000000000", "nope"]) {
			expect((await admin("GET", `/admin/tenants/${id}`)).status).toBe(404);
			expect((await admin("PATCH", `/admin/tenants/${id}`, { name: "x" })).status).toBe(404);
			const key = await admin("POST", `/admin/tenants/${id}/api-keys`, { name: "k" });
			expect(key.status).toBe(404);
			expect(key.body.name).toBe("not_found");
		}
		const keys = await env.DB.prepare("SELECT count(*) AS n FROM api_keys WHERE tenant_id = 'nope'").first<number>("n");
		expect(keys).toBe(0);
	});

	it.each([
		[{ allowed_from_domains: ["a.example"] }, "missing_required_field"],
		[{ name: "x", allowed_from_domains: "a.example" }, "validation_error"],
		[{ name: "x", allowed_from_domains: ["not a domain"] }, "validation_error"],
		[{ name: "x", allowed_from_domains: ["a.example"], providers: ["carrier-pigeon"] }, "validation_error"],
		[{ name: "x", allowed_from_domains: ["a.example"], api_rate: { per_second: -1, burst: 1 } }, "validation_error"],
		[{ name: "x", allowed_from_domains: ["a.example"], daily_quota: "lots" }, "validation_error"],
	])("rejects %j with 422 and creates nothing", async (body, name) => {
		const before = await env.DB.prepare("SELECT count(*) AS n FROM tenants").first<number>("n");
		const res = await admin("POST", "/admin/tenants", body);
		expect(res.status).toBe(422);
		expect(res.body.name).toBe(name);
		expect(await env.DB.prepare("SELECT count(*) AS n FROM tenants").first<number>("n")).toBe(before);
	});
});

describe("/admin/api-keys", () => {
	it("lists a tenant's live keys without their tokens", async () => {
		const tenant = await admin("POST", "/admin/tenants", { name: "Listed", allowed_from_domains: ["l.example"] });
		const mint = (name: string) =>
			call<{ id: string; token: string }>("POST", `/admin/tenants/${tenant.body.id}/api-keys`, {
				key: ADMIN_TOKEN,
				body: { name, permission: "sending_access" },
			});
		const kept = await mint("kept");
		const revoked = await mint("revoked");
		await admin("DELETE", `/admin/api-keys/${revoked.body.id}`);
		const list = await call<{ object: string; data: Record<string, unknown>[] }>("GET", `/admin/tenants/${tenant.body.id}/api-keys`, {
			key: ADMIN_TOKEN,
		});
		expect(list.status).toBe(200);
		expect(list.body.data).toEqual([
			{ id: kept.body.id, name: "kept", permission: "sending_access", domain_id: null, priority: null, created_at: expect.any(String) },
		]);
		expect(JSON.stringify(list.body)).not.toContain(kept.body.token);
	});

	it("answers 404 for the keys of an unknown tenant and refuses tenant keys", async () => {
		expect((await admin("GET", `/admin/tenants/${crypto.randomUUID()}/api-keys`)).status).toBe(404);
		const tenant = await admin("POST", "/admin/tenants", { name: "NoPeek", allowed_from_domains: ["n.example"] });
		const key = await call<{ token: string }>("POST", `/admin/tenants/${tenant.body.id}/api-keys`, {
			key: ADMIN_TOKEN,
			body: { name: "k" },
		});
		const peek = await call<ErrorBody>("GET", `/admin/tenants/${tenant.body.id}/api-keys`, { key: key.body.token });
		expect(peek.status).toBe(403);
		expect(peek.body.name).toBe("invalid_api_key");
	});

	it("mints keys stored only as their SHA-256 hash and revokes them", async () => {
		const tenant = await admin("POST", "/admin/tenants", { name: "Keys", allowed_from_domains: ["k.example"] });
		const key = await call<{ id: string; token: string }>("POST", `/admin/tenants/${tenant.body.id}/api-keys`, {
			key: ADMIN_TOKEN,
			body: { name: "server", permission: "sending_access" },
		});
		expect(key.status).toBe(201);
		expect(key.body.token).toMatch(/^mr_[A-Za-z0-9_-]{43}$/);
		const stored = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(key.body.id).first<Record<string, unknown>>();
		expect(JSON.stringify(stored)).not.toContain(key.body.token);
		const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key.body.token)));
		expect(stored?.key_hash).toBe(Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
		const revoked = await admin("DELETE", `/admin/api-keys/${key.body.id}`);
		expect(revoked.body).toEqual({ object: "api_key", id: key.body.id, deleted: true });
		expect((await admin("DELETE", `/admin/api-keys/${key.body.id}`)).status).toBe(404);
	});
});

describe("DELETE /admin/tenants/:id", () => {
	it("answers deleted, after which GET, PATCH, key creation and the list no longer know the tenant", async () => {
		const t = await seedTenant();
		const res = await admin("DELETE", `/admin/tenants/${t.tenantId}`);
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "tenant", id: t.tenantId, deleted: true });
		expect((await admin("GET", `/admin/tenants/${t.tenantId}`)).status).toBe(404);
		expect((await admin("PATCH", `/admin/tenants/${t.tenantId}`, { name: "back" })).status).toBe(404);
		expect((await admin("POST", `/admin/tenants/${t.tenantId}/api-keys`, { name: "k" })).status).toBe(404);
		const list = await call<{ data: Tenant[] }>("GET", "/admin/tenants?limit=100", { key: ADMIN_TOKEN });
		expect(list.body.data.map((x) => x.id)).not.toContain(t.tenantId);
	});

	it("revokes the tenant's API keys, and only its own", async () => {
		const gone = await seedTenant();
		const kept = await seedTenant();
		await admin("DELETE", `/admin/tenants/${gone.tenantId}`);
		const refused = await call<ErrorBody>("GET", "/api-keys", { key: gone.key });
		expect(refused.status).toBe(403);
		expect(refused.body.name).toBe("invalid_api_key");
		expect((await call("GET", "/api-keys", { key: kept.key })).status).toBe(200);
		const live = await env.DB.prepare("SELECT count(*) AS n FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL")
			.bind(gone.tenantId)
			.first<number>("n");
		expect(live).toBe(0);
	});

	it("deletes the tenant's webhook endpoints and cancels their pending deliveries", async () => {
		const t = await seedTenant();
		const hook = await createWebhook(t, ["email.delivered"]);
		const now = Date.now();
		await env.DB.prepare(
			"INSERT INTO webhook_deliveries (id, webhook_id, tenant_id, email_id, event_type, event_at, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, 'email.delivered', ?, 'pending', 0, ?, ?)",
		)
			.bind(crypto.randomUUID(), hook.id, t.tenantId, crypto.randomUUID(), now, now, now)
			.run();
		await admin("DELETE", `/admin/tenants/${t.tenantId}`);
		const endpoint = await env.DB.prepare("SELECT deleted_at FROM webhooks WHERE id = ?").bind(hook.id).first<number | null>("deleted_at");
		expect(endpoint).not.toBeNull();
		const statuses = await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE webhook_id = ?")
			.bind(hook.id)
			.all<{ status: string }>();
		expect(statuses.results.map((r) => r.status)).toEqual(["canceled"]);
	});

	it("answers 404 for an unknown or already deleted tenant and changes nothing", async () => {
		const t = await seedTenant();
		await admin("DELETE", `/admin/tenants/${t.tenantId}`);
		const before = await env.DB.prepare("SELECT deleted_at, updated_at FROM tenants WHERE id = ?").bind(t.tenantId).first();
		for (const id of [t.tenantId, "00000000-0000-4000-8000-000000000000", "nope"]) {
			const res = await admin("DELETE", `/admin/tenants/${id}`);
			expect(res.status).toBe(404);
			expect(res.body.name).toBe("not_found");
		}
		expect(await env.DB.prepare("SELECT deleted_at, updated_at FROM tenants WHERE id = ?").bind(t.tenantId).first()).toEqual(before);
	});

	it("requires the admin token, and a tenant's own key cannot delete it", async () => {
		const t = await seedTenant();
		expect((await call("DELETE", `/admin/tenants/${t.tenantId}`)).status).toBe(401);
		expect((await call("DELETE", `/admin/tenants/${t.tenantId}`, { key: t.key })).status).toBe(403);
		expect((await admin("GET", `/admin/tenants/${t.tenantId}`)).status).toBe(200);
	});
});
