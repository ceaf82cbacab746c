/** `/suppressions`: the tenant's do-not-send list. A send to a listed address is refused with 422. */
import { createRoute, z } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import type { SuppressionRow } from "../db/schema";
import { deleteSuppression, listSuppressions, upsertSuppression } from "../db/suppressions";
import { ApiError } from "../errors";
import { iso } from "../lib/time";
import { requireFullAccess } from "../middleware/auth";
import { Deleted, ListQuery, SuppressionCreate, SuppressionList, SuppressionObject } from "../schemas/admin";
import { commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const suppressionRoutes = createRouter();

const toSuppressionObject = (row: SuppressionRow) => ({
	object: "suppression" as const,
	email: row.email,
	reason: row.reason,
	source: row.source,
	created_at: iso(row.createdAt),
});

suppressionRoutes.openapi(
	createRoute({
		method: "get",
		path: "/suppressions",
		summary: "List suppressed addresses, alphabetically",
		tags: ["Suppressions"],
		middleware: [requireFullAccess] as const,
		request: { query: ListQuery },
		responses: {
			200: jsonResponse(SuppressionList, "A page of suppressions; `after` is the last email of the previous page"),
			...commonErrors,
		},
	}),
	async (c) => {
		const { limit, after } = c.req.valid("query");
		const { rows, hasMore } = await listSuppressions(getDb(c.env.DB), c.get("auth").tenant.id, limit, after);
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toSuppressionObject) }, 200);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "post",
		path: "/suppressions",
		summary: "Suppress an address",
		tags: ["Suppressions"],
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(SuppressionCreate) },
		responses: { 200: jsonResponse(SuppressionObject, "The suppression"), ...commonErrors },
	}),
	async (c) => {
		const { email, reason } = c.req.valid("json");
		const row = await upsertSuppression(getDb(c.env.DB), {
			tenantId: c.get("auth").tenant.id,
			email,
			reason,
			source: "api",
			createdAt: Date.now(),
		});
		return c.json(toSuppressionObject(row), 200);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/suppressions/{email}",
		summary: "Remove an address from the suppression list",
		tags: ["Suppressions"],
		middleware: [requireFullAccess] as const,
		request: {
			params: z.object({
				email: z
					.string()
					.max(320)
					.openapi({ param: { name: "email", in: "path" } }),
			}),
		},
		responses: { 200: jsonResponse(Deleted, "Removed"), ...commonErrors },
	}),
	async (c) => {
		const { email } = c.req.valid("param");
		const removed = await deleteSuppression(getDb(c.env.DB), c.get("auth").tenant.id, email);
		if (!removed) throw new ApiError("not_found", "Suppression not found");
		return c.json({ object: "suppression", id: email.toLowerCase(), deleted: true as const }, 200);
	},
);
