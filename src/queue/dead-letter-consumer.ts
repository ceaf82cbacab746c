/**
 * The consumer of `mailroom-send-dlq`: messages the queue gave up on (max_retries). Each is recorded as a dead
 * letter and its email, if still waiting to be sent, is marked `failed`, then the message is acked. Rows that are
 * `sending` or `uncertain` are left alone: a provider call may be in flight, and the recover and reconcile crons
 * own them. Nothing is dropped silently: if recording fails, the batch is retried.
 */
import { and, eq, inArray } from "drizzle-orm";
import { chunkedInserts, type Db, runBatch, type Statement } from "../db/client";
import { eventIfChanged } from "../db/emails";
import { deadLetters, emails } from "../db/schema";
import { newEmailId } from "../lib/ids";
import { log } from "../lib/log";
import { SendQueueMessage } from "../schemas/queue";
import { deliveryIdsOf, enqueueDeliveries, fanOutStatement, type WebhookQueueMessage } from "../services/webhook-fanout";

export async function consumeSendDeadLetters(
	batch: MessageBatch<unknown>,
	db: Db,
	webhookQueue: Queue<WebhookQueueMessage>,
	now: number = Date.now(),
): Promise<void> {
	const statements: Statement[] = [];
	const rows: (typeof deadLetters.$inferInsert)[] = [];
	for (const message of batch.messages) {
		const parsed = SendQueueMessage.safeParse(message.body);
		const body = parsed.success ? parsed.data : null;
		rows.push({
			id: newEmailId(now),
			tenantId: body?.tenantId ?? null,
			emailId: body?.id ?? null,
			reason: body ? "queue_retries_exhausted" : "malformed_message",
			provider: null,
			attempts: message.attempts,
			lastError: null,
			payload: body ? null : JSON.stringify(message.body ?? null).slice(0, 10_000),
			createdAt: now,
		});
		if (!body) continue;
		statements.push(
			db
				.update(emails)
				.set({ status: "failed", lastEvent: "failed", leaseUntil: null, lastError: "queue retries exhausted", updatedAt: now })
				.where(and(eq(emails.id, body.id), eq(emails.tenantId, body.tenantId), inArray(emails.status, ["queued", "scheduled"]))),
		);
		const event = {
			emailId: body.id,
			tenantId: body.tenantId,
			type: "failed",
			at: now,
			detail: { reason: "queue retries exhausted", queue_attempts: message.attempts },
		};
		statements.push(eventIfChanged(db, event));
		const fanOut = fanOutStatement(db, event);
		if (fanOut) statements.push(fanOut);
	}
	statements.push(...chunkedInserts(db, deadLetters, rows));
	// Throws on failure: the whole batch is then retried, so no dead letter goes unrecorded.
	const results = await runBatch(db, statements);
	await enqueueDeliveries(webhookQueue, deliveryIdsOf(results));
	batch.ackAll();
	log.warn("send_dead_letters_recorded", { count: batch.messages.length, emailIds: rows.map((r) => r.emailId).slice(0, 20) });
}
