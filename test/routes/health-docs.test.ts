import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ERROR_NAMES } from "../../src/errors";
import { ADMIN_TOKEN, call, seedTenant } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

describe("health", () => {
	it("GET /health answers without auth", async () => {
		const res = await call("GET", "/health");
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ status: "ok" });
	});

	it("GET /health/ready tells the public only whether it is ready", async () => {
		const res = await call<Record<string, unknown>>("GET", "/health/ready");
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ status: "ready" });
	});

	it("GET /health/ready shows D1 and the configured providers to the admin token", async () => {
		const res = await call<{ status: string; checks: Record<string, unknown> }>("GET", "/health/ready", { key: ADMIN_TOKEN });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({
			status: "ready",
			checks: { d1: { ok: true }, providers: { sandbox: { ready: true, missing: [], circuit: "closed" } } },
		});
	});

	it("GET /health/ready answers 503 when D1 fails, without D1's error text to the public", async () => {
		vi.spyOn(env.DB, "prepare").mockImplementation(() => {
			throw new Error("D1 down at 10.0.0.7");
		});
		const res = await call<Record<string, unknown>>("GET", "/health/ready");
		expect(res.status).toBe(503);
		expect(res.body).toEqual({ status: "not_ready" });
		const admin = await call<{ status: string; checks: { d1: { ok: boolean; error: string } } }>("GET", "/health/ready", {
			key: ADMIN_TOKEN,
		});
		expect(admin.body.checks.d1).toEqual({ ok: false, error: "D1 down at 10.0.0.7" });
	});

	it("GET /health/ready with a wrong token answers like the public", async () => {
		const res = await call<Record<string, unknown>>("GET", "/health/ready", { key: "not-the-admin-token-0123456789" });
		expect(res.body).toEqual({ status: "ready" });
	});
});

describe("OpenAPI and docs", () => {
	it("serves an OpenAPI 3.1 document generated from the schemas", async () => {
		const res = await call<{
			openapi: string;
			paths: Record<string, Record<string, unknown>>;
			components: { schemas: Record<string, unknown> };
		}>("GET", "/openapi.json");
		expect(res.status).toBe(200);
		expect(res.body.openapi).toBe("3.1.0");
		expect(Object.keys(res.body.paths)).toEqual(
			expect.arrayContaining([
				"/emails",
				"/emails/batch",
				"/emails/{id}",
				"/emails/{id}/cancel",
				"/emails/{id}/events",
				"/api-keys",
				"/suppressions",
				"/admin/tenants",
				"/templates",
				"/templates/{id}",
				"/templates/{id}/publish",
				"/templates/{id}/duplicate",
				"/templates/{id}/versions",
				"/templates/{id}/render",
			]),
		);
		expect(Object.keys(res.body.paths["/emails/{id}"] ?? {}).sort()).toEqual(["get", "patch"]);
		expect(Object.keys(res.body.paths["/templates/{id}"] ?? {}).sort()).toEqual(["delete", "get", "patch"]);
		expect(res.body.components.schemas.SendEmailRequest).toBeDefined();
		expect(Object.keys(res.body.components.schemas)).toEqual(
			expect.arrayContaining(["CreateTemplateRequest", "UpdateTemplateOptions", "Template", "TemplateListItem", "EmailTemplateInput"]),
		);
	});

	it("documents the domains, attachments, metrics, usage and webhook routes, and every error name", async () => {
		const res = await call<{
			paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
			components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }> };
		}>("GET", "/openapi.json");
		expect(Object.keys(res.body.paths)).toEqual(
			expect.arrayContaining([
				"/domains",
				"/domains/{id}",
				"/domains/{id}/verify",
				"/emails/{id}/attachments",
				"/emails/{id}/attachments/{attachment_id}",
				"/attachments/{id}/{attachment_id}",
				"/emails/metrics",
				"/usage",
				"/api-keys/{id}",
				"/webhooks/{id}/signing-secret/rotate",
				"/webhooks/{id}/events",
				"/webhooks/{id}/events/{event_id}/replay",
				"/suppressions/{suppression}",
				"/suppressions/batch/add",
				"/suppressions/batch/remove",
			]),
		);
		for (const path of ["/domains", "/api-keys", "/webhooks", "/suppressions", "/suppressions/batch/add"]) {
			expect(Object.keys(res.body.paths[path]?.post?.responses ?? {}), path).toContain("201");
		}
		expect(res.body.components.schemas.Error?.properties?.name?.enum).toEqual([...ERROR_NAMES]);
	});

	it("serves an interactive reference at /docs", async () => {
		const res = await call<string>("GET", "/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("text/html");
		expect(res.body).toContain("/openapi.json");
	});

	it("loads the reference's script from the Worker itself, never a CDN", async () => {
		const res = await call<string>("GET", "/docs");
		const sources = [...res.body.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
		expect(sources).toEqual(["/docs/assets/scalar-api-reference.js"]);
		expect(res.body).not.toMatch(/https?:\/\//);
	});
});

describe("routing errors", () => {
	it("answers 404 not_found for unknown routes", async () => {
		const res = await call("GET", "/nowhere");
		expect(res.status).toBe(404);
		expect(res.body).toEqual({ statusCode: 404, name: "not_found", message: "Route not found" });
	});

	it("answers 405 method_not_allowed for a known path with another method", async () => {
		const t = await seedTenant();
		const res = await call("DELETE", "/emails", { key: t.key });
		expect(res.status).toBe(405);
		expect(res.body).toMatchObject({ statusCode: 405, name: "method_not_allowed" });
		expect((await call("PUT", "/health")).status).toBe(405);
	});

	it("echoes a safe x-request-id", async () => {
		const res = await call("GET", "/health", { headers: { "x-request-id": "req-123" } });
		expect(res.headers.get("x-request-id")).toBe("req-123");
	});
});
