/** `/admin/*`: tenants and their keys, for the operator (docs/architecture.md, "Public API"). */
import { createRoute } from "@hono/zod-openapi";
import { getDb, pageOf } from "../db/client";
import { getTenant, listApiKeys, listTenants } from "../db/tenants";
import { ApiError } from "../errors";
import { benchMetricsEnabled, benchSnapshot } from "../lib/bench-metrics";
import { isUuid } from "../lib/ids";
import { requireAdmin } from "../middleware/admin";
import {
	ApiKeyCreate,
	ApiKeyCreated,
	ApiKeyList,
	Deleted,
	IdParam,
	ListQuery,
	TenantCreate,
	TenantList,
	TenantObject,
	TenantUpdate,
} from "../schemas/admin";
import { createApiKey, revokeApiKey, toApiKeyObject } from "../services/api-keys";
import { createTenant, deleteTenant, toTenantObject, updateTenant } from "../services/tenants";
import { commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const adminRoutes = createRouter();
adminRoutes.use("/admin/*", requireAdmin);

const tags = ["Admin"];

function tenantIdOf(id: string): string {
	if (!isUuid(id)) throw new ApiError("not_found", "Tenant not found");
	return id;
}

adminRoutes.openapi(
	createRoute({
		method: "post",
		path: "/admin/tenants",
		summary: "Create a tenant",
		tags,
		request: { body: jsonBody(TenantCreate) },
		responses: { 201: jsonResponse(TenantObject, "The tenant"), ...commonErrors },
	}),
	async (c) => c.json(toTenantObject(await createTenant(getDb(c.env.DB), c.req.valid("json"), Date.now())), 201),
);

adminRoutes.openapi(
	createRoute({
		method: "get",
		path: "/admin/tenants",
		summary: "List tenants, newest first",
		tags,
		request: { query: ListQuery },
		responses: { 200: jsonResponse(TenantList, "A page of tenants"), ...commonErrors },
	}),
	async (c) => {
		const { limit, after } = c.req.valid("query");
		const rows = await listTenants(getDb(c.env.DB), limit + 1, after);
		const page = pageOf(rows, limit, false);
		return c.json({ object: "list" as const, has_more: page.hasMore, data: page.rows.map(toTenantObject) }, 200);
	},
);

adminRoutes.openapi(
	createRoute({
		method: "get",
		path: "/admin/tenants/{id}",
		summary: "Retrieve a tenant",
		tags,
		request: { params: IdParam },
		responses: { 200: jsonResponse(TenantObject, "The tenant"), ...commonErrors },
	}),
	async (c) => {
		const row = await getTenant(getDb(c.env.DB), tenantIdOf(c.req.valid("param").id));
		if (!row) throw new ApiError("not_found", "Tenant not found");
		return c.json(toTenantObject(row), 200);
	},
);

adminRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/admin/tenants/{id}",
		summary: "Change a tenant's settings",
		tags,
		request: { params: IdParam, body: jsonBody(TenantUpdate) },
		responses: { 200: jsonResponse(TenantObject, "The updated tenant"), ...commonErrors },
	}),
	async (c) => {
		const row = await updateTenant(getDb(c.env.DB), tenantIdOf(c.req.valid("param").id), c.req.valid("json"), Date.now());
		if (!row) throw new ApiError("not_found", "Tenant not found");
		return c.json(toTenantObject(row), 200);
	},
);

adminRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/admin/tenants/{id}",
		summary:
			"Delete a tenant: it leaves the admin API, its API keys are revoked and its webhook endpoints deleted; emails it already accepted are still delivered",
		tags,
		request: { params: IdParam },
		responses: { 200: jsonResponse(Deleted, "Deleted"), ...commonErrors },
	}),
	async (c) => {
		const id = tenantIdOf(c.req.valid("param").id);
		if (!(await deleteTenant(getDb(c.env.DB), id, Date.now()))) throw new ApiError("not_found", "Tenant not found");
		return c.json({ object: "tenant", id, deleted: true as const }, 200);
	},
);

adminRoutes.openapi(
	createRoute({
		method: "post",
		path: "/admin/tenants/{id}/api-keys",
		summary: "Create an API key for a tenant (the token is shown only in this response)",
		tags,
		request: { params: IdParam, body: jsonBody(ApiKeyCreate) },
		responses: { 201: jsonResponse(ApiKeyCreated, "The new key"), ...commonErrors },
	}),
	async (c) => {
		const db = getDb(c.env.DB);
		const tenant = await getTenant(db, tenantIdOf(c.req.valid("param").id));
		if (!tenant) throw new ApiError("not_found", "Tenant not found");
		return c.json(await createApiKey(db, tenant.id, c.req.valid("json"), Date.now()), 201);
	},
);

adminRoutes.openapi(
	createRoute({
		method: "get",
		path: "/admin/tenants/{id}/api-keys",
		summary: "List a tenant's live API keys (never their tokens)",
		tags,
		request: { params: IdParam },
		responses: { 200: jsonResponse(ApiKeyList, "Live keys, newest first"), ...commonErrors },
	}),
	async (c) => {
		const db = getDb(c.env.DB);
		const tenant = await getTenant(db, tenantIdOf(c.req.valid("param").id));
		if (!tenant) throw new ApiError("not_found", "Tenant not found");
		return c.json({ object: "list" as const, has_more: false, data: (await listApiKeys(db, tenant.id)).map(toApiKeyObject) }, 200);
	},
);

adminRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/admin/api-keys/{id}",
		summary: "Revoke any API key",
		tags,
		request: { params: IdParam },
		responses: { 200: jsonResponse(Deleted, "Revoked"), ...commonErrors },
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		if (!(await revokeApiKey(getDb(c.env.DB), id, Date.now()))) throw new ApiError("not_found", "API key not found");
		return c.json({ object: "api_key", id, deleted: true as const }, 200);
	},
);

/** The benchmark's counters (BENCH_METRICS=on only; see lib/bench-metrics.ts). */
adminRoutes.get("/admin/bench-metrics", (c) => {
	if (!benchMetricsEnabled(c.env)) throw new ApiError("not_found", "Benchmark metrics are off (BENCH_METRICS)");
	return c.json({ object: "bench_metrics", phases: benchSnapshot() }, 200);
});
