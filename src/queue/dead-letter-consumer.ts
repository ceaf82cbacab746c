/**
 * The consumer of `mailroom-send-dlq`: messages the queue gave up on (max_retries). An email still waiting to be
 * sent (`queued`, `scheduled`) ends `failed` with a dead letter (the lifecycle's `queueExhausted`); rows that are
 * `sending` or `uncertain` are left alone, as a provider call may be in flight and the recover and reconcile crons
 * own them; a body of no known version is kept as a `malformed_message` dead letter. Then the batch is acked.
 * Nothing is dropped silently: if recording fails, the batch is retried.
 */
import { chunkedInserts, type Db, runBatch, type Statement } from "../db/client";
import { deadLetters } from "../db/schema";
import { newEmailId, newId } from "../lib/ids";
import { log } from "../lib/log";
import { queueExhaustedStatements } from "../lifecycle/tenant-actions";
import { SendQueueMessage } from "../schemas/queue";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";

export async function consumeSendDeadLetters(
	batch: MessageBatch<unknown>,
	db: Db,
	webhookQueue: Queue<WebhookQueueMessage>,
	now: number = Date.now(),
): Promise<void> {
	const statements: Statement[] = [];
	const malformed: (typeof deadLetters.$inferInsert)[] = [];
	const emailIds: string[] = [];
	for (const message of batch.messages) {
		const parsed = SendQueueMessage.safeParse(message.body);
		if (!parsed.success) {
			malformed.push({
				id: newEmailId(now),
				tenantId: null,
				emailId: null,
				reason: "malformed_message",
				provider: null,
				attempts: message.attempts,
				lastError: null,
				payload: JSON.stringify(message.body ?? null).slice(0, 10_000),
				createdAt: now,
			});
			continue;
		}
		emailIds.push(parsed.data.id);
		statements.push(
			...queueExhaustedStatements(
				db,
				{ emailId: parsed.data.id, tenantId: parsed.data.tenantId, queueAttempts: message.attempts },
				now,
				`dlq_${newId()}`,
			),
		);
	}
	statements.push(...chunkedInserts(db, deadLetters, malformed));
	// Throws on failure: the whole batch is then retried, so no dead letter goes unrecorded.
	const results = await runBatch(db, statements);
	await enqueueDeliveries(webhookQueue, deliveryIdsOf(results));
	batch.ackAll();
	log.warn("send_dead_letters_recorded", { count: batch.messages.length, emailIds: emailIds.slice(0, 20) });
}
