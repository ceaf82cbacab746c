/**
 * `providerEvent`: what happened to an email after a provider accepted it — from provider webhooks, from the
 * reconciler's lookups and from the sandbox — recorded by one set of rules:
 *
 * - Every event is recorded once: the one that moves the status is held on the email row (`status_event`), every
 *   other one is an `email_events` row; its `dedupeKey` (the provider's event id, or a hash) makes a replay a no-op
 *   either way. The row holds only the latest: a later status move first turns the held one into a row.
 * - Only a newly recorded event has effects: its tenant-webhook deliveries, and for a hard bounce or a complaint
 *   the recipient's suppression. A replay (a provider retry, a captured request) re-adds nothing a tenant removed.
 * - Status only moves forward, by rank (./transitions.ts): a late `delivery_delayed` never overwrites `delivered`;
 *   `bounced` and `complained` win over `delivered`; `failed` and `canceled` are final. Engagement (`opened`,
 *   `clicked`) moves `last_event` only. Both ranks are compared inside the statements, which write nothing when
 *   nothing moves, so out-of-order and replayed events converge. `updated_at` is our clock, never the provider's.
 * - A final status (delivered, bounced, complained, failed) takes the email out of the open set (`ended_at`).
 * - A provider's own `sent` report only settles an email whose send answer never came (see `providerSent`).
 *
 * The novelty chain: the email UPDATE touches its row exactly when the event is new; the suppression that may follow
 * is an INSERT … SELECT guarded by `changes() = 1` whose upsert always touches its one row, so it passes the same 1
 * or 0 on to the fan-out, which is guarded the same way.
 */
