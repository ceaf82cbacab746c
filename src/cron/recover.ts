/**
 * Every minute: find work whose queue message was lost and put it back (docs/architecture.md, "Crons").
 *
 * - `queued` or `scheduled` emails whose message was due more than the grace period ago (the enqueue after the D1
 *   write failed, or a local queue lost it on restart) are enqueued again.
 * - `sending` emails whose lease expired (the consumer died mid-batch, or could not record its outcomes) go through
 *   the lifecycle's one `expireLease` rule: requeued and pinned where the provider the claim recorded deduplicates
 *   by our id, otherwise `uncertain` for the reconciler, never resent blind. Requeued ones are enqueued.
 * - `pending` webhook deliveries long overdue are enqueued again.
 * Every change is a conditional UPDATE bounded by LIMIT, so two runs at once cannot double-act on a row. Both email
 * queries read the open set (`emails_open`: `ended_at IS NULL`, by `next_attempt_at`): a claimed row keeps the
 * `next_attempt_at` it was due at, so `sending` rows are found in the same range as lost ones.
 */
import { and, eq, inArray, lt } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb, runBatch } from "../db/client";
import { inFlight, inFlightSlice } from "../db/emails";
import { type EmailPriority, emails, webhookDeliveries } from "../db/schema";
import { newId } from "../lib/ids";
import { expireLeases } from "../lifecycle/attempts";
import { idempotentProviders, providerFactory } from "../providers/registry";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { enqueueSends } from "./enqueue";

/** How late a due message may be before it counts as lost (queue batching and retries take seconds, not minutes). */
export const RECOVER_GRACE_MS = 2 * 60 * 1000;
/** Rows per kind per run: a minute's cron stays small; a backlog drains over a few minutes. */
export const RECOVER_LIMIT = 200;

export async function recover(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const config = getConfig(env);
	const overdue = now - RECOVER_GRACE_MS;

	const [lost, expired, webhooks] = await db.batch([
		db
			.update(emails)
			.set({ nextAttemptAt: now, updatedAt: now })
			.where(inFlightSlice(db, RECOVER_LIMIT, lt(emails.nextAttemptAt, overdue), inArray(emails.status, ["queued", "scheduled"])))
			.returning({ id: emails.id, tenantId: emails.tenantId, priority: emails.priority }),
		db
			.select({ id: emails.id })
			.from(emails)
			.where(inFlight(lt(emails.nextAttemptAt, now), eq(emails.status, "sending"), lt(emails.leaseUntil, now)))
			.limit(RECOVER_LIMIT),
		db
			.update(webhookDeliveries)
			.set({ nextAttemptAt: now, updatedAt: now })
			.where(
				inArray(
					webhookDeliveries.id,
					db
						.select({ id: webhookDeliveries.id })
						.from(webhookDeliveries)
						.where(and(eq(webhookDeliveries.status, "pending"), lt(webhookDeliveries.nextAttemptAt, overdue)))
						.limit(RECOVER_LIMIT),
				),
			)
			.returning({ webhookDeliveryId: webhookDeliveries.id }),
	]);

	const results = await runBatch(
		db,
		expireLeases(
			db,
			expired.map((r) => r.id),
			{ now, marker: `exp_${newId()}`, maxAttempts: config.maxAttempts, idempotent: idempotentProviders(providerFactory(env)) },
		),
	);
	// The expiry UPDATEs RETURN rows; their event INSERTs return none.
	const moved = results.filter(Array.isArray).flat() as { id: string; tenantId: string; status: string; priority: EmailPriority }[];
	const requeued = moved.filter((r) => r.status === "queued");

	await enqueueSends(env, [...lost, ...requeued]);
	await enqueueDeliveries(env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, deliveryIdsOf([webhooks]));
	return {
		reenqueued: lost.length,
		leases_requeued: requeued.length,
		leases_uncertain: moved.length - requeued.length,
		webhooks_reenqueued: webhooks.length,
	};
}
