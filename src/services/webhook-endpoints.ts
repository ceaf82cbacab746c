/**
 * Tenant webhook endpoints: finding one, and deleting them, the one rule shared by `DELETE /webhooks/:id` and
 * `DELETE /admin/tenants/:id`.
 * A deleted endpoint keeps its row and delivery history, gets nothing new (fan-out skips it), and its pending
 * deliveries are canceled so the webhook consumer and the recover cron leave them alone.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Db, Statement } from "../db/client";
import { type WebhookRow, webhookDeliveries, webhooks } from "../db/schema";
import { ApiError } from "../errors";

/** Which endpoints: one (already scoped to its tenant by the caller) or all of a tenant's. */
export type EndpointScope = { webhookId: string } | { tenantId: string };

/**
 * The statements that delete the endpoints in `scope`, for the caller's `db.batch()`.
 *
 * @example
 * await db.batch([...endpointDeletion(db, { webhookId: row.id }, Date.now())]);
 */
export function endpointDeletion(db: Db, scope: EndpointScope, now: number): [Statement, Statement] {
	const endpoints = "webhookId" in scope ? eq(webhooks.id, scope.webhookId) : eq(webhooks.tenantId, scope.tenantId);
	const deliveries =
		"webhookId" in scope ? eq(webhookDeliveries.webhookId, scope.webhookId) : eq(webhookDeliveries.tenantId, scope.tenantId);
	return [
		db
			.update(webhooks)
			.set({ deletedAt: now })
			.where(and(endpoints, isNull(webhooks.deletedAt))),
		db
			.update(webhookDeliveries)
			.set({ status: "canceled", updatedAt: now })
			.where(and(deliveries, eq(webhookDeliveries.status, "pending"))),
	];
}

/** The tenant's endpoint with this id, not deleted; 404 otherwise (another tenant's included). */
export async function findEndpoint(db: Db, tenantId: string, id: string): Promise<WebhookRow> {
	const row = await db.query.webhooks.findFirst({
		where: and(eq(webhooks.id, id), eq(webhooks.tenantId, tenantId), isNull(webhooks.deletedAt)),
	});
	if (!row) throw new ApiError("not_found", "Webhook not found");
	return row;
}
