/**
 * The isolate's memory of API keys (src/services/auth-cache.ts): what it spares and the bound it keeps. "Another
 * isolate" is played by writing D1 directly, as a request served elsewhere would.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AUTH_CACHE_MS } from "../../src/config";
import { call, email, seedTenant } from "../helpers/api";
import { verifiedDomain } from "../helpers/dns";

type ErrorBody = { statusCode: number; name: string; message: string };

afterEach(() => vi.restoreAllMocks());

/** Moves this isolate's clock forward (the cache reads Date.now). */
function later(ms: number): void {
	const now = Date.now();
	vi.spyOn(Date, "now").mockReturnValue(now + ms);
}

describe("the isolate's API key cache", () => {
	it("spares the key lookup on the requests after the first", async () => {
		const t = await seedTenant();
		const prepare = vi.spyOn(env.DB, "prepare");
		await call("GET", "/emails", { key: t.key });
		const lookups = () => prepare.mock.calls.filter(([query]) => /from "api_keys"/i.test(query)).length;
		expect(lookups()).toBe(1);
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		expect(lookups()).toBe(1);
	});

	it("stops a key revoked through another isolate within AUTH_CACHE_MS", async () => {
		const t = await seedTenant();
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), t.keyId).run();
		later(AUTH_CACHE_MS + 1);
		const res = await call<ErrorBody>("GET", "/emails", { key: t.key });
		expect(res.status).toBe(403);
		expect(res.body.name).toBe("invalid_api_key");
	});

	it("stops a key of a tenant deleted through another isolate within AUTH_CACHE_MS", async () => {
		const t = await seedTenant();
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		await env.DB.prepare("UPDATE tenants SET deleted_at = ? WHERE id = ?").bind(Date.now(), t.tenantId).run();
		later(AUTH_CACHE_MS + 1);
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(403);
	});

	it("stops a key revoked through this isolate at once", async () => {
		const t = await seedTenant();
		const other = await call<{ id: string; token: string }>("POST", "/api-keys", { key: t.key, body: { name: "other" } });
		expect((await call("GET", "/emails", { key: other.body.token })).status).toBe(200);
		await call("DELETE", `/api-keys/${other.body.id}`, { key: t.key });
		expect((await call("GET", "/emails", { key: other.body.token })).status).toBe(403);
	});

	it("applies a tenant's new limits through this isolate at once", async () => {
		const t = await seedTenant();
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		const patched = await call("PATCH", `/admin/tenants/${t.tenantId}`, {
			key: "test-admin-token-0123456789abcdef",
			body: { allowed_from_domains: ["elsewhere.example"] },
		});
		expect(patched.status).toBe(200);
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t) });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_from_address");
	});

	it("refuses a domain deleted through this isolate at once", async () => {
		const t = await seedTenant({ allowed_from_domains: [] });
		const name = `gone-${crypto.randomUUID().slice(0, 8)}.com`;
		const domain = await verifiedDomain(t, name);
		expect((await call("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}` }) })).status).toBe(200);
		expect((await call("DELETE", `/domains/${domain.id}`, { key: t.key })).status).toBe(200);
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}` }) });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_from_address");
	});

	it("applies a key's new permission through this isolate at once", async () => {
		const t = await seedTenant();
		const other = await call<{ id: string; token: string }>("POST", "/api-keys", { key: t.key, body: { name: "narrowed" } });
		expect((await call("GET", "/emails", { key: other.body.token })).status).toBe(200);
		const patched = await call("PATCH", `/api-keys/${other.body.id}`, { key: t.key, body: { permission: "sending_access" } });
		expect(patched.status).toBe(200);
		const res = await call<ErrorBody>("GET", "/emails", { key: other.body.token });
		expect(res.status).toBe(401);
		expect(res.body.name).toBe("restricted_api_key");
	});

	it("sends from a domain verified through another isolate without waiting for the cache", async () => {
		const t = await seedTenant();
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		const name = `fresh-${crypto.randomUUID().slice(0, 8)}.com`;
		const added = await call<{ id: string }>("POST", "/domains", { key: t.key, body: { name } });
		expect(added.status).toBe(201);
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		await env.DB.prepare("UPDATE domains SET status = 'verified', verified_at = ? WHERE id = ?").bind(Date.now(), added.body.id).run();
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}` }) });
		expect(res.status).toBe(200);
	});

	it("answers 403 when the fresh look at a refused sender finds the key revoked elsewhere, and writes nothing", async () => {
		const t = await seedTenant();
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(200);
		await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), t.keyId).run();
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { from: "a@not-verified-here.com" }) });
		expect(res.status).toBe(403);
		expect(res.body.name).toBe("invalid_api_key");
		expect((await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE tenant_id = ?").bind(t.tenantId).first<number>("n")) ?? 0).toBe(0);
	});

	it("refuses a domain that is still not verified after looking again", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { from: "a@never-verified.com" }) });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_from_address");
	});
});
