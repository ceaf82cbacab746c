/** Queries for what was delivered to a tenant's webhook endpoints. */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { type Db, pageOf } from "./client";
import { type WebhookDeliveryRow, webhookAttempts, webhookDeliveries } from "./schema";

/**
 * One page of an endpoint's deliveries, newest first, ordered by time then id; `after` is the last delivery id of the
 * previous page (through `webhook_deliveries_webhook`).
 */
export async function deliveryPage(
	db: Db,
	webhookId: string,
	limit: number,
	after?: string,
): Promise<{ rows: WebhookDeliveryRow[]; hasMore: boolean }> {
	const rows = await db
		.select()
		.from(webhookDeliveries)
		.where(
			and(
				eq(webhookDeliveries.webhookId, webhookId),
				after
					? sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (SELECT created_at, id FROM webhook_deliveries WHERE id = ${after})`
					: undefined,
			),
		)
		.orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
		.limit(limit + 1);
	return pageOf(rows, limit, false);
}

export async function findDelivery(db: Db, webhookId: string, id: string): Promise<WebhookDeliveryRow | undefined> {
	return db.query.webhookDeliveries.findFirst({ where: and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.webhookId, webhookId)) });
}

/** Every attempt of these deliveries, in order. */
export async function attemptsOf(db: Db, deliveryIds: string[]) {
	if (deliveryIds.length === 0) return [];
	return db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds)).orderBy(webhookAttempts.id);
}
