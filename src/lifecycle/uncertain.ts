/**
 * How an `uncertain` email is resolved (reconcile cron). An episode begins when the email becomes uncertain
 * (`uncertain_since`); what the provider says is counted within the episode only, so an email uncertain for the
 * second time needs two fresh "not found" answers before it is sent again.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db, Statement } from "../db/client";
import { emailEvents, emails } from "../db/schema";
import { deadLetterIf, markSent } from "./attempts";
import { announced, eventIfChanged, ownEventKey } from "./guarded";

type UncertainEmail = { emailId: string; tenantId: string; provider: string };

export const NOT_FOUND_EVENT = "not_found_at_provider";
export const UNRESOLVED_REASON = "unresolved_at_provider";

/** `foundAtProvider`: a lookup found the email: it was sent once, there. */
export function foundAtProvider(db: Db, email: UncertainEmail, found: { providerMessageId: string | null; now: number }): Statement[] {
	// Without the provider's id there is nothing to record it by; `markSent` needs an id to make "sent" a fact once.
	return markSent(
		db,
		{ emailId: email.emailId, tenantId: email.tenantId, attempt: null },
		{
			provider: email.provider,
			providerMessageId: found.providerMessageId ?? `${email.provider}:found:${email.emailId}`,
			now: found.now,
			source: "reconcile",
		},
	);
}

/** One "not found" answer in this episode: an event only, written while the email is still uncertain. */
export function notFoundAtProvider(db: Db, email: UncertainEmail, now: number): Statement {
	return db.insert(emailEvents).select(
		db
			.select({
				emailId: emails.id,
				key: sql<string>`${ownEventKey(now)}`.as("key"),
				tenantId: emails.tenantId,
				type: sql<string>`${NOT_FOUND_EVENT}`.as("type"),
				at: sql<number>`${now}`.as("at"),
				provider: sql<string>`${email.provider}`.as("provider"),
				detail: sql<null>`NULL`.as("detail"),
				recordedAt: sql<number>`${now}`.as("recorded_at"),
			})
			.from(emails)
			.where(and(eq(emails.id, email.emailId), eq(emails.tenantId, email.tenantId), eq(emails.status, "uncertain"))),
	);
}

/**
 * `notSentAtProvider`: a second "not found" in the episode, an interval after the first: it never was sent. Back to
 * `queued`, unpinned (the provider has no copy, so no second send can happen anywhere), to be sent once.
 */
export function notSentAtProvider(db: Db, email: UncertainEmail, now: number): Statement[] {
	return [
		db
			.update(emails)
			.set({
				status: "queued",
				lastEvent: "queued",
				pinnedProvider: null,
				uncertainSince: null,
				leaseUntil: null,
				nextAttemptAt: now,
				lastError: null,
				updatedAt: now,
			})
			.where(and(eq(emails.id, email.emailId), eq(emails.tenantId, email.tenantId), eq(emails.status, "uncertain"))),
		eventIfChanged(db, {
			emailId: email.emailId,
			tenantId: email.tenantId,
			type: "queued",
			at: now,
			provider: email.provider,
			detail: { reason: "not found at the provider" },
		}),
	];
}

/**
 * `unresolved`: still uncertain UNRESOLVED_AFTER_SECONDS into its episode (no lookup possible, or lookups keep
 * failing). It ends `failed` with reason `unresolved_at_provider` and a dead letter an operator may replay
 * deliberately, knowing the provider might have sent it.
 */
export function giveUpUnresolved(db: Db, email: UncertainEmail & { attempts: number }, now: number, marker: string): Statement[] {
	const reason = `${UNRESOLVED_REASON}: ${email.provider} never confirmed or denied the send`;
	return [
		db
			.update(emails)
			.set({ status: "failed", lastEvent: "failed", attemptId: marker, lastError: reason, endedAt: now, updatedAt: now })
			.where(and(eq(emails.id, email.emailId), eq(emails.tenantId, email.tenantId), eq(emails.status, "uncertain"))),
		...announced(db, {
			emailId: email.emailId,
			tenantId: email.tenantId,
			type: "failed",
			at: now,
			provider: email.provider,
			detail: { reason: UNRESOLVED_REASON },
		}),
		deadLetterIf(
			db,
			sql`EXISTS (SELECT 1 FROM "emails" WHERE "id" = ${email.emailId} AND "attempt_id" = ${marker} AND "status" = 'failed')`,
			{
				tenantId: email.tenantId,
				emailId: email.emailId,
				reason: UNRESOLVED_REASON,
				provider: email.provider,
				attempts: email.attempts,
				lastError: reason,
				now,
			},
		),
	];
}
