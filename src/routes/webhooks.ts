/** `/webhooks`: the tenant's webhook endpoints (Resend's shape) and what was delivered to them. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { WEBHOOK_EVENT_TYPES, type WebhookRow, webhooks } from "../db/schema";
import { attemptsOf, deliveryPage } from "../db/webhooks";
import { ApiError } from "../errors";
import { newId } from "../lib/ids";
import { iso, isoOrNull } from "../lib/time";
import { urlProblem } from "../lib/url-policy";
import { requireFullAccess } from "../middleware/auth";
import { Deleted, ListQuery } from "../schemas/admin";
import { endpointDeletion, findEndpoint } from "../services/webhook-endpoints";
import { newSigningSecret, PREVIOUS_SECRET_GRACE_MS } from "../webhooks/outbound/sign";
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

const WebhookUpdate = z
	.object({
		endpoint: z.string().min(1).max(2048).optional(),
		events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length).optional(),
		status: z.enum(["enabled", "disabled"]).optional().openapi({ description: "`disabled` stops deliveries (pending ones are canceled)" }),
	})
	.refine((v) => v.endpoint !== undefined || v.events !== undefined || v.status !== undefined, {
		error: "Give at least one of endpoint, events or status",
	})
	.openapi("UpdateWebhookRequest");

const WebhookRef = z.object({ object: z.literal("webhook"), id: z.string() }).openapi("WebhookRef");

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

const findWebhook = (env: Env, tenantId: string, id: string): Promise<WebhookRow> => findEndpoint(getDb(env.DB), tenantId, id);

webhookRoutes.openapi(
	createRoute({
		method: "post",
		path: "/webhooks",
		summary: "Create a webhook endpoint (the signing secret is shown only in this response)",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(WebhookCreate) },
		responses: { 201: jsonResponse(WebhookCreated, "The endpoint and its secret"), ...commonErrors },
	}),
	async (c) => {
		const { endpoint, events } = c.req.valid("json");
		checkEndpoint(c.env, endpoint);
		const row = {
			id: newId(),
			tenantId: c.get("auth").tenant.id,
			endpoint,
			events: [...new Set(events)],
			signingSecret: newSigningSecret(),
			createdAt: Date.now(),
		};
		await getDb(c.env.DB).insert(webhooks).values(row);
		return c.json({ object: "webhook" as const, id: row.id, signing_secret: row.signingSecret }, 201);
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
			200: jsonResponse(
				z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(WebhookObject) }),
				"Endpoints, newest first",
			),
			...commonErrors,
		},
	}),
	async (c) => {
		const rows = await getDb(c.env.DB)
			.select()
			.from(webhooks)
			.where(and(eq(webhooks.tenantId, c.get("auth").tenant.id), isNull(webhooks.deletedAt)))
			.orderBy(desc(webhooks.createdAt));
		return c.json({ object: "list" as const, has_more: false, data: rows.map(toWebhookObject) }, 200);
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

/** The URL policy (src/lib/url-policy.ts) for an endpoint given by a tenant: 422 `invalid_parameter` with the reason. */
function checkEndpoint(env: Env, endpoint: string): void {
	const problem = urlProblem(endpoint, { allowInsecure: getConfig(env).allowHttpWebhooks });
	if (problem) throw new ApiError("invalid_parameter", `endpoint ${problem}`);
}

webhookRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/webhooks/{id}",
		summary: "Change a webhook endpoint's URL, events, or status",
		description:
			"`status: disabled` stops deliveries (pending ones are canceled when their turn comes); `enabled` resumes them, also for an endpoint disabled by a 410 answer.",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam, body: jsonBody(WebhookUpdate) },
		responses: { 200: jsonResponse(WebhookRef, "Updated"), ...commonErrors },
	}),
	async (c) => {
		const row = await findWebhook(c.env, c.get("auth").tenant.id, c.req.valid("param").id);
		const { endpoint, events, status } = c.req.valid("json");
		if (endpoint !== undefined) checkEndpoint(c.env, endpoint);
		const now = Date.now();
		await getDb(c.env.DB)
			.update(webhooks)
			.set({
				...(endpoint !== undefined && { endpoint }),
				...(events !== undefined && { events: [...new Set(events)] }),
				...(status === "enabled" && { disabledAt: null }),
				...(status === "disabled" && row.disabledAt === null && { disabledAt: now }),
			})
			.where(and(eq(webhooks.id, row.id), isNull(webhooks.deletedAt)));
		return c.json({ object: "webhook" as const, id: row.id }, 200);
	},
);

webhookRoutes.openapi(
	createRoute({
		method: "post",
		path: "/webhooks/{id}/signing-secret/rotate",
		summary: "Replace the signing secret; the previous one keeps signing beside it for 24 hours",
		description:
			"Until the previous secret expires every delivery carries two signatures (`webhook-signature: v1,<new> v1,<previous>`), so receivers can switch secrets without missing an event. A second rotation within those 24 hours is refused (409): it would end the previous secret early. Delete and recreate the endpoint to end every secret at once.",
		tags: ["Webhooks"],
		middleware: [requireFullAccess] as const,
		request: { params: IdParam },
		responses: { 200: jsonResponse(WebhookCreated, "The new secret, shown only here"), ...commonErrors, 409: commonErrors[422] },
	}),
	async (c) => {
		const row = await findWebhook(c.env, c.get("auth").tenant.id, c.req.valid("param").id);
		const now = Date.now();
		if (row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt > now) {
			throw new ApiError(
				"invalid_state",
				`The previous signing secret still verifies until ${iso(row.previousSecretExpiresAt)}; rotate again after that, or delete and recreate the webhook to end every secret now`,
			);
		}
		const secret = newSigningSecret();
		// Guarded by the secret read above: of two rotations at once, one wins and the other finds nothing to update.
		const [updated] = await getDb(c.env.DB)
			.update(webhooks)
			.set({ signingSecret: secret, previousSigningSecret: row.signingSecret, previousSecretExpiresAt: now + PREVIOUS_SECRET_GRACE_MS })
			.where(and(eq(webhooks.id, row.id), eq(webhooks.signingSecret, row.signingSecret), isNull(webhooks.deletedAt)))
			.returning({ id: webhooks.id });
		if (!updated) throw new ApiError("invalid_state", "The signing secret was rotated by another request just now");
		return c.json({ object: "webhook" as const, id: row.id, signing_secret: secret }, 200);
	},
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
		const { rows: page, hasMore } = await deliveryPage(db, webhook.id, limit, after);
		const attempts = await attemptsOf(
			db,
			page.map((r) => r.id),
		);
		return c.json(
			{
				object: "list" as const,
				has_more: hasMore,
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
