/**
 * Queue consumers, dispatched on the queue's name. Each message gets an explicit decision (ack or retry with a
 * delay); nothing is acked that has not been handled.
 */
import { getDb } from "../db/client";
import { consumeEmailSendingEvents } from "../providers/cloudflare/events";
import type { WebhookQueueMessage } from "../services/webhook-fanout";
import { consumeSendDeadLetters } from "./dead-letter-consumer";
import { consumeSendBatch, sendConsumerDeps } from "./send";
import { consumeWebhookBatch, consumeWebhookDeadLetters, webhookConsumerDeps } from "./webhook-consumer";

export const QUEUE_NAMES = {
	send: "mailroom-send",
	sendDeadLetter: "mailroom-send-dlq",
	webhooks: "mailroom-webhooks",
	webhooksDeadLetter: "mailroom-webhooks-dlq",
	/** Cloudflare Email Sending's delivery events (a Queues event subscription, see the README). */
	emailEvents: "mailroom-email-events",
} as const;

export async function handleQueue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
	switch (batch.queue) {
		case QUEUE_NAMES.send:
			return consumeSendBatch(batch, sendConsumerDeps(env));
		case QUEUE_NAMES.sendDeadLetter:
			return consumeSendDeadLetters(batch, getDb(env.DB), env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>);
		case QUEUE_NAMES.webhooks:
			return consumeWebhookBatch(batch, webhookConsumerDeps(env));
		case QUEUE_NAMES.webhooksDeadLetter:
			return consumeWebhookDeadLetters(batch, getDb(env.DB));
		case QUEUE_NAMES.emailEvents:
			return consumeEmailSendingEvents(batch, {
				db: getDb(env.DB),
				webhookQueue: env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>,
				now: Date.now,
			});
		default:
			// Throwing retries the whole batch: a message for a queue we do not know is never dropped.
			throw new Error(`No consumer for queue ${batch.queue}`);
	}
}
