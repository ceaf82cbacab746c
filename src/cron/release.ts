/**
 * Every minute: release schedules that come within the queue's delay limit (12 h). Such an email stays `scheduled`
 * (so it can still be canceled or rescheduled) and gets its queue message, delayed until its time. Rows that
 * already have a message for their current time (`next_attempt_at` set) are left alone, so a rescheduled email is
 * released for its new time only, and a canceled one never (it is no longer `scheduled`).
 */
import { and, eq, inArray, isNull, lte } from "drizzle-orm";
import { QUEUE_MAX_DELAY_SECONDS } from "../config";
import { getDb } from "../db/client";
import { emails } from "../db/schema";
import type { SendQueueMessage } from "../schemas/queue";
import { enqueueSends } from "./enqueue";

export const RELEASE_LIMIT = 500;

export async function release(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const released = await db
		.update(emails)
		.set({ nextAttemptAt: emails.scheduledAt, updatedAt: now })
		.where(
			inArray(
				emails.id,
				db
					.select({ id: emails.id })
					.from(emails)
					.where(
						and(
							// The open set's index: (next_attempt_at, scheduled_at) WHERE ended_at IS NULL.
							isNull(emails.endedAt),
							isNull(emails.nextAttemptAt),
							eq(emails.status, "scheduled"),
							lte(emails.scheduledAt, now + QUEUE_MAX_DELAY_SECONDS * 1000),
						),
					)
					.limit(RELEASE_LIMIT),
			),
		)
		.returning({ id: emails.id, tenantId: emails.tenantId, scheduledAt: emails.scheduledAt });
	await enqueueSends(
		env.SEND_QUEUE as Queue<SendQueueMessage>,
		released.map((r) => ({ v: 1 as const, id: r.id, tenantId: r.tenantId })),
		released.map((r) => Math.max(0, Math.ceil(((r.scheduledAt ?? now) - now) / 1000))),
	);
	return { released: released.length };
}
