/**
 * Statement builders for send attempts: claim, reassign, and every outcome an attempt can have. Each returns
 * statements for the caller's `db.batch()` (one round trip for a whole consumed batch) and names its transition
 * in ./transitions.ts.
 *
 * An attempt is identified by the token its claim wrote (`attempt_id`): every outcome UPDATE is guarded by
 * `attempt_id = token AND status = 'sending'`, and the inserts that follow it (events, dead letters, suppressions)
 * by the same facts, so an attempt whose lease expired — and whose row another attempt or the recover cron has
 * since taken — writes nothing. The one exception is `markSent`: that a provider accepted the email is a fact
 * whenever it is recorded, provided the email is still attributed to that provider and has no provider id yet.
 */
import { and, eq, inArray, isNull, notInArray, type SQL, sql } from "drizzle-orm";
import { chunk, type Db, type Statement } from "../db/client";
import { deadLetters, type EmailRow, emailEvents, emails, suppressions } from "../db/schema";
import { newEmailId } from "../lib/ids";
import { announced, announcedByRow, eventIfChanged, ownEventKey, sqlNameList } from "./guarded";

/** One claim of one email: the token the claim wrote and the attempt number it reached. */
export type AttemptRef = { emailId: string; tenantId: string; attemptId: string; attempt: number };

export function attemptOf(row: EmailRow): AttemptRef {
	return { emailId: row.id, tenantId: row.tenantId, attemptId: row.attemptId ?? "", attempt: row.attempts };
}

/** The row is still this attempt's: nobody re-claimed, expired or otherwise moved it since. */
function owned(ref: AttemptRef): SQL | undefined {
	return and(
		eq(emails.id, ref.emailId),
		eq(emails.tenantId, ref.tenantId),
		eq(emails.attemptId, ref.attemptId),
		eq(emails.status, "sending"),
	);
}

/** For inserts that follow an outcome UPDATE: the UPDATE took effect (the row is in `status` under this token). */
function stillOwnedAs(ref: AttemptRef, status: string): SQL {
	return sql`EXISTS (SELECT 1 FROM "emails" WHERE "id" = ${ref.emailId} AND "attempt_id" = ${ref.attemptId} AND "status" = ${status})`;
}

/** Ids per claim or expiry statement: D1 binds at most 100 parameters; each statement binds a few besides the ids. */
export const IDS_PER_STATEMENT = 80;

export type ClaimOptions = {
	now: number;
	/** Token of this claim; every outcome of the attempts it starts is guarded by it. */
	attemptId: string;
	leaseUntil: number;
	/** Scheduled rows due by then are claimed too (queue delays are whole seconds). */
	dueBy: number;
	/** Providers the deployment can call (configured, with credentials). */
	available: readonly string[];
	/** The first of them in the deployment's order, for tenants without an order of their own. */
	defaultProvider: string | null;
};

/**
 * `claim`: `queued` rows (and `scheduled` ones now due) among `ids` become `sending` under a new attempt token,
 * with a lease and `attempts + 1`. The provider of the attempt is fixed here, before any call: the pinned one, else
 * the one the row names (after a failover, the next), else the first available of the tenant's order, else the
 * deployment's first. RETURNs the claimed rows.
 */
export function claimForSending(db: Db, ids: readonly string[], options: ClaimOptions): Statement[] {
	const firstOfTenant = sql`(SELECT j.value FROM "tenants" AS t, json_each(t.providers) AS j WHERE t.id = "emails"."tenant_id" AND j.value IN (${sqlNameList(options.available)}) ORDER BY j.key LIMIT 1)`;
	return chunk(ids, IDS_PER_STATEMENT).map((part) =>
		db
			.update(emails)
			.set({
				status: "sending",
				attemptId: options.attemptId,
				leaseUntil: options.leaseUntil,
				attempts: sql`${emails.attempts} + 1`,
				provider: sql`COALESCE(${emails.pinnedProvider}, ${emails.provider}, ${firstOfTenant}, ${options.defaultProvider})`,
				updatedAt: options.now,
			})
			.where(
				and(
					inArray(emails.id, part),
					sql`(${emails.status} = 'queued' OR (${emails.status} = 'scheduled' AND ${emails.scheduledAt} <= ${options.dueBy}))`,
				),
			)
			.returning(),
	);
}

