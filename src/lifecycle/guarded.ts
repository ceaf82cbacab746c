/**
 * Events that ride on a transition. A status UPDATE is followed in the same `db.batch()` by an INSERT … SELECT of
 * its event guarded by `changes() = 1` (the UPDATE just before it changed this row), then by the tenant-webhook
 * fan-out, guarded the same way by the event's INSERT. A transition that lost its race writes nothing at all.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db, Statement } from "../db/client";
import { emailEvents, emails } from "../db/schema";
import { newEmailId } from "../lib/ids";
import { fanOutStatement } from "../services/webhook-fanout";

/** The `email_events` key of one of our own events: unique, and in time order (a UUIDv7 of when it happened). */
export function ownEventKey(at: number): string {
	return `o:${newEmailId(at)}`;
}

export type GuardedEvent = {
	emailId: string;
	tenantId: string;
	type: string;
	at: number;
	provider?: string | null;
	detail?: Record<string, unknown> | null;
};

/** The event INSERT, effective only if the statement just before it in the batch changed a row. */
export function eventIfChanged(db: Db, event: GuardedEvent): Statement {
	return db.insert(emailEvents).select(
		db
			.select({
				// Every column in table order (drizzle's rule for INSERT … SELECT).
				emailId: emails.id,
				key: sql<string>`${ownEventKey(event.at)}`.as("key"),
				tenantId: emails.tenantId,
				type: sql<string>`${event.type}`.as("type"),
				at: sql<number>`${event.at}`.as("at"),
				provider: sql<string | null>`${event.provider ?? null}`.as("provider"),
				detail: sql<string | null>`${event.detail ? JSON.stringify(event.detail) : null}`.as("detail"),
				recordedAt: sql<number>`${event.at}`.as("recorded_at"),
			})
			.from(emails)
			.where(and(eq(emails.id, event.emailId), eq(emails.tenantId, event.tenantId), sql`changes() = 1`)),
	);
}

/** The event of the UPDATE just before, and (for events tenants hear about) its webhook deliveries. */
export function announced(db: Db, event: GuardedEvent): Statement[] {
	const fanOut = fanOutStatement(db, event);
	return fanOut ? [eventIfChanged(db, event), fanOut] : [eventIfChanged(db, event)];
}

/**
 * Only the webhook deliveries of the UPDATE just before, for an event the email row itself records (`sent`: its
 * `sent_at`), which therefore gets no `email_events` row (src/db/emails.ts `timelineOf`).
 */
export function announcedByRow(db: Db, event: GuardedEvent): Statement[] {
	const fanOut = fanOutStatement(db, event);
	return fanOut ? [fanOut] : [];
}

/** Provider names as an SQL list of string literals; names come from the provider registry (letters only). */
export function sqlNameList(names: readonly string[]) {
	const safe = names.filter((n) => /^[a-z][a-z0-9_-]*$/.test(n));
	return sql.raw(safe.length > 0 ? safe.map((n) => `'${n}'`).join(", ") : "NULL");
}
