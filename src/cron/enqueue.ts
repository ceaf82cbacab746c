import { chunk } from "../db/client";
import { errorFields, log } from "../lib/log";
import type { SendQueueMessage } from "../schemas/queue";

/**
 * Sends queue messages for the crons. A failure is logged, not thrown: the rows keep their `next_attempt_at`, so the
 * next run finds them overdue again.
 */
export async function enqueueSends(queue: Queue<SendQueueMessage>, messages: SendQueueMessage[], delaysSeconds?: number[]): Promise<void> {
	try {
		for (const [p, part] of chunk(messages, 100).entries()) {
			await queue.sendBatch(part.map((body, i) => ({ body, delaySeconds: delaysSeconds?.[p * 100 + i] ?? 0 })));
		}
	} catch (err) {
		log.warn("cron_enqueue_failed", { count: messages.length, ...errorFields(err) });
	}
}
