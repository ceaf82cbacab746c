/**
 * Priority lanes (README, "Priority lanes"): the one place that decides which queue a send message goes to.
 *
 * `high` and `normal` emails share `mailroom-send` (transactional: a short batch timeout, autoscaled consumers);
 * `bulk` emails have `mailroom-send-bulk` (full batches, few consumers), so a backlog there never delays the other
 * lane. The lane is the email row's `priority`, chosen at accept and never changed: every path that enqueues a send
 * (accept, reschedule, the consumer's deferrals, recover, release, reconcile, dead-letter replay) goes through here
 * with it, and a message's own `retry()` stays in the queue it came from, which is already its lane. Both queues feed
 * the same consumer (src/queue/send) and share one dead-letter queue.
 */
import { chunk } from "../db/client";
import type { EmailPriority } from "../db/schema";
import type { SendQueueMessage } from "../schemas/queue";

/** A lane is named by the role of its queue (./names.ts). */
export type Lane = "send" | "sendBulk";

export type SendQueues = Record<Lane, Queue<SendQueueMessage>>;

/** One email to put on its lane's queue, due in `delaySeconds` (0: now). */
export type LaneMessage = { id: string; tenantId: string; priority: EmailPriority; delaySeconds?: number };

export function laneOf(priority: EmailPriority): Lane {
	return priority === "bulk" ? "sendBulk" : "send";
}

export function sendQueues(env: Env): SendQueues {
	return { send: env.SEND_QUEUE as Queue<SendQueueMessage>, sendBulk: env.SEND_BULK_QUEUE as Queue<SendQueueMessage> };
}

/** The message body of an email: ids only, never its content (src/schemas/queue.ts). */
export function sendMessage(email: { id: string; tenantId: string }): SendQueueMessage {
	return { v: 1, id: email.id, tenantId: email.tenantId };
}

/** Sends one email's message to its lane. Throws what the queue throws. */
export async function enqueueOne(queues: SendQueues, email: LaneMessage): Promise<void> {
	const queue = queues[laneOf(email.priority)];
	if (email.delaySeconds === undefined) await queue.send(sendMessage(email));
	else await queue.send(sendMessage(email), { delaySeconds: email.delaySeconds });
}

/**
 * Sends every email's message to its lane, by `sendBatch` of at most 100 (the platform's limit) per lane. Throws what
 * the queue throws; messages of a batch already sent stay sent (each lane's callers tolerate duplicates: the claim
 * takes a row once).
 *
 * @example
 * await enqueueByLane(queues, rows.map((r) => ({ id: r.id, tenantId: r.tenantId, priority: r.priority })));
 */
export async function enqueueByLane(queues: SendQueues, emails: readonly LaneMessage[]): Promise<void> {
	for (const lane of ["send", "sendBulk"] as const) {
		const messages = emails
			.filter((e) => laneOf(e.priority) === lane)
			.map((e) => ({ body: sendMessage(e), delaySeconds: e.delaySeconds ?? 0 }));
		for (const part of chunk(messages, 100)) await queues[lane].sendBatch(part);
	}
}
