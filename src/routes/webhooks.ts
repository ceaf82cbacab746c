/** `/webhooks`: the tenant's webhook endpoints (Resend's shape) and what was delivered to them. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { WEBHOOK_EVENT_TYPES, type WebhookRow, webhookAttempts, webhookDeliveries, webhooks } from "../db/schema";
import { ApiError } from "../errors";
import { newId } from "../lib/ids";
import { iso, isoOrNull } from "../lib/time";
import { urlProblem } from "../lib/url-policy";
import { requireFullAccess } from "../middleware/auth";
import { Deleted, ListQuery } from "../schemas/admin";
import { endpointDeletion } from "../services/webhook-endpoints";
import { newSigningSecret } from "../webhooks/outbound/sign";
import { commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const webhookRoutes = createRouter();

const WebhookCreate = z
	.object({
		endpoint: z.string().min(1).max(2048),
		events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length),
	})
	.openapi("WebhookCreate");

const WebhookObject = z
	.object({
		object: z.literal("webhook"),
		id: z.string(),
		endpoint: z.string(),
		events: z.array(z.string()),
		status: z.enum(["enabled", "disabled"]),
		created_at: z.string(),
	})
	.openapi("Webhook");

const WebhookCreated = z.object({ object: z.literal("webhook"), id: z.string(), signing_secret: z.string() }).openapi("WebhookCreated");

const DeliveryObject = z
	.object({
		object: z.literal("webhook_delivery"),
		id: z.string(),
		event_type: z.string(),
		email_id: z.string(),
		status: z.string(),
		attempts: z.number().int(),
		last_status_code: z.number().int().nullable(),
		last_error: z.string().nullable(),
		created_at: z.string(),
		delivered_at: z.string().nullable(),
		attempt_log: z.array(
			z.object({
				attempt: z.number().int(),
				at: z.string(),
				status_code: z.number().int().nullable(),
				error: z.string().nullable(),
				duration_ms: z.number(),
			}),
		),
	})
	.openapi("WebhookDelivery");

const IdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });

const toWebhookObject = (row: WebhookRow) => ({
	object: "webhook" as const,
	id: row.id,
	endpoint: row.endpoint,
	events: row.events,
	status: row.disabledAt === null ? ("enabled" as const) : ("disabled" as const),
	created_at: iso(row.createdAt),
});

async function findWebhook(env: Env, tenantId: string, id: string): Promise<WebhookRow> {
	const row = await getDb(env.DB).query.webhooks.findFirst({
		where: and(eq(webhooks.id, id), eq(webhooks.tenantId, tenantId), isNull(webhooks.deletedAt)),
	});
	if (!row) throw new ApiError("not_found", "Webhook not found");
	return row;
}

webhookRoutes.openapi(
	createRoute({
		method: "post",
		path: "/webhooks",
		summary: "Create a webhook endpoint (the signing secret is shown only in this response)",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(WebhookCreate) },
		responses: { 200: jsonResponse(WebhookCreated, "The endpoint and its secret"), ...commonErrors },
	}),
	async (c) => {
		const { endpoint, events } = c.req.valid("json");
		const problem = urlProblem(endpoint, { allowInsecure: getConfig(c.env).allowHttpWebhooks });
		if (problem) throw new ApiError("invalid_parameter", `endpoint ${problem}`);
		const row = {
			id: newId(),
			tenantId: c.get("auth").tenant.id,
			endpoint,
			events: [...new Set(events)],
			signingSecret: newSigningSecret(),
			createdAt: Date.now(),
		};
		await getDb(c.env.DB).insert(webhooks).values(row);
		return c.json({ object: "webhook" as const, id: row.id, signing_secret: row.signingSecret }, 200);
	},
);

webhookRoutes.openapi(
	createRoute({
		method: "get",
		path: "/webhooks",
		summary: "List webhook endpoints",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		responses: {
			200: jsonResponse(z.object({ object: z.literal("list"), data: z.array(WebhookObject) }), "Endpoints, newest first"),
			...commonErrors,
		},
	}),
	async (c) => {
		const rows = await getDb(c.env.DB)
			.select()
			.from(webhooks)
			.where(and(eq(webhooks.tenantId, c.get("auth").tenant.id), isNull(webhooks.deletedAt)))
			.orderBy(desc(webhooks.createdAt));
		return c.json({ object: "list" as const, data: rows.map(toWebhookObject) }, 200);
	},
);

webhookRoutes.openapi(
	createRoute({
		method: "get",
		path: "/webhooks/{id}",
		summary: "Retrieve a webhook endpoint",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam },
		responses: { 200: jsonResponse(WebhookObject, "The endpoint"), ...commonErrors },
	}),
	async (c) => c.json(toWebhookObject(await findWebhook(c.env, c.get("auth").tenant.id, c.req.valid("param").id)), 200),
);

webhookRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/webhooks/{id}",
		summary: "Delete a webhook endpoint; pending deliveries to it are canceled",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam },
		responses: { 200: jsonResponse(Deleted, "Deleted"), ...commonErrors },
	}),
	async (c) => {
		const row = await findWebhook(c.env, c.get("auth").tenant.id, c.req.valid("param").id);
		const db = getDb(c.env.DB);
		await db.batch(endpointDeletion(db, { webhookId: row.id }, Date.now()));
		return c.json({ object: "webhook", id: row.id, deleted: true as const }, 200);
	},
);

webhookRoutes.openapi(
	createRoute({
		method: "get",
		path: "/webhooks/{id}/deliveries",
		summary: "Deliveries to this endpoint, newest first, each with its attempts",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam, query: ListQuery },
		responses: {
			200: jsonResponse(
				z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(DeliveryObject) }),
				"A page of deliveries",
			),
			...commonErrors,
		},
	}),
	async (c) => {
		const webhook = await findWebhook(c.env, c.get("auth").tenant.id, c.req.valid("param").id);
		const { limit, after } = c.req.valid("query");
		const db = getDb(c.env.DB);
		const rows = await db
			.select()
			.from(webhookDeliveries)
			.where(
				and(
					eq(webhookDeliveries.webhookId, webhook.id),
					// Ordered by time, then id; the cursor is the last delivery id of the previous page.
					after
						? sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (SELECT created_at, id FROM webhook_deliveries WHERE id = ${after})`
						: undefined,
				),
			)
			.orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
			.limit(limit + 1);
		const page = rows.slice(0, limit);
		const attempts =
			page.length === 0
				? []
				: await db
						.select()
						.from(webhookAttempts)
						.where(
							inArray(
								webhookAttempts.deliveryId,
								page.map((r) => r.id),
							),
						)
						.orderBy(webhookAttempts.id);
		return c.json(
			{
				object: "list" as const,
				has_more: rows.length > limit,
				data: page.map((d) => ({
					object: "webhook_delivery" as const,
					id: d.id,
					event_type: d.eventType,
					email_id: d.emailId,
					status: d.status,
					attempts: d.attempts,
					last_status_code: d.lastStatusCode,
					last_error: d.lastError,
					created_at: iso(d.createdAt),
					delivered_at: isoOrNull(d.deliveredAt),
					attempt_log: attempts
						.filter((a) => a.deliveryId === d.id)
						.map((a) => ({ attempt: a.attempt, at: iso(a.at), status_code: a.statusCode, error: a.error, duration_ms: a.durationMs })),
				})),
			},
			200,
		);
	},
);
