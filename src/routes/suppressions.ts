/**
 * `/suppressions`: the tenant's do-not-send list, in Resend's shapes (plus Mailroom's `reason` and `source`). A send to
 * a listed address is refused with 422. A suppression's id is its lower-cased address.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import type { SuppressionRow } from "../db/schema";
import {
	deleteSuppression,
	deleteSuppressions,
	findSuppression,
	listSuppressions,
	originOf,
	SUPPRESSION_ORIGINS,
	upsertSuppression,
	upsertSuppressions,
} from "../db/suppressions";
import { ApiError } from "../errors";
import { iso } from "../lib/time";
import { requireFullAccess } from "../middleware/auth";
import { Deleted, ListQuery, SuppressionCreate, SuppressionList, SuppressionObject } from "../schemas/admin";
import { commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const suppressionRoutes = createRouter();

const tags = ["Suppressions"];

const toSuppressionObject = (row: SuppressionRow) => {
	const { origin, sourceId } = originOf(row.source);
	return {
		object: "suppression" as const,
		id: row.email,
		email: row.email,
		origin,
		source_id: sourceId,
		reason: row.reason,
		source: row.source,
		created_at: iso(row.createdAt),
	};
};

const Address = z.email().max(254);
const BatchAdd = z.object({ emails: z.array(Address).min(1).max(100) }).openapi("BatchAddSuppressionsOptions");
const BatchRemove = z
	.object({ emails: z.array(z.string().max(320)).min(1).max(100).optional(), ids: z.array(z.string().max(320)).min(1).max(100).optional() })
	.refine((v) => (v.emails === undefined) !== (v.ids === undefined), { error: "Give either emails or ids (the same thing here), not both" })
	.openapi("BatchRemoveSuppressionsOptions");
const SuppressionRef = z.object({ object: z.literal("suppression"), id: z.string() });
const SuppressionParam = z.object({
	suppression: z
		.string()
		.max(320)
		.openapi({ param: { name: "suppression", in: "path" }, description: "The suppression's id or its address (the same thing here)" }),
});

suppressionRoutes.openapi(
	createRoute({
		method: "get",
		path: "/suppressions",
		summary: "List suppressed addresses, alphabetically",
		tags,
		middleware: [requireFullAccess] as const,
		request: { query: ListQuery.extend({ origin: z.enum(SUPPRESSION_ORIGINS).optional() }) },
		responses: {
			200: jsonResponse(SuppressionList, "A page of suppressions; `after` is the last email of the previous page"),
			...commonErrors,
		},
	}),
	async (c) => {
		const { limit, after, origin } = c.req.valid("query");
		const { rows, hasMore } = await listSuppressions(getDb(c.env.DB), c.get("auth").tenant.id, limit, after, origin);
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toSuppressionObject) }, 200);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "post",
		path: "/suppressions",
		summary: "Suppress an address",
		tags,
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(SuppressionCreate) },
		responses: { 201: jsonResponse(SuppressionObject, "The suppression"), ...commonErrors },
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
		return c.json(toSuppressionObject(row), 201);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "post",
		path: "/suppressions/batch/add",
		summary: "Suppress up to 100 addresses at once",
		tags,
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(BatchAdd) },
		responses: { 201: jsonResponse(z.object({ data: z.array(SuppressionRef) }), "The suppressions"), ...commonErrors },
	}),
	async (c) => {
		const tenantId = c.get("auth").tenant.id;
		const now = Date.now();
		const emails = [...new Set(c.req.valid("json").emails.map((e) => e.toLowerCase()))];
		const rows = await upsertSuppressions(
			getDb(c.env.DB),
			emails.map((email) => ({ tenantId, email, reason: "manual", source: "api", createdAt: now })),
		);
		return c.json({ data: rows.map((r) => ({ object: "suppression" as const, id: r.email })) }, 201);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "post",
		path: "/suppressions/batch/remove",
		summary: "Remove up to 100 addresses from the list at once",
		tags,
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(BatchRemove) },
		responses: {
			200: jsonResponse(
				z.object({ data: z.array(SuppressionRef.extend({ deleted: z.boolean() })) }),
				"Each address given; `deleted: false` for one that was not on the list",
			),
			...commonErrors,
		},
	}),
	async (c) => {
		const body = c.req.valid("json");
		const given = [...new Set((body.emails ?? body.ids ?? []).map((e) => e.toLowerCase()))];
		const removed = new Set(await deleteSuppressions(getDb(c.env.DB), c.get("auth").tenant.id, given));
		return c.json({ data: given.map((id) => ({ object: "suppression" as const, id, deleted: removed.has(id) })) }, 200);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "get",
		path: "/suppressions/{suppression}",
		summary: "Retrieve a suppression by id or address",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: SuppressionParam },
		responses: { 200: jsonResponse(SuppressionObject, "The suppression"), ...commonErrors },
	}),
	async (c) => {
		const row = await findSuppression(getDb(c.env.DB), c.get("auth").tenant.id, c.req.valid("param").suppression);
		if (!row) throw new ApiError("not_found", "Suppression not found");
		return c.json(toSuppressionObject(row), 200);
	},
);

suppressionRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/suppressions/{suppression}",
		summary: "Remove an address from the suppression list",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: SuppressionParam },
		responses: { 200: jsonResponse(Deleted, "Removed"), ...commonErrors },
	}),
	async (c) => {
		const email = c.req.valid("param").suppression;
		const removed = await deleteSuppression(getDb(c.env.DB), c.get("auth").tenant.id, email);
		if (!removed) throw new ApiError("not_found", "Suppression not found");
		return c.json({ object: "suppression", id: email.toLowerCase(), deleted: true as const }, 200);
	},
);