export type ExpiryOptions = {
	now: number;
	/** A fresh token marking the rows this expiry moved, so their events can be written in the same batch. */
	marker: string;
	maxAttempts: number;
	/** Providers that deduplicate by our id (for `windowMs` after the email's first possible call, or for ever). */
	idempotent: readonly { name: string; windowMs: number | null }[];
};

export const LEASE_EXPIRED = "lease expired during the provider call";

/**
 * `expireLease`: `sending` rows among `ids` whose lease has run out. The attempt may have reached its provider (the
 * claim recorded which one), so: back to `queued`, pinned to that provider, where it deduplicates by our id and
 * attempts remain; `queued` unpinned where no provider was ever assigned; otherwise `uncertain` for the reconciler.
 * The one rule for the consumer (a redelivered message) and the recover cron. RETURNs id, tenant and new status.
 */
export function expireLeases(db: Db, ids: readonly string[], options: ExpiryOptions): Statement[] {
	const noProvider = sql`${emails.provider} IS NULL`;
	const forever = options.idempotent.filter((d) => d.windowMs === null).map((d) => d.name);
	const windowed = options.idempotent.flatMap((d) =>
		d.windowMs === null
			? []
			: [
					sql`(${emails.provider} = ${d.name} AND MAX(${emails.createdAt}, COALESCE(${emails.scheduledAt}, 0)) > ${options.now - d.windowMs})`,
				],
	);
	const deduplicates = sql.join([sql`${emails.provider} IN (${sqlNameList(forever)})`, ...windowed], sql` OR `);
	const requeue = sql`(${noProvider} OR ((${deduplicates}) AND ${emails.attempts} < ${options.maxAttempts}))`;
	return chunk(ids, IDS_PER_STATEMENT).flatMap((part) => [
		db
			.update(emails)
			.set({
				status: sql`CASE WHEN ${requeue} THEN 'queued' ELSE 'uncertain' END`,
				lastEvent: sql`CASE WHEN ${requeue} THEN ${emails.lastEvent} ELSE 'uncertain' END`,
				pinnedProvider: sql`CASE WHEN ${requeue} AND NOT ${noProvider} THEN ${emails.provider} ELSE ${emails.pinnedProvider} END`,
				uncertainSince: sql`CASE WHEN ${requeue} THEN NULL ELSE ${options.now} END`,
				nextAttemptAt: sql`CASE WHEN ${requeue} THEN ${options.now} ELSE ${emails.nextAttemptAt} END`,
				leaseUntil: null,
				attemptId: options.marker,
				lastError: LEASE_EXPIRED,
				updatedAt: options.now,
			})
			.where(and(inArray(emails.id, part), eq(emails.status, "sending"), sql`${emails.leaseUntil} < ${options.now}`))
			.returning({ id: emails.id, tenantId: emails.tenantId, status: emails.status }),
		db.insert(emailEvents).select(
			db
				.select({
					emailId: emails.id,
					key: sql<string>`${ownEventKey(options.now)}`.as("key"),
					tenantId: emails.tenantId,
					type: sql<string>`CASE ${emails.status} WHEN 'uncertain' THEN 'uncertain' ELSE 'lease_expired' END`.as("type"),
					at: sql<number>`${options.now}`.as("at"),
					provider: emails.provider,
					detail: sql<string>`json_object('reason', ${LEASE_EXPIRED}, 'attempt', ${emails.attempts}, 'then', ${emails.status})`.as(
						"detail",
					),
					recordedAt: sql<number>`${options.now}`.as("recorded_at"),
				})
				.from(emails)
				.where(and(inArray(emails.id, part), eq(emails.attemptId, options.marker))),
		),
	]);
}

/** `reassign`: the attempt will call `provider` instead of the claimed one (never for a pinned email). RETURNs id. */
export function reassignProvider(db: Db, ref: AttemptRef, provider: string, now: number): Statement {
	return db
		.update(emails)
		.set({ provider, updatedAt: now })
		.where(and(owned(ref), isNull(emails.pinnedProvider)))
		.returning({ id: emails.id });
}

export type SentOutcome = {
	provider: string;
	providerMessageId: string;
	now: number;
	/**
	 * Nothing more is expected of it that a cron could act on: the provider cannot be asked about it (SMTP, SES,
	 * Cloudflare Email Sending), so it leaves the open set now (`ended_at`); a later delivery event still applies.
	 */
	ends?: boolean;
};

