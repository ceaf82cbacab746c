/**
 * Queue consumers, dispatched on the queue's name. Each message gets an explicit decision (ack or retry with a
 * delay); nothing is acked that has not been handled.
 *
 * Delivery (claim → provider → record) arrives with the provider pipeline. Until a consumer can process its
 * messages it retries them with a long delay: the rows stay `queued` in D1, the source of truth, and no message
 * is acknowledged and dropped.
 */
import { errorFields, log } from "../lib/log";
import { SendQueueMessage } from "../schemas/queue";

export const QUEUE_NAMES = {
	send: "mailroom-send",
	sendDeadLetter: "mailroom-send-dlq",
	webhooks: "mailroom-webhooks",
	webhooksDeadLetter: "mailroom-webhooks-dlq",
} as const;

/** How long a message waits before it is offered again while its consumer cannot process it yet. */
export const UNPROCESSED_RETRY_SECONDS = 300;

export async function handleQueue(batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext): Promise<void> {
	switch (batch.queue) {
		case QUEUE_NAMES.send:
		case QUEUE_NAMES.sendDeadLetter:
			return keepSendMessages(batch);
		case QUEUE_NAMES.webhooks:
		case QUEUE_NAMES.webhooksDeadLetter:
			return keepForLater(batch);
		default:
			// Throwing retries the whole batch: a message for a queue we do not know is never dropped.
			throw new Error(`No consumer for queue ${batch.queue}`);
	}
}

function keepSendMessages(batch: MessageBatch<unknown>): void {
	for (const message of batch.messages) {
		const parsed = SendQueueMessage.safeParse(message.body);
		if (!parsed.success) {
			log.error("send_message_malformed", { queue: batch.queue, messageId: message.id, ...errorFields(parsed.error) });
		}
	}
	keepForLater(batch);
}

function keepForLater(batch: MessageBatch<unknown>): void {
	log.info("queue_messages_deferred", { queue: batch.queue, count: batch.messages.length, delaySeconds: UNPROCESSED_RETRY_SECONDS });
	batch.retryAll({ delaySeconds: UNPROCESSED_RETRY_SECONDS });
}
