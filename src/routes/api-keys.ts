/** Self-service `/api-keys` for the calling key's tenant (Resend's API keys endpoints). */
import { createRoute, z } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { listApiKeys } from "../db/tenants";
import { ApiError } from "../errors";
import { requireFullAccess } from "../middleware/auth";
import { ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyUpdate, Deleted, IdParam } from "../schemas/admin";
import { createApiKey, revokeApiKey, toApiKeyObject, updateApiKey } from "../services/api-keys";
import { commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const apiKeyRoutes = createRouter();

apiKeyRoutes.openapi(
	createRoute({
		method: "post",
		path: "/api-keys",
		summary: "Create an API key (the token is shown only in this response)",
		tags: ["API keys"],
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(ApiKeyCreate) },
		responses: { 201: jsonResponse(ApiKeyCreated, "The new key"), ...commonErrors },
	}),
	async (c) => {
		const created = await createApiKey(getDb(c.env.DB), c.get("auth").tenant.id, c.req.valid("json"), Date.now());
		return c.json(created, 201);
	},
);

apiKeyRoutes.openapi(
	createRoute({
		method: "get",
		path: "/api-keys",
		summary: "List API keys (never their tokens)",
		tags: ["API keys"],
		middleware: [requireFullAccess] as const,
		responses: { 200: jsonResponse(ApiKeyList, "Live keys, newest first"), ...commonErrors },
	}),
	async (c) => {
		const rows = await listApiKeys(getDb(c.env.DB), c.get("auth").tenant.id);
		return c.json({ object: "list" as const, has_more: false, data: rows.map(toApiKeyObject) }, 200);
	},
);

apiKeyRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/api-keys/{id}",
		summary: "Rename an API key, or change its permission, domain restriction or default priority",
		tags: ["API keys"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam, body: jsonBody(ApiKeyUpdate) },
		responses: {
			200: jsonResponse(z.object({ object: z.literal("api_key"), id: z.string() }).openapi("UpdateApiKeyResponse"), "Updated"),
			...commonErrors,
		},
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const row = await updateApiKey(getDb(c.env.DB), c.get("auth").tenant.id, id, c.req.valid("json"));
		if (!row) throw new ApiError("not_found", "API key not found");
		return c.json({ object: "api_key" as const, id: row.id }, 200);
	},
);

apiKeyRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/api-keys/{id}",
		summary: "Revoke an API key",
		tags: ["API keys"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam },
		responses: { 200: jsonResponse(Deleted, "Revoked"), ...commonErrors },
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const revoked = await revokeApiKey(getDb(c.env.DB), id, Date.now(), c.get("auth").tenant.id);
		if (!revoked) throw new ApiError("not_found", "API key not found");
		return c.json({ object: "api_key", id, deleted: true as const }, 200);
	},
);
