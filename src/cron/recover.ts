/**
 * Every minute: find work whose queue message was lost and put it back (DESIGN §1 "nothing is ever lost").
 *
 * - `queued` or `scheduled` emails whose message was due more than the grace period ago (the enqueue after the D1
 *   write failed, or a local queue lost it on restart) are enqueued again.
 * - `sending` emails whose lease expired (the consumer died mid-send) go back to `queued` and are enqueued when
 *   their provider deduplicates by our id; otherwise they become `uncertain` for the reconciler, never resent blind.
 * - `pending` webhook deliveries long overdue are enqueued again.
 * Every change is a conditional UPDATE bounded by LIMIT, so two runs at once cannot double-act on a row.
 */
import { and, eq, inArray, lt } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb, runBatch, type Statement } from "../db/client";
import { eventIfChanged } from "../db/emails";
import { emails, tenants, webhookDeliveries } from "../db/schema";
import { chooseProvider, providerFactory, providerOrder } from "../providers/registry";
import type { SendQueueMessage } from "../schemas/queue";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { enqueueSends } from "./enqueue";

/** How late a due message may be before it counts as lost (queue batching and retries take seconds, not minutes). */
export const RECOVER_GRACE_MS = 2 * 60 * 1000;
/** Rows per kind per run: a minute's cron stays small; a backlog drains over a few minutes. */
export const RECOVER_LIMIT = 200;

export async function recover(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const overdue = now - RECOVER_GRACE_MS;

	const [lost, expired, webhooks] = await db.batch([
		db
			.update(emails)
			.set({ nextAttemptAt: now, updatedAt: now })
			.where(
				inArray(
					emails.id,
					db
						.select({ id: emails.id })
						.from(emails)
						.where(and(inArray(emails.status, ["queued", "scheduled"]), lt(emails.nextAttemptAt, overdue)))
						.limit(RECOVER_LIMIT),
				),
			)
			.returning({ id: emails.id, tenantId: emails.tenantId }),
		db
			.select({ id: emails.id, tenantId: emails.tenantId, provider: emails.provider, providers: tenants.providers })
			.from(emails)
			.innerJoin(tenants, eq(tenants.id, emails.tenantId))
			.where(and(eq(emails.status, "sending"), lt(emails.leaseUntil, now)))
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

	const config = getConfig(env);
	const factory = providerFactory(env);
	const statements: Statement[] = [];
	const requeue: SendQueueMessage[] = [];
	let uncertain = 0;
	const stillExpired = and(eq(emails.status, "sending"), lt(emails.leaseUntil, now));
	for (const row of expired) {
		const inFlight = chooseProvider(providerOrder(config, { providers: row.providers }), row.provider, factory);
		if (inFlight && !inFlight.provider.supportsIdempotency) {
			uncertain += 1;
			statements.push(
				db
					.update(emails)
					.set({
						status: "uncertain",
						provider: inFlight.provider.name,
						leaseUntil: null,
						lastError: "lease expired during the provider call",
						updatedAt: now,
					})
					.where(and(eq(emails.id, row.id), stillExpired)),
				eventIfChanged(db, {
					emailId: row.id,
					tenantId: row.tenantId,
					type: "uncertain",
					at: now,
					provider: inFlight.provider.name,
					detail: { reason: "lease expired during the provider call" },
				}),
			);
		} else {
			requeue.push({ v: 1, id: row.id, tenantId: row.tenantId });
			statements.push(
				db
					.update(emails)
					// It may have been sent there: pinned, so a later error cannot fail it over to a second provider.
					.set({ status: "queued", leaseUntil: null, nextAttemptAt: now, pinnedProvider: inFlight?.provider.name ?? null, updatedAt: now })
					.where(and(eq(emails.id, row.id), stillExpired)),
			);
		}
	}
	await runBatch(db, statements);

	await enqueueSends(env.SEND_QUEUE as Queue<SendQueueMessage>, [
		...lost.map((r) => ({ v: 1 as const, id: r.id, tenantId: r.tenantId })),
		...requeue,
	]);
	await enqueueDeliveries(env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, deliveryIdsOf([webhooks]));
	return { reenqueued: lost.length, leases_requeued: requeue.length, leases_uncertain: uncertain, webhooks_reenqueued: webhooks.length };
}
