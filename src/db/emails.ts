/** Queries for emails and their events. Every query is scoped by tenant: another tenant's id is simply absent. */
import { and, asc, desc, eq, gt, inArray, isNull, lt, type SQL, sql } from "drizzle-orm";
import { type Db, pageOf } from "./client";
import { type EmailEventRow, type EmailRow, type EmailStatus, emailEvents, emails } from "./schema";

/**
 * Emails still in flight (`ended_at IS NULL`) that meet `conditions`. The partial index `emails_open` holds exactly
 * these rows, so every cron and open-set count filters through here: without the `ended_at` condition SQLite
 * cannot use the index and walks the whole table (test/cost/query-plans.test.ts).
 */
export function inFlight(...conditions: (SQL | undefined)[]): SQL | undefined {
	return and(isNull(emails.endedAt), ...conditions);
}

/** `id IN (at most `limit` in-flight emails meeting `conditions`)`: a bounded slice for a cron's UPDATE … RETURNING. */
export function inFlightSlice(db: Db, limit: number, ...conditions: (SQL | undefined)[]): SQL {
	return inArray(
		emails.id,
		db
			.select({ id: emails.id })
			.from(emails)
			.where(inFlight(...conditions))
			.limit(limit),
	);
}

export async function getEmail(db: Db, tenantId: string, id: string): Promise<EmailRow | undefined> {
	return db.query.emails.findFirst({ where: and(eq(emails.id, id), eq(emails.tenantId, tenantId)) });
}

export type ListEmailsOptions = {
	limit: number;
	after?: string | undefined;
	before?: string | undefined;
	status?: EmailStatus | undefined;
	tag?: { name: string; value: string | null } | undefined;
	to?: string | undefined;
};

/**
 * A page of emails, newest first. `after` pages towards older emails, `before` towards newer ones; ids are
 * UUIDv7, so comparing ids compares creation times and the `(tenant_id, id)` index serves both directions.
 */
export async function listEmails(db: Db, tenantId: string, options: ListEmailsOptions): Promise<{ rows: EmailRow[]; hasMore: boolean }> {
	const conditions: (SQL | undefined)[] = [eq(emails.tenantId, tenantId)];
	if (options.status) conditions.push(eq(emails.status, options.status));
	if (options.after) conditions.push(lt(emails.id, options.after));
	if (options.before) conditions.push(gt(emails.id, options.before));
	if (options.tag) {
		const { name, value } = options.tag;
		conditions.push(
			value === null
				? sql`EXISTS (SELECT 1 FROM json_each(${emails.tags}) WHERE json_extract(value, '$.name') = ${name})`
				: sql`EXISTS (SELECT 1 FROM json_each(${emails.tags}) WHERE json_extract(value, '$.name') = ${name} AND json_extract(value, '$.value') = ${value})`,
		);
	}
	if (options.to) {
		const address = options.to.toLowerCase();
		// Recipients are stored as written (`Name <a@b.co>` or `a@b.co`); match the bare address either way.
		// `%` and `_` in the caller's input are escaped (with `!`) so they match themselves, not any character.
		const pattern = `%<${address.replace(/[!%_]/g, "!$&")}>`;
		conditions.push(
			sql`EXISTS (SELECT 1 FROM json_each(${emails.to}) WHERE lower(value) = ${address} OR lower(value) LIKE ${pattern} ESCAPE '!')`,
		);
	}
	const towardsNewer = options.before !== undefined;
	const rows = await db
		.select()
		.from(emails)
		.where(and(...conditions))
		.orderBy(towardsNewer ? asc(emails.id) : desc(emails.id))
		.limit(options.limit + 1);
	return pageOf(rows, options.limit, towardsNewer);
}

/** One event of an email's history, as `GET /emails/:id/events` lists it. */
export type TimelineEvent = {
	type: string;
	/** When it happened (the provider's time for provider events). */
	at: number;
	provider: string | null;
	detail: Record<string, unknown> | null;
	/** Our clock when it was recorded: the order of the history. */
	recordedAt: number;
};

/** Ties in `recordedAt` (one batch writes several) fall back to the lifecycle's order, then to the events' times. */
const ORDER: Record<string, number> = { sending: 1, sent: 2 };

/**
 * An email's whole history: the events its row records itself — accepted (`queued`/`scheduled` at `created_at`),
 * `sent` (`sent_at`) and the latest status event (`status_event`) — merged with its `email_events` rows, oldest
 * first. A stored `sent` at the row's `sent_at` (from before rows held it) stands for the row's own.
 */
export function timelineOf(email: EmailRow, stored: readonly EmailEventRow[]): TimelineEvent[] {
	const rescheduled = stored.some((e) => e.type === "scheduled");
	// Acceptance is the first event by definition, whatever the clocks say.
	const accepted: TimelineEvent = {
		type: email.scheduledAt !== null ? "scheduled" : "queued",
		at: email.createdAt,
		provider: null,
		detail: email.scheduledAt !== null && !rescheduled ? { scheduled_at: new Date(email.scheduledAt).toISOString() } : null,
		recordedAt: email.createdAt,
	};
	const later: TimelineEvent[] = stored.map((e) => ({
		type: e.type,
		at: e.at,
		provider: e.provider,
		detail: e.detail ?? null,
		recordedAt: e.recordedAt,
	}));
	if (email.sentAt !== null && !stored.some((e) => e.type === "sent" && e.at === email.sentAt)) {
		later.push({
			type: "sent",
			at: email.sentAt,
			provider: email.provider,
			detail: { provider_message_id: email.providerMessageId, attempt: email.attempts },
			recordedAt: email.sentAt,
		});
	}
	const held = email.statusEvent;
	if (held) later.push({ type: held.type, at: held.at, provider: held.provider, detail: held.detail, recordedAt: held.recordedAt });
	later.sort((a, b) => a.recordedAt - b.recordedAt || (ORDER[a.type] ?? 3) - (ORDER[b.type] ?? 3) || a.at - b.at);
	return [accepted, ...later];
}

/** An email and its history, oldest first, in one round trip; undefined when the tenant has no such email. */
export async function getEmailWithEvents(
	db: Db,
	tenantId: string,
	emailId: string,
): Promise<{ email: EmailRow; events: TimelineEvent[] } | undefined> {
	const [found, stored] = await db.batch([
		db
			.select()
			.from(emails)
			.where(and(eq(emails.id, emailId), eq(emails.tenantId, tenantId)))
			.limit(1),
		// The key's prefix: (email_id, key) is the table's primary key.
		db
			.select()
			.from(emailEvents)
			.where(and(eq(emailEvents.emailId, emailId), eq(emailEvents.tenantId, tenantId))),
	]);
	const email = found[0];
	return email ? { email, events: timelineOf(email, stored) } : undefined;
}
