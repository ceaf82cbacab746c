/**
 * `/webhooks/:id/events`: what was sent to one endpoint, in the shapes of the `resend` SDK's `webhooks.events.*`
 * (Resend's OpenAPI document does not describe them yet). An event here is one delivery: one email event for one
 * endpoint, with every attempt. Replaying sends the same event again as a new delivery (a new `webhook-id`, so a
 * receiver that deduplicates sees it), signed with the endpoint's current secrets.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { getDb } from "../db/client";
import { emails, type WebhookDeliveryRow, webhookDeliveries } from "../db/schema";
import { attemptsOf, deliveryPage, findDelivery } from "../db/webhooks";
import { ApiError } from "../errors";
import { newDeliveryId } from "../lib/ids";
import { iso, isoOrNull } from "../lib/time";
import { requireFullAccess } from "../middleware/auth";
import { webhookPayload } from "../queue/webhook-consumer";
import { ListQuery } from "../schemas/admin";
import { findEndpoint } from "../services/webhook-endpoints";
import { enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const webhookEventRoutes = createRouter();

const tags = ["Webhooks"];

const EVENT_STATUSES = ["success", "pending", "attempting", "failed"] as const;

/** Resend's event status: delivered → success; not tried yet → pending; retrying → attempting; failed or canceled → failed. */
function eventStatus(d: WebhookDeliveryRow): (typeof EVENT_STATUSES)[number] {
	if (d.status === "delivered") return "success";
	if (d.status === "pending") return d.attempts === 0 ? "pending" : "attempting";
	return "failed";
}

const EventLog = z
	.object({
		id: z.string(),
		type: z.string(),
		created_at: z.string(),
		status: z.enum(EVENT_STATUSES),
		email_id: z.string().openapi({ description: "Mailroom extension" }),
		attempts: z.number().int().openapi({ description: "Mailroom extension" }),
	})
	.openapi("WebhookEventLog");

const toEventLog = (d: WebhookDeliveryRow) => ({
	id: d.id,
	type: d.eventType,
	created_at: iso(d.createdAt),
	status: eventStatus(d),
	email_id: d.emailId,
	attempts: d.attempts,
});

const Params = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
const EventParams = Params.extend({
	event_id: z
		.string()
		.max(64)
		.openapi({ param: { name: "event_id", in: "path" } }),
});

async function findEvent(env: Env, tenantId: string, webhookId: string, eventId: string) {
	const db = getDb(env.DB);
	const webhook = await findEndpoint(db, tenantId, webhookId);
	const delivery = await findDelivery(db, webhook.id, eventId);
	if (!delivery) throw new ApiError("not_found", "Webhook event not found");
	return { db, webhook, delivery };
}

webhookEventRoutes.openapi(
	createRoute({
		method: "get",
		path: "/webhooks/{id}/events",
		summary: "Events sent to this endpoint, newest first",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: Params, query: ListQuery },
		responses: {
			200: jsonResponse(z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(EventLog) }), "A page of events"),
			...commonErrors,
		},
	}),
	async (c) => {
		const db = getDb(c.env.DB);
		const webhook = await findEndpoint(db, c.get("auth").tenant.id, c.req.valid("param").id);
		const { limit, after } = c.req.valid("query");
		const { rows, hasMore } = await deliveryPage(db, webhook.id, limit, after);
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toEventLog) }, 200);
	},
);

webhookEventRoutes.openapi(
	createRoute({
		method: "get",
		path: "/webhooks/{id}/events/{event_id}",
		summary: "One event sent to this endpoint, with the payload it carries",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: EventParams },
		responses: {
			200: jsonResponse(
				EventLog.extend({
					object: z.literal("webhook_event"),
					next_attempt_at: z.string().nullable(),
					payload: z.record(z.string(), z.unknown()),
				}).openapi("WebhookEvent"),
				"The event",
			),
			...commonErrors,
		},
	}),
	async (c) => {
		const { id, event_id } = c.req.valid("param");
		const { db, webhook, delivery } = await findEvent(c.env, c.get("auth").tenant.id, id, event_id);
		const email = (await db.query.emails.findFirst({ where: eq(emails.id, delivery.emailId) })) ?? null;
		return c.json(
			{
				object: "webhook_event" as const,
				...toEventLog(delivery),
				next_attempt_at: delivery.status === "pending" ? isoOrNull(delivery.nextAttemptAt) : null,
				payload: webhookPayload({ delivery, webhook, email }),
			},
			200,
		);
	},
);

webhookEventRoutes.openapi(
	createRoute({
		method: "get",
		path: "/webhooks/{id}/events/{event_id}/attempts",
		summary: "Every attempt to deliver one event, oldest first",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: EventParams },
		responses: {
			200: jsonResponse(
				z.object({
					object: z.literal("list"),
					has_more: z.boolean(),
					data: z.array(
						z.object({
							id: z.string(),
							http_status_code: z.number().int().nullable().openapi({ description: "Null when the endpoint did not answer" }),
							response: z.string().openapi({ description: "What went wrong, empty for a success (response bodies are not kept)" }),
							sent_at: z.string(),
							duration_ms: z.number().int().openapi({ description: "Mailroom extension" }),
						}),
					),
				}),
				"The attempts",
			),
			...commonErrors,
		},
	}),
	async (c) => {
		const { id, event_id } = c.req.valid("param");
		const { db, delivery } = await findEvent(c.env, c.get("auth").tenant.id, id, event_id);
		const attempts = await attemptsOf(db, [delivery.id]);
		return c.json(
			{
				object: "list" as const,
				has_more: false,
				data: attempts.map((a) => ({
					id: String(a.id),
					http_status_code: a.statusCode,
					response: a.error ?? "",
					sent_at: iso(a.at),
					duration_ms: a.durationMs,
				})),
			},
			200,
		);
	},
);

webhookEventRoutes.openapi(
	createRoute({
		method: "post",
		path: "/webhooks/{id}/events/{event_id}/replay",
		summary: "Send an event to this endpoint again (a new delivery with a new webhook-id)",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: EventParams },
		responses: {
			200: jsonResponse(z.object({ object: z.literal("webhook_event"), id: z.string() }), "The new event"),
			...commonErrors,
			409: commonErrors[422],
		},
	}),
	async (c) => {
		const { id, event_id } = c.req.valid("param");
		const { db, webhook, delivery } = await findEvent(c.env, c.get("auth").tenant.id, id, event_id);
		if (webhook.disabledAt !== null) {
			throw new ApiError(
				"invalid_state",
				"This endpoint is disabled: enable it (PATCH /webhooks/:id with status enabled) to replay events",
			);
		}
		const now = Date.now();
		const replayId = newDeliveryId();
		await db.insert(webhookDeliveries).values({
			id: replayId,
			webhookId: webhook.id,
			tenantId: webhook.tenantId,
			emailId: delivery.emailId,
			eventType: delivery.eventType,
			eventAt: delivery.eventAt,
			eventDetail: delivery.eventDetail,
			status: "pending",
			attempts: 0,
			createdAt: now,
			updatedAt: now,
			nextAttemptAt: now,
		});
		await enqueueDeliveries(c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, [replayId]);
		return c.json({ object: "webhook_event" as const, id: replayId }, 200);
	},
);
