/**
 * `providerEvent`: what happened to an email after a provider accepted it — from provider webhooks, from the
 * reconciler's lookups and from the sandbox — recorded by one set of rules:
 *
 * - Every event is appended to `email_events`; a `dedupeKey` makes a replayed event a no-op.
 * - Only a newly recorded event has effects: its tenant-webhook deliveries, and for a hard bounce or a complaint
 *   the recipient's suppression. A replay (a provider retry, a captured request) re-adds nothing a tenant removed.
 * - Status only moves forward, by rank (./transitions.ts): a late `sent` never overwrites `delivered`; `bounced` and
 *   `complained` win over `delivered`; `failed` and `canceled` are final. Engagement (`opened`, `clicked`) moves
 *   `last_event` only. Both ranks are compared inside one UPDATE, which writes nothing when nothing moves, so
 *   out-of-order and replayed events converge. `updated_at` is our clock, never the provider's timestamp.
 *
 * The novelty chain: the event INSERT changes one row only when new; the suppression that may follow is an
 * INSERT … SELECT guarded by `changes() = 1` whose upsert always touches its one row, so it passes the same 1 or 0
 * on to the fan-out, which is guarded the same way.
 */
import { and, eq, or, type SQL, sql } from "drizzle-orm";
import { type Db, runBatch, type Statement } from "../db/client";
import { type EmailStatus, emailEvents, emails, suppressions } from "../db/schema";
import { deliveryIdsOf, fanOutStatement } from "../services/webhook-fanout";
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

/**
 * The statements that record `events`, for a `db.batch()` of the caller's (one round trip for many events).
 * `now` is our clock: it becomes the email's `updated_at`.
 */
export function eventStatements(db: Db, events: readonly ProviderEvent[], now: number): Statement[] {
	const statements: Statement[] = [];
	for (const event of events) {
		const status = statusOf(event);
		const detail = {
			...event.detail,
			...(event.bounce ? { bounce_type: event.bounce } : {}),
			...(event.recipient ? { recipient: event.recipient } : {}),
		};
		statements.push(
			db
				.insert(emailEvents)
				.values({
					emailId: event.emailId,
					tenantId: event.tenantId,
					type: event.type,
					at: event.at,
					provider: event.provider,
					detail: Object.keys(detail).length > 0 ? detail : null,
					dedupeKey: event.dedupeKey ?? null,
				})
				.onConflictDoNothing(),
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
		const statusRank = status === null ? -1 : STATUS_RANK[status];
		const eventRank = LAST_EVENT_RANK[event.type] ?? -1;
		const movesStatus = sql`${statusRank} > ${CURRENT_STATUS_RANK}`;
		const movesLastEvent = sql`(${eventRank} > ${CURRENT_EVENT_RANK} AND ${CURRENT_STATUS_RANK} < ${STATUS_RANK.failed})`;
		statements.push(
			db
				.update(emails)
				.set({
					status: sql`CASE WHEN ${movesStatus} THEN ${status ?? "queued"} ELSE "status" END`,
					lastEvent: sql`CASE WHEN ${movesLastEvent} THEN ${event.type} ELSE "last_event" END`,
					uncertainSince: sql`CASE WHEN ${movesStatus} THEN NULL ELSE "uncertain_since" END`,
					updatedAt: now,
				})
				.where(and(eq(emails.id, event.emailId), eq(emails.tenantId, event.tenantId), or(movesStatus, movesLastEvent))),
		);
	}
	return statements;
}

/** Records `events` in one D1 round trip; returns the webhook deliveries it created, to enqueue. */
export async function recordProviderEvents(db: Db, events: readonly ProviderEvent[], now: number = Date.now()): Promise<string[]> {
	const statements = eventStatements(db, events, now);
	if (statements.length === 0) return [];
	return deliveryIdsOf(await runBatch(db, statements));
}
