/** Self-service `/api-keys` for the calling key's tenant (Resend's API keys endpoints). */
import { createRoute } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { listApiKeys, revokeApiKey } from "../db/tenants";
import { ApiError } from "../errors";
import { requireFullAccess } from "../middleware/auth";
import { ApiKeyCreate, ApiKeyCreated, ApiKeyList, Deleted, IdParam } from "../schemas/admin";
import { createApiKey, toApiKeyObject } from "../services/api-keys";
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
		responses: { 200: jsonResponse(ApiKeyCreated, "The new key"), ...commonErrors },
	}),
	async (c) => {
		const created = await createApiKey(getDb(c.env.DB), c.get("auth").tenant.id, c.req.valid("json"), Date.now());
		return c.json(created, 200);
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
		return c.json({ object: "list" as const, data: rows.map(toApiKeyObject) }, 200);
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
