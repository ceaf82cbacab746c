/**
 * Fan-out of email events to the tenant's webhook endpoints (docs/architecture.md, "Tenant webhooks").
 *
 * A delivery row per subscribed endpoint is written in the same D1 transaction as the event itself, by an
 * INSERT … SELECT placed right after the event's INSERT and guarded by `changes() = 1`: an event that was a
 * duplicate (dedupe key) or lost a race fans out nothing. The statement RETURNs the new delivery ids, which the
 * caller enqueues on WEBHOOK_QUEUE once the batch has committed; a delivery whose enqueue failed stays `pending`
 * and is visible in `GET /webhooks/:id/deliveries`.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db, Statement } from "../db/client";
import { chunk } from "../db/client";
import { type WebhookEventType, webhookDeliveries, webhooks } from "../db/schema";
import { errorFields, log } from "../lib/log";

/** Our event types that tenants hear about, as Resend names them; internal ones (queued, attempt_failed) are absent. */
const WEBHOOK_EVENT_OF: Record<string, WebhookEventType> = {
	sent: "email.sent",
	delivered: "email.delivered",
	delivery_delayed: "email.delivery_delayed",
	bounced: "email.bounced",
	complained: "email.complained",
	opened: "email.opened",
	clicked: "email.clicked",
	failed: "email.failed",
	scheduled: "email.scheduled",
	canceled: "email.canceled",
};

export function webhookEventFor(type: string): WebhookEventType | null {
	return WEBHOOK_EVENT_OF[type] ?? null;
}

export type FanOutEvent = {
	tenantId: string;
	emailId: string;
	/** Our event type (`delivered`, `canceled`, …). */
	type: string;
	at: number;
	detail?: Record<string, unknown> | null;
};

/** The column every fan-out statement RETURNs, so callers can find delivery ids among a batch's results. */
const RETURNED = "webhookDeliveryId";

/**
 * Delivery rows for every endpoint of the tenant subscribed to this event. With `guarded` (the default) the
 * statement must directly follow the INSERT of the event it announces. Null for internal event types.
 */
export function fanOutStatement(db: Db, event: FanOutEvent, guarded = true): Statement | null {
	const eventType = webhookEventFor(event.type);
	if (eventType === null) return null;
	const detail = event.detail ? JSON.stringify(event.detail) : null;
	return db
		.insert(webhookDeliveries)
		.select(
			db
				.select({
					// Every column in table order (drizzle's rule for INSERT … SELECT).
					id: sql<string>`'msg_' || lower(hex(randomblob(12)))`.as("id"),
					webhookId: webhooks.id,
					tenantId: webhooks.tenantId,
					emailId: sql<string>`${event.emailId}`.as("email_id"),
					eventType: sql<string>`${eventType}`.as("event_type"),
					eventAt: sql<number>`${event.at}`.as("event_at"),
					eventDetail: sql<string | null>`${detail}`.as("event_detail"),
					status: sql<"pending">`'pending'`.as("status"),
					attempts: sql<number>`0`.as("attempts"),
					lastStatusCode: sql<null>`NULL`.as("last_status_code"),
					lastError: sql<null>`NULL`.as("last_error"),
					createdAt: sql<number>`${event.at}`.as("created_at"),
					updatedAt: sql<number>`${event.at}`.as("updated_at"),
					deliveredAt: sql<null>`NULL`.as("delivered_at"),
					nextAttemptAt: sql<number>`${event.at}`.as("next_attempt_at"),
				})
				.from(webhooks)
				.where(
					and(
						eq(webhooks.tenantId, event.tenantId),
						isNull(webhooks.deletedAt),
						isNull(webhooks.disabledAt),
						sql`EXISTS (SELECT 1 FROM json_each(${webhooks.events}) WHERE value = ${eventType})`,
						guarded ? sql`changes() = 1` : undefined,
					),
				),
		)
		.returning({ [RETURNED]: webhookDeliveries.id });
}

/** Delivery ids RETURNed by fan-out statements anywhere in a batch's results. */
export function deliveryIdsOf(results: readonly unknown[]): string[] {
	const ids: string[] = [];
	for (const result of results) {
		if (!Array.isArray(result)) continue;
		for (const row of result) {
			const id = row && typeof row === "object" ? (row as Record<string, unknown>)[RETURNED] : undefined;
			if (typeof id === "string") ids.push(id);
		}
	}
	return ids;
}

export type WebhookQueueMessage = { v: 1; id: string };

/** Hands new deliveries to the webhook consumer. A failure leaves them `pending`, never lost. */
export async function enqueueDeliveries(queue: Queue<WebhookQueueMessage>, ids: string[]): Promise<void> {
	if (ids.length === 0) return;
	try {
		for (const part of chunk(ids, 100)) await queue.sendBatch(part.map((id) => ({ body: { v: 1 as const, id } })));
	} catch (err) {
		log.warn("webhook_enqueue_failed", { count: ids.length, ids: ids.slice(0, 10), ...errorFields(err) });
	}
}
