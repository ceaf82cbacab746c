/**
 * Every minute: release schedules that come within the queue's delay limit (12 h). Such an email stays `scheduled`
 * (so it can still be canceled or rescheduled) and gets its queue message, delayed until its time. Rows that
 * already have a message for their current time (`next_attempt_at` set) are left alone, so a rescheduled email is
 * released for its new time only, and a canceled one never (it is no longer `scheduled`).
 */
import { eq, isNull, lte } from "drizzle-orm";
import { QUEUE_MAX_DELAY_SECONDS } from "../config";
import { getDb } from "../db/client";
import { inFlightSlice } from "../db/emails";
import { emails } from "../db/schema";
import { enqueueSends } from "./enqueue";

export const RELEASE_LIMIT = 500;

export async function release(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const released = await db
		.update(emails)
		.set({ nextAttemptAt: emails.scheduledAt, updatedAt: now })
		.where(
			// Through the open set's index: (next_attempt_at, scheduled_at) WHERE ended_at IS NULL.
			inFlightSlice(
				db,
				RELEASE_LIMIT,
				isNull(emails.nextAttemptAt),
				eq(emails.status, "scheduled"),
				lte(emails.scheduledAt, now + QUEUE_MAX_DELAY_SECONDS * 1000),
			),
		)
		.returning({ id: emails.id, tenantId: emails.tenantId, priority: emails.priority, scheduledAt: emails.scheduledAt });
	await enqueueSends(
		env,
		released.map((r) => ({ ...r, delaySeconds: Math.max(0, Math.ceil(((r.scheduledAt ?? now) - now) / 1000)) })),
	);
	return { released: released.length };
}