import { and, eq, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import { type Db, runBatch, type Statement } from "../db/client";
import { type EmailStatus, emailEvents, emails, suppressions } from "../db/schema";
import { deliveryIdsOf, fanOutStatement } from "../services/webhook-fanout";
import { ownEventKey } from "./guarded";
import { LAST_EVENT_RANK, STATUS_RANK } from "./transitions";

export const PROVIDER_EVENT_TYPES = [
	"sent",
	"delivery_delayed",
	"delivered",
	"bounced",
	"complained",
	"failed",
	"opened",
	"clicked",
] as const;
export type ProviderEventType = (typeof PROVIDER_EVENT_TYPES)[number];

export type ProviderEvent = {
	emailId: string;
	tenantId: string;
	type: ProviderEventType;
	/** When it happened, per the provider (epoch ms): the event's time, never the email's `updated_at`. */
	at: number;
	provider: string | null;
	/** For bounces: a hard bounce ends delivery and suppresses; a soft one only delays it. */
	bounce?: "hard" | "soft";
	/** The recipient the event is about, where the provider says. */
	recipient?: string;
	detail?: Record<string, unknown>;
	dedupeKey?: string;
	/** The provider's id of the message, where the event names it (recorded by a `sent` report; see providerSent). */
	providerMessageId?: string;
};

/** The status an event moves to, or null for engagement, which never changes the status. */
export function statusOf(event: Pick<ProviderEvent, "type" | "bounce">): EmailStatus | null {
	switch (event.type) {
		case "opened":
		case "clicked":
			return null;
		case "bounced":
			return event.bounce === "soft" ? "delivery_delayed" : "bounced";
		default:
			return event.type;
	}
}

/** `CASE column WHEN 'a' THEN 0 … END` from a rank table (constants only, so no bound parameters). */
function rankOf(column: string, ranks: Record<string, number>): SQL {
	const whens = Object.entries(ranks)
		.map(([value, rank]) => `WHEN '${value}' THEN ${rank}`)
		.join(" ");
	return sql.raw(`(CASE ${column} ${whens} ELSE -1 END)`);
}

const CURRENT_STATUS_RANK = rankOf('"status"', STATUS_RANK);
const CURRENT_EVENT_RANK = rankOf('"last_event"', LAST_EVENT_RANK);

/** The reason a recipient is suppressed by this event, if it is one that suppresses. */
function suppressionReason(event: ProviderEvent): string | null {
	if (!event.recipient) return null;
	const status = statusOf(event);
	if (status === "bounced") return "hard_bounce";
	if (status === "complained") return "complaint";
	return null;
}

/** Statuses after which the email leaves the open set: nothing a cron could do for it any more. */
const FINAL: ReadonlySet<EmailStatus> = new Set(["delivered", "bounced", "complained", "failed", "canceled"]);

/** The email (matched by id and tenant) as the row of one SELECT, for INSERT … SELECT. */
function theEmail(event: ProviderEvent): SQL | undefined {
	return and(eq(emails.id, event.emailId), eq(emails.tenantId, event.tenantId));
}

/**
 * The statements that record `events`, for a `db.batch()` of the caller's (one round trip for many events).
 * `now` is our clock: it becomes the email's `updated_at` and orders its events.
 *
 * Per event, in order (see the module comment for the rules they implement):
 * 1. spill — when this event moves the status and the row holds an earlier status event, that one becomes an
 *    `email_events` row (the row only ever holds the latest);
 * 2. row — an event that does not move the status (engagement, a late or repeated report, a second recipient's
 *    delivery) is an `email_events` row, deduplicated by its key, unless it is the one the row already holds;
 * 3. the UPDATE — moves the status (holding this event in `status_event`, leaving the open set when final) or,
 *    for a new event from step 2, `last_event`; it touches the row exactly when the event is new, so
 *    `changes() = 1` after it means "new" for the suppression and the fan-out that follow.
 * The common path (sent → delivered) is one row written: the UPDATE.
 */
export function eventStatements(db: Db, events: readonly ProviderEvent[], now: number): Statement[] {
	const statements: Statement[] = [];
	for (const event of events) {
		if (event.type === "sent") {
			statements.push(...providerSent(db, event, now));
			continue;
		}
		const status = statusOf(event);
		const detail = {
			...event.detail,
			...(event.bounce ? { bounce_type: event.bounce } : {}),
			...(event.recipient ? { recipient: event.recipient } : {}),
		};
		const detailJson = Object.keys(detail).length > 0 ? JSON.stringify(detail) : null;
		const key = event.dedupeKey ?? ownEventKey(now);
		const statusRank = status === null ? -1 : STATUS_RANK[status];
		const eventRank = LAST_EVENT_RANK[event.type] ?? -1;
		const moves = sql`(${statusRank} > ${CURRENT_STATUS_RANK})`;
		const movesLastEvent = sql`(${eventRank} > ${CURRENT_EVENT_RANK} AND ${CURRENT_STATUS_RANK} < ${STATUS_RANK.failed})`;
		const held = sql`json_extract(${emails.statusEvent}, '$.key')`;

		if (status !== null) {
			statements.push(
				db
					.insert(emailEvents)
					.select(
						db
							.select({
								emailId: emails.id,
								key: sql<string>`${held}`.as("key"),
								tenantId: emails.tenantId,
								type: sql<string>`json_extract(${emails.statusEvent}, '$.type')`.as("type"),
								at: sql<number>`json_extract(${emails.statusEvent}, '$.at')`.as("at"),
								provider: sql<string | null>`json_extract(${emails.statusEvent}, '$.provider')`.as("provider"),
								detail: sql<string | null>`json_extract(${emails.statusEvent}, '$.detail')`.as("detail"),
								recordedAt: sql<number>`json_extract(${emails.statusEvent}, '$.recordedAt')`.as("recorded_at"),
							})
							.from(emails)
							.where(and(theEmail(event), sql`${emails.statusEvent} IS NOT NULL`, moves)),
					)
					.onConflictDoNothing(),
			);
		}
		statements.push(
			db
				.insert(emailEvents)
				.select(
					db
						.select({
							emailId: emails.id,
							key: sql<string>`${key}`.as("key"),
							tenantId: emails.tenantId,
							type: sql<string>`${event.type}`.as("type"),
							at: sql<number>`${event.at}`.as("at"),
							provider: sql<string | null>`${event.provider}`.as("provider"),
							detail: sql<string | null>`${detailJson}`.as("detail"),
							recordedAt: sql<number>`${now}`.as("recorded_at"),
						})
						.from(emails)
						.where(and(theEmail(event), sql`NOT ${moves}`, sql`(${emails.statusEvent} IS NULL OR ${held} <> ${key})`)),
				)
				.onConflictDoNothing(),
		);
		const heldEvent = sql`json_object('key', ${key}, 'type', ${event.type}, 'at', ${event.at}, 'provider', ${event.provider}, 'detail', json(${detailJson}), 'recordedAt', ${now})`;
		const ends = status !== null && FINAL.has(status);
		statements.push(
			db
				.update(emails)
				.set({
					status: sql`CASE WHEN ${moves} THEN ${status ?? "queued"} ELSE "status" END`,
					lastEvent: sql`CASE WHEN ${movesLastEvent} THEN ${event.type} ELSE "last_event" END`,
					statusEvent: sql`CASE WHEN ${moves} THEN ${heldEvent} ELSE "status_event" END`,
					uncertainSince: sql`CASE WHEN ${moves} THEN NULL ELSE "uncertain_since" END`,
					...(ends ? { endedAt: sql`CASE WHEN ${moves} THEN COALESCE("ended_at", ${now}) ELSE "ended_at" END` } : {}),
					updatedAt: now,
				})
				// For an event that moves the status the row statement wrote nothing (changes() = 0), so `moves`
				// decides; otherwise `changes() = 1` says the row statement just recorded a new one.
				.where(and(theEmail(event), or(moves, sql`changes() = 1`))),
		);
		const reason = suppressionReason(event);
		if (reason !== null && event.recipient) {
			statements.push(
				db
					.insert(suppressions)
					.select(
						db
							.select({
								tenantId: sql<string>`${event.tenantId}`.as("tenant_id"),
								email: sql<string>`${event.recipient.toLowerCase()}`.as("email"),
								reason: sql<string>`${reason}`.as("reason"),
								source: sql<string>`${`${event.provider ?? "provider"}:${event.type}:${event.emailId}`}`.as("source"),
								createdAt: sql<number>`${now}`.as("created_at"),
							})
							.from(sql`(SELECT 1)`)
							.where(sql`changes() = 1`),
					)
					// Touches the row either way (a no-op assignment), so `changes()` stays 1 for the fan-out below; a
					// suppression the tenant already has keeps its reason and source.
					.onConflictDoUpdate({ target: [suppressions.tenantId, suppressions.email], set: { email: sql`excluded.email` } }),
			);
		}
		const fanOut = fanOutStatement(db, { tenantId: event.tenantId, emailId: event.emailId, type: event.type, at: event.at, detail });
		if (fanOut) statements.push(fanOut);
	}
	return statements;
}

/**
 * A provider's own "sent" report (Resend's `email.sent`, SendGrid's `processed`…). Our `sent` comes from the send
 * call's answer, so the report is news only for an email whose answer never came (`uncertain`, or `queued` again
 * after its lease expired): then it proves the send, and the email is marked sent (its `sent_at`, tenants hear
 * `email.sent` once). An email being sent right now (`sending`) waits for its own answer; for one already sent the
 * report is a duplicate and writes nothing.
 */
function providerSent(db: Db, event: ProviderEvent, now: number): Statement[] {
	const update = db
		.update(emails)
		.set({
			status: "sent",
			lastEvent: sql`CASE WHEN ${CURRENT_EVENT_RANK} < ${LAST_EVENT_RANK.sent} THEN 'sent' ELSE "last_event" END`,
			sentAt: now,
			...(event.providerMessageId ? { providerMessageId: sql`COALESCE("provider_message_id", ${event.providerMessageId})` } : {}),
			pinnedProvider: sql`COALESCE("pinned_provider", "provider")`,
			uncertainSince: null,
			leaseUntil: null,
			updatedAt: now,
		})
		.where(and(theEmail(event), isNull(emails.sentAt), inArray(emails.status, ["queued", "uncertain"])));
	const fanOut = fanOutStatement(db, {
		tenantId: event.tenantId,
		emailId: event.emailId,
		type: "sent",
		at: now,
		detail: { ...event.detail, source: "provider_event" },
	});
	return fanOut ? [update, fanOut] : [update];
}

/** Records `events` in one D1 round trip; returns the webhook deliveries it created, to enqueue. */
export async function recordProviderEvents(db: Db, events: readonly ProviderEvent[], now: number = Date.now()): Promise<string[]> {
	const statements = eventStatements(db, events, now);
	if (statements.length === 0) return [];
	return deliveryIdsOf(await runBatch(db, statements));
}
