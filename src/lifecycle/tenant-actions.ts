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
 * `accept`: the email rows in one transaction (with the caller's idempotency statements). Their `queued` /
 * `scheduled` event is the row itself (`created_at`, `scheduled_at`: src/db/emails.ts `timelineOf`), so nothing is
 * written to `email_events`; scheduled ones announce `email.scheduled`.
 */
export function acceptStatements(db: Db, rows: readonly (NewEmailRow & { id: string; status: EmailStatus })[], now: number): Statement[] {
	// They follow the rows' multi-row INSERT, so they are not guarded by `changes()`.
	const fanOuts = rows.flatMap((row) => {
		if (row.status !== "scheduled") return [];
		const detail = row.scheduledAt ? { scheduled_at: new Date(row.scheduledAt).toISOString() } : null;
		const statement = fanOutStatement(db, { emailId: row.id, tenantId: row.tenantId, type: "scheduled", at: now, detail }, false);
		return statement ? [statement] : [];
	});
	return [...chunkedInserts(db, emails, [...rows]), ...fanOuts];
}

type Change = {
	from: readonly EmailStatus[];
	to: EmailStatus;
	now: number;
	set?: Partial<EmailRow>;
	detail?: Record<string, unknown> | null;
	/** A further condition the row must meet. */
	where?: SQL;
	/** Statements to run first, in the same transaction (each guarded by the same conditions as the UPDATE). */
	before?: Statement[];
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
	const before = change.before ?? [];
	const results = (await runBatch(db, [
		...before,
		db
			.update(emails)
			.set({ ...change.set, status: change.to, lastEvent: change.to, updatedAt: change.now })
			.where(and(eq(emails.id, id), eq(emails.tenantId, tenantId), inArray(emails.status, [...change.from]), change.where))
			.returning(),
		...announced(db, { emailId: id, tenantId, type: change.to, at: change.now, detail: change.detail ?? null }),
	])) as unknown[];
	const row = (results[before.length] as EmailRow[])[0];
	return row ? { row, deliveryIds: deliveryIdsOf(results.slice(before.length)) } : undefined;
}

/**
 * Before a replay clears `sent_at` (the email's `sent` event): that event, kept as a row, so the history still says
 * it was sent once before it failed. Guarded like the replay itself.
 */
function sentEventRow(db: Db, tenantId: string, id: string): Statement {
	return db
		.insert(emailEvents)
		.select(
			db
				.select({
					emailId: emails.id,
					key: sql<string>`'o:sent:' || ${emails.sentAt}`.as("key"),
					tenantId: emails.tenantId,
					type: sql<string>`'sent'`.as("type"),
					at: sql<number>`${emails.sentAt}`.as("at"),
					provider: emails.provider,
					detail: sql<string>`json_object('provider_message_id', ${emails.providerMessageId}, 'attempt', ${emails.attempts})`.as("detail"),
					recordedAt: sql<number>`${emails.sentAt}`.as("recorded_at"),
				})
				.from(emails)
				.where(
					and(
						eq(emails.id, id),
						eq(emails.tenantId, tenantId),
						inArray(emails.status, [...TRANSITIONS.replay.from]),
						sql`${emails.sentAt} IS NOT NULL`,
						hasBody,
					),
				),
		)
		.onConflictDoNothing();
}

/** The email still has what it would send (retention empties html and text together). */
export const hasBody: SQL = sql`(${emails.html} IS NOT NULL OR ${emails.text} IS NOT NULL)`;

/**
 * `cancel`: only while no consumer has claimed it, and never once an attempt may have reached a provider: a row given
 * back `queued` but pinned (a lease that expired mid-send) is resolved at that provider, not taken back.
 */
export function cancelEmail(db: Db, tenantId: string, id: string, now: number) {
	return transition(db, tenantId, id, {
		from: TRANSITIONS.cancel.from,
		to: "canceled",
		now,
		set: { endedAt: now },
		where: isNull(emails.pinnedProvider),
	});
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
		before: [sentEventRow(db, tenantId, id)],
		set: {
			endedAt: null,
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
			.set({ status: "failed", lastEvent: "failed", attemptId: marker, leaseUntil: null, lastError: reason, endedAt: now, updatedAt: now })
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
