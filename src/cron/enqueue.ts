import { errorFields, log } from "../lib/log";
import { enqueueByLane, type LaneMessage, sendQueues } from "../queue/lanes";

/**
 * Sends queue messages for the crons, each to its email's lane. A failure is logged, not thrown: the rows keep their
 * `next_attempt_at`, so the next run finds them overdue again.
 */
export async function enqueueSends(env: Env, emails: LaneMessage[]): Promise<void> {
	try {
		await enqueueByLane(sendQueues(env), emails);
	} catch (err) {
		log.warn("cron_enqueue_failed", { count: emails.length, ...errorFields(err) });
	}
}
