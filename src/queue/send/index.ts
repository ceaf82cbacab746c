/**
 * The send consumer: every accepted email is sent at most once per provider that may have it, and ends in a final
 * state or visibly pending (docs/architecture.md, "The send consumer" and "Exactly once").
 *
 * One `Attempt` object per email goes through six steps, with two D1 round trips per consumed batch (claim,
 * record) and a third only when rows must move to another provider before their call (an open circuit, a provider
 * without credentials):
 *   parse → claim (D1) → plan (RateLimiter) → send (providers) → decide → record (D1) → ack / retry / requeue.
 */
import { getConfig } from "../../config";
import { getDb } from "../../db/client";
import { providerFactory } from "../../providers/registry";
import { limiterPacer } from "../../services/pacing";
import type { WebhookQueueMessage } from "../../services/webhook-fanout";
import { sendQueues } from "../lanes";
import { claimAttempts } from "./claim";
import { parseMessages } from "./parse";
import { planAttempts } from "./plan";
import { recordOutcomes } from "./record";
import { sendAttempts } from "./send";
import type { SendConsumerDeps } from "./types";

export { SEND_CONCURRENCY } from "./send";
export type { SendConsumerDeps } from "./types";

export function sendConsumerDeps(env: Env): SendConsumerDeps {
	const config = getConfig(env);
	return {
		db: getDb(env.DB),
		config,
		attachments: env.ATTACHMENTS,
		webhookQueue: env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>,
		sendQueues: sendQueues(env),
		providers: providerFactory(env),
		pacer: limiterPacer(env.RATE_LIMITER, config),
		now: Date.now,
		random: Math.random,
	};
}

export async function consumeSendBatch(batch: MessageBatch<unknown>, deps: SendConsumerDeps): Promise<void> {
	const attempts = await claimAttempts(parseMessages(batch.messages), deps);
	if (attempts.length === 0) return;
	await planAttempts(attempts, deps);
	await sendAttempts(attempts, deps);
	await recordOutcomes(attempts, deps);
}
