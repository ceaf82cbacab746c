/**
 * Recording what happened to an email after a provider accepted it: sandbox simulations now, provider webhooks
 * and reconciliation later, all through `eventStatements` so every source obeys the same rules (DESIGN §5):
 *
 * - Status only moves forward, by rank: a late `sent` never overwrites `delivered`; `bounced` and `complained`
 *   win over `delivered`; `failed` and `canceled` are final. Engagement (`opened`, `clicked`) moves `last_event`
 *   only. Both ranks are compared inside one UPDATE, so out-of-order and replayed events converge.
 * - Every event is appended to `email_events`; a `dedupeKey` makes a replayed event a no-op.
 * - A hard bounce or a complaint suppresses the recipient for the tenant.
 * - Each newly recorded event fans out to the tenant's webhook endpoints (services/webhook-fanout.ts).
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { type Db, runBatch, type Statement } from "../db/client";
import { type EmailStatus, emailEvents, emails, suppressions } from "../db/schema";
import { deliveryIdsOf, fanOutStatement } from "./webhook-fanout";

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
	at: number;
	provider: string | null;
	/** For bounces: a hard bounce ends delivery and suppresses; a soft one only delays it. */
	bounce?: "hard" | "soft";
	/** The recipient the event is about, where the provider says. */
	recipient?: string;
	detail?: Record<string, unknown>;
	dedupeKey?: string;
};

/** Rank of each status: an event may only move an email to a higher one. */
const STATUS_RANK: Record<EmailStatus, number> = {
	scheduled: 0,
	queued: 1,
	sending: 2,
	uncertain: 2,
	sent: 3,
	delivery_delayed: 4,
	delivered: 5,
	bounced: 6,
	complained: 7,
	failed: 9,
	canceled: 9,
};

/** Rank of `last_event` values: engagement sits between delivery and its failures. */
const LAST_EVENT_RANK: Record<string, number> = {
	scheduled: 0,
	queued: 1,
	sending: 2,
	uncertain: 2,
	sent: 3,
	delivery_delayed: 4,
	delivered: 5,
	opened: 6,
	clicked: 7,
	bounced: 8,
	complained: 9,
	failed: 10,
	canceled: 10,
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

/** The statements that record `events`, for a `db.batch()` of the caller's (one round trip for many events). */
export function eventStatements(db: Db, events: ProviderEvent[]): Statement[] {
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
		// Right after the event's INSERT: a replayed (deduplicated) event notifies nobody.
		const fanOut = fanOutStatement(db, { tenantId: event.tenantId, emailId: event.emailId, type: event.type, at: event.at, detail });
		if (fanOut) statements.push(fanOut);
		const statusRank = status === null ? -1 : STATUS_RANK[status];
		const eventRank = LAST_EVENT_RANK[event.type] ?? -1;
		statements.push(
			db
				.update(emails)
				.set({
					status: sql`CASE WHEN ${statusRank} > ${CURRENT_STATUS_RANK} THEN ${status ?? "queued"} ELSE "status" END`,
					lastEvent: sql`CASE WHEN ${eventRank} > ${CURRENT_EVENT_RANK} AND ${CURRENT_STATUS_RANK} < ${STATUS_RANK.failed} THEN ${event.type} ELSE "last_event" END`,
					updatedAt: event.at,
				})
				.where(and(eq(emails.id, event.emailId), eq(emails.tenantId, event.tenantId))),
		);
		if (event.recipient && (status === "bounced" || status === "complained")) {
			statements.push(
				db
					.insert(suppressions)
					.values({
						tenantId: event.tenantId,
						email: event.recipient.toLowerCase(),
						reason: status === "bounced" ? "hard_bounce" : "complaint",
						source: `${event.provider ?? "provider"}:${event.type}:${event.emailId}`,
						createdAt: event.at,
					})
					.onConflictDoNothing(),
			);
		}
	}
	return statements;
}

/** Records `events` in one D1 round trip; returns the webhook deliveries it created, to enqueue. */
export async function recordProviderEvents(db: Db, events: ProviderEvent[]): Promise<string[]> {
	const statements = eventStatements(db, events);
	if (statements.length === 0) return [];
	return deliveryIdsOf(await runBatch(db, statements));
}