/**
 * `markSent`: the provider accepted the email. Applied while the email is still attributed to that provider and has
 * no provider id, whatever attempt holds it now: a late answer from an expired attempt is still the truth, and a
 * provider event that arrived first (delivered) keeps its status. Nothing is written for a failed or canceled email.
 * Its `sent` event is the row's own `sent_at` (no `email_events` row); tenants still hear `email.sent`.
 */
export function markSent(
	db: Db,
	email: { emailId: string; tenantId: string; attempt: number | null },
	sent: SentOutcome & { source?: string },
): Statement[] {
	const notYetSent = sql`${emails.status} IN ('sending', 'queued', 'uncertain')`;
	return [
		db
			.update(emails)
			.set({
				status: sql`CASE WHEN ${notYetSent} THEN 'sent' ELSE ${emails.status} END`,
				lastEvent: sql`CASE WHEN ${notYetSent} THEN 'sent' ELSE ${emails.lastEvent} END`,
				providerMessageId: sent.providerMessageId,
				sentAt: sent.now,
				leaseUntil: null,
				lastError: null,
				uncertainSince: null,
				...(sent.ends ? { endedAt: sql`COALESCE(${emails.endedAt}, ${sent.now})` } : {}),
				updatedAt: sent.now,
			})
			.where(
				and(
					eq(emails.id, email.emailId),
					eq(emails.tenantId, email.tenantId),
					eq(emails.provider, sent.provider),
					isNull(emails.providerMessageId),
					notInArray(emails.status, ["failed", "canceled"]),
				),
			),
		...announcedByRow(db, {
			emailId: email.emailId,
			tenantId: email.tenantId,
			type: "sent",
			at: sent.now,
			provider: sent.provider,
			detail: {
				provider_message_id: sent.providerMessageId,
				...(email.attempt !== null ? { attempt: email.attempt } : {}),
				...(sent.source ? { source: sent.source } : {}),
			},
		}),
	];
}

export type RetryOutcome = {
	now: number;
	/** The provider this attempt called (null when none could be). */
	provider: string | null;
	/** The provider the next attempt will use. */
	next: string | null;
	/** The email may have been sent at this provider: from now on only retried there. */
	pin?: string | undefined;
	delaySeconds: number;
	error: Record<string, unknown> & { error: string };
};

/** `retry`: back to `queued` for another attempt after `delaySeconds`, with an `attempt_failed` event. */
export function retryLater(db: Db, ref: AttemptRef, outcome: RetryOutcome): Statement[] {
	return [
		db
			.update(emails)
			.set({
				status: "queued",
				provider: outcome.next,
				...(outcome.pin ? { pinnedProvider: outcome.pin } : {}),
				leaseUntil: null,
				lastError: outcome.error.error,
				nextAttemptAt: outcome.now + outcome.delaySeconds * 1000,
				updatedAt: outcome.now,
			})
			.where(owned(ref)),
		eventIfChanged(db, {
			emailId: ref.emailId,
			tenantId: ref.tenantId,
			type: "attempt_failed",
			at: outcome.now,
			provider: outcome.provider,
			detail: {
				attempt: ref.attempt,
				retry_in_seconds: outcome.delaySeconds,
				...(outcome.next && outcome.next !== outcome.provider ? { failover_to: outcome.next } : {}),
				...(outcome.pin ? { pinned_to: outcome.pin } : {}),
				...outcome.error,
			},
		}),
	];
}

/**
 * `giveBack`: no provider was called, so the claim's attempt is taken back and the row waits `delaySeconds` for a
 * new queue message. `provider` moves it on to another provider (an open circuit) when it is not pinned.
 */
export function giveBack(
	db: Db,
	ref: AttemptRef,
	options: { now: number; delaySeconds: number; provider?: string | undefined },
): Statement {
	return db
		.update(emails)
		.set({
			status: "queued",
			attempts: sql`${emails.attempts} - 1`,
			...(options.provider ? { provider: sql`COALESCE(${emails.pinnedProvider}, ${options.provider})` } : {}),
			leaseUntil: null,
			nextAttemptAt: options.now + options.delaySeconds * 1000,
			updatedAt: options.now,
		})
		.where(owned(ref));
}

