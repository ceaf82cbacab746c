/**
 * Queue consumers, dispatched on the queue's name. Each message gets an explicit decision (ack or retry with a
 * delay); nothing is acked that has not been handled.
 */
import { getDb } from "../db/client";
import { log } from "../lib/log";
import { consumeSendDeadLetters } from "./dead-letter-consumer";
import { consumeSendBatch, sendConsumerDeps } from "./send-consumer";

export const QUEUE_NAMES = {
	send: "mailroom-send",
	sendDeadLetter: "mailroom-send-dlq",
	webhooks: "mailroom-webhooks",
	webhooksDeadLetter: "mailroom-webhooks-dlq",
} as const;

/**
 * How long a tenant-webhook message waits before it is offered again. Outbound webhook delivery arrives with the
 * delivery-status work; until then its messages are kept (retried), never acknowledged and dropped.
 */
export const UNPROCESSED_RETRY_SECONDS = 300;

export async function handleQueue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
	switch (batch.queue) {
		case QUEUE_NAMES.send:
			return consumeSendBatch(batch, sendConsumerDeps(env));
		case QUEUE_NAMES.sendDeadLetter:
			return consumeSendDeadLetters(batch, getDb(env.DB));
		case QUEUE_NAMES.webhooks:
		case QUEUE_NAMES.webhooksDeadLetter:
			log.info("queue_messages_deferred", { queue: batch.queue, count: batch.messages.length, delaySeconds: UNPROCESSED_RETRY_SECONDS });
			batch.retryAll({ delaySeconds: UNPROCESSED_RETRY_SECONDS });
			return;
		default:
			// Throwing retries the whole batch: a message for a queue we do not know is never dropped.
			throw new Error(`No consumer for queue ${batch.queue}`);
	}
}
