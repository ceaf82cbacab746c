/**
 * Transitions a tenant (or the queue giving up) makes outside a send attempt: accept, cancel, reschedule, dead-letter
 * replay, and the dead-letter consumer's `queueExhausted`.
 */
import { and, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { chunkedInserts, type Db, runBatch, type Statement } from "../db/client";
import { type EmailRow, type EmailStatus, emailEvents, emails, type NewEmailRow } from "../db/schema";
import { deliveryIdsOf, fanOutStatement } from "../services/webhook-fanout";
import { deadLetterIf } from "./attempts";
import { announced } from "./guarded";
import { TRANSITIONS } from "./transitions";

/**
 * `accept`: the email rows with their `queued` / `scheduled` events in one transaction (with the caller's
 * idempotency statements); scheduled ones announce `email.scheduled`.
 */
export function acceptStatements(db: Db, rows: readonly (NewEmailRow & { id: string; status: EmailStatus })[], now: number): Statement[] {
	const events = rows.map((row) => ({
		emailId: row.id,
		tenantId: row.tenantId,
		type: row.status,
		at: now,
		provider: null,
		detail: row.status === "scheduled" && row.scheduledAt ? { scheduled_at: new Date(row.scheduledAt).toISOString() } : null,
		dedupeKey: null,
	}));
	// These follow the events' multi-row INSERT, so they are not guarded by `changes()`.
	const fanOuts = events.flatMap((e) => {
		const statement = e.type === "scheduled" ? fanOutStatement(db, e, false) : null;
		return statement ? [statement] : [];
	});
	return [...chunkedInserts(db, emails, [...rows]), ...chunkedInserts(db, emailEvents, events), ...fanOuts];
}

type Change = {
	from: readonly EmailStatus[];
	to: EmailStatus;
	now: number;
	set?: Partial<EmailRow>;
	detail?: Record<string, unknown> | null;
	/** A further condition the row must meet. */
	where?: SQL;
};

/**
 * Moves one email to `to` only from one of `from`, with its event and webhook deliveries in the same transaction;
 * undefined when the email is absent or in another state (a lost race writes nothing).
 */
async function transition(
	db: Db,
	tenantId: string,
	id: string,
	change: Change,
): Promise<{ row: EmailRow; deliveryIds: string[] } | undefined> {
	const results = (await runBatch(db, [
		db
			.update(emails)
			.set({ ...change.set, status: change.to, lastEvent: change.to, updatedAt: change.now })
			.where(and(eq(emails.id, id), eq(emails.tenantId, tenantId), inArray(emails.status, [...change.from]), change.where))
			.returning(),
		...announced(db, { emailId: id, tenantId, type: change.to, at: change.now, detail: change.detail ?? null }),
	])) as unknown[];
	const row = (results[0] as EmailRow[])[0];
	return row ? { row, deliveryIds: deliveryIdsOf(results) } : undefined;
}

/** The email still has what it would send (retention empties html and text together). */
export const hasBody: SQL = sql`(${emails.html} IS NOT NULL OR ${emails.text} IS NOT NULL)`;

/**
 * `cancel`: only while no consumer has claimed it, and never once an attempt may have reached a provider: a row given
 * back `queued` but pinned (a lease that expired mid-send) is resolved at that provider, not taken back.
 */
export function cancelEmail(db: Db, tenantId: string, id: string, now: number) {
	return transition(db, tenantId, id, { from: TRANSITIONS.cancel.from, to: "canceled", now, where: isNull(emails.pinnedProvider) });
}

/** `reschedule`: a new `scheduled_at`; `nextAttemptAt` null when the release cron will enqueue it later. */
export function rescheduleEmail(
	db: Db,
	tenantId: string,
	id: string,
	at: { scheduledAt: number; nextAttemptAt: number | null; now: number },
) {
	return transition(db, tenantId, id, {
		from: TRANSITIONS.reschedule.from,
		to: "scheduled",
		now: at.now,
		set: { scheduledAt: at.scheduledAt, nextAttemptAt: at.nextAttemptAt },
		detail: { scheduled_at: new Date(at.scheduledAt).toISOString(), rescheduled: true },
	});
}

/**
 * `replay`: a dead-lettered email starts over: attempts from zero, unpinned, no provider id, through `provider`
 * (the operator's choice) or, when null, the tenant's order at the next claim. Only while its body is still there:
 * an email retention emptied would go out blank.
 */
export function replayFailedEmail(
	db: Db,
	tenantId: string,
	id: string,
	options: { now: number; provider: string | null; deadLetterId: string },
) {
	return transition(db, tenantId, id, {
		from: TRANSITIONS.replay.from,
		to: "queued",
		now: options.now,
		set: {
			attempts: 0,
			provider: options.provider,
			pinnedProvider: null,
			providerMessageId: null,
			sentAt: null,
			attemptId: null,
			uncertainSince: null,
			leaseUntil: null,
			lastError: null,
			nextAttemptAt: options.now,
		},
		detail: { replayed_from: options.deadLetterId, ...(options.provider ? { provider: options.provider } : {}) },
		where: hasBody,
	});
}

/**
 * `queueExhausted`: the queue gave up on this email's message. A row still waiting (`queued` or `scheduled`) fails
 * with a dead letter; rows that are `sending` or `uncertain` are left to the recover and reconcile crons.
 */
export function queueExhaustedStatements(
	db: Db,
	message: { emailId: string; tenantId: string; queueAttempts: number },
	now: number,
	marker: string,
): Statement[] {
	const reason = "queue retries exhausted";
	return [
		db
			.update(emails)
			.set({ status: "failed", lastEvent: "failed", attemptId: marker, leaseUntil: null, lastError: reason, updatedAt: now })
			.where(
				and(
					eq(emails.id, message.emailId),
					eq(emails.tenantId, message.tenantId),
					inArray(emails.status, [...TRANSITIONS.queueExhausted.from]),
				),
			),
		...announced(db, {
			emailId: message.emailId,
			tenantId: message.tenantId,
			type: "failed",
			at: now,
			detail: { reason, queue_attempts: message.queueAttempts },
		}),
		deadLetterIf(
			db,
			sql`EXISTS (SELECT 1 FROM "emails" WHERE "id" = ${message.emailId} AND "attempt_id" = ${marker} AND "status" = 'failed')`,
			{
				tenantId: message.tenantId,
				emailId: message.emailId,
				reason: "queue_retries_exhausted",
				provider: null,
				attempts: message.queueAttempts,
				lastError: reason,
				now,
			},
		),
	];
}