/** `markUncertain`: the provider may or may not have it; the reconciler decides, never a blind resend. */
export function markUncertain(
	db: Db,
	ref: AttemptRef,
	outcome: { now: number; provider: string; error: Record<string, unknown> & { error: string } },
): Statement[] {
	return [
		db
			.update(emails)
			.set({
				status: "uncertain",
				lastEvent: "uncertain",
				provider: outcome.provider,
				uncertainSince: outcome.now,
				leaseUntil: null,
				lastError: outcome.error.error,
				updatedAt: outcome.now,
			})
			.where(owned(ref)),
		eventIfChanged(db, {
			emailId: ref.emailId,
			tenantId: ref.tenantId,
			type: "uncertain",
			at: outcome.now,
			provider: outcome.provider,
			detail: { attempt: ref.attempt, ...outcome.error },
		}),
	];
}

export type FailOutcome = {
	now: number;
	provider: string | null;
	reason: string;
	error?: Record<string, unknown> | undefined;
	/** Why it is dead-lettered (replayable by the tenant), or nothing for a refusal that would fail again. */
	deadLetter?: string | undefined;
	/** Recipients the provider refuses for good: added to the tenant's suppressions. */
	suppress?: readonly string[] | undefined;
};

/** `fail`: the email ends `failed`, with its event, webhook deliveries, and optionally a dead letter and suppressions. */
export function failAttempt(db: Db, ref: AttemptRef, outcome: FailOutcome): Statement[] {
	const statements: Statement[] = [
		db
			.update(emails)
			.set({
				status: "failed",
				lastEvent: "failed",
				provider: outcome.provider,
				leaseUntil: null,
				lastError: outcome.reason,
				endedAt: outcome.now,
				updatedAt: outcome.now,
			})
			.where(owned(ref)),
		...announced(db, {
			emailId: ref.emailId,
			tenantId: ref.tenantId,
			type: "failed",
			at: outcome.now,
			provider: outcome.provider,
			detail: { reason: outcome.reason, attempt: ref.attempt, ...outcome.error },
		}),
	];
	const applied = stillOwnedAs(ref, "failed");
	if (outcome.deadLetter) {
		statements.push(
			deadLetterIf(db, applied, {
				tenantId: ref.tenantId,
				emailId: ref.emailId,
				reason: outcome.deadLetter,
				provider: outcome.provider,
				attempts: ref.attempt,
				lastError: outcome.reason,
				now: outcome.now,
			}),
		);
	}
	for (const email of outcome.suppress ?? []) {
		statements.push(
			db
				.insert(suppressions)
				.select(
					db
						.select({
							tenantId: sql<string>`${ref.tenantId}`.as("tenant_id"),
							email: sql<string>`${email.toLowerCase()}`.as("email"),
							reason: sql<string>`'inactive_recipient'`.as("reason"),
							source: sql<string>`${`${outcome.provider ?? "provider"}:rejected:${ref.emailId}`}`.as("source"),
							createdAt: sql<number>`${outcome.now}`.as("created_at"),
						})
						.from(sql`(SELECT 1)`)
						.where(applied),
				)
				.onConflictDoNothing(),
		);
	}
	return statements;
}

/** A dead-letter row, inserted only where `condition` holds (the failing UPDATE before it took effect). */
export function deadLetterIf(
	db: Db,
	condition: SQL,
	letter: { tenantId: string; emailId: string; reason: string; provider: string | null; attempts: number; lastError: string; now: number },
): Statement {
	return db.insert(deadLetters).select(
		db
			.select({
				id: sql<string>`${newEmailId(letter.now)}`.as("id"),
				tenantId: sql<string>`${letter.tenantId}`.as("tenant_id"),
				emailId: sql<string>`${letter.emailId}`.as("email_id"),
				reason: sql<string>`${letter.reason}`.as("reason"),
				provider: sql<string | null>`${letter.provider}`.as("provider"),
				attempts: sql<number>`${letter.attempts}`.as("attempts"),
				lastError: sql<string>`${letter.lastError}`.as("last_error"),
				payload: sql<null>`NULL`.as("payload"),
				createdAt: sql<number>`${letter.now}`.as("created_at"),
				replayedAt: sql<null>`NULL`.as("replayed_at"),
			})
			.from(sql`(SELECT 1)`)
			.where(condition),
	);
}
