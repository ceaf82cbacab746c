/**
 * Queue consumers, dispatched on the queue's role (its name without the environment suffix: ./names.ts). Each
 * message gets an explicit decision (ack or retry with a delay); nothing is acked that has not been handled.
 */
import { getDb } from "../db/client";
import { consumeEmailSendingEvents } from "../providers/cloudflare/events";
import type { WebhookQueueMessage } from "../services/webhook-fanout";
import { consumeSendDeadLetters } from "./dead-letter-consumer";
import { queueRole } from "./names";
import { consumeSendBatch, sendConsumerDeps } from "./send";
import { consumeWebhookBatch, consumeWebhookDeadLetters, webhookConsumerDeps } from "./webhook-consumer";

export { QUEUE_NAMES } from "./names";

export async function handleQueue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
	switch (queueRole(batch.queue)) {
		case "send":
		case "sendBulk":
			return consumeSendBatch(batch, sendConsumerDeps(env));
		case "sendDeadLetter":
			return consumeSendDeadLetters(batch, getDb(env.DB), env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>);
		case "webhooks":
			return consumeWebhookBatch(batch, webhookConsumerDeps(env));
		case "webhooksDeadLetter":
			return consumeWebhookDeadLetters(batch, getDb(env.DB));
		case "emailEvents":
			return consumeEmailSendingEvents(batch, {
				db: getDb(env.DB),
				webhookQueue: env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>,
				now: Date.now,
			});
		case null:
			// Throwing retries the whole batch: a message for a queue we do not know is never dropped.
			throw new Error(`No consumer for queue ${batch.queue}`);
	}
}
