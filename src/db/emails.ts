/** Queries for emails and their events. Every query is scoped by tenant: another tenant's id is simply absent. */
import { and, asc, desc, eq, gt, inArray, lt, type SQL, sql } from "drizzle-orm";
import { deliveryIdsOf, fanOutStatement } from "../services/webhook-fanout";
import { type Db, pageOf, type Statement } from "./client";
import { type EmailEventRow, type EmailRow, type EmailStatus, emailEvents, emails } from "./schema";

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

/** An email and its events, oldest first, in one round trip; undefined when the tenant has no such email. */
export async function getEmailWithEvents(
	db: Db,
	tenantId: string,
	emailId: string,
): Promise<{ email: EmailRow; events: EmailEventRow[] } | undefined> {
	const [found, events] = await db.batch([
		db
			.select()
			.from(emails)
			.where(and(eq(emails.id, emailId), eq(emails.tenantId, tenantId)))
			.limit(1),
		db
			.select()
			.from(emailEvents)
			.where(and(eq(emailEvents.emailId, emailId), eq(emailEvents.tenantId, tenantId)))
			.orderBy(asc(emailEvents.id)),
	]);
	const email = found[0];
	return email ? { email, events } : undefined;
}

/**
 * Moves an email to `to` only if it is currently in one of `from`, and appends the matching event (and its webhook
 * deliveries) in the same transaction: the INSERTs run only when the UPDATE changed a row (`changes()`), so a
 * lost race writes nothing. Undefined when the email was absent or not in an allowed state.
 */
export async function transitionEmail(
	db: Db,
	tenantId: string,
	id: string,
	change: { from: EmailStatus[]; to: EmailStatus; now: number; set?: Partial<EmailRow>; detail?: Record<string, unknown> | null },
): Promise<{ row: EmailRow; deliveryIds: string[] } | undefined> {
	const event = { emailId: id, tenantId, type: change.to, at: change.now, detail: change.detail ?? null };
	const fanOut = fanOutStatement(db, event);
	const results = (await db.batch([
		db
			.update(emails)
			.set({ ...change.set, status: change.to, lastEvent: change.to, updatedAt: change.now })
			.where(and(eq(emails.id, id), eq(emails.tenantId, tenantId), inArray(emails.status, change.from)))
			.returning(),
		eventIfChanged(db, event),
		...(fanOut ? [fanOut] : []),
	])) as unknown[];
	const row = (results[0] as EmailRow[])[0];
	return row ? { row, deliveryIds: deliveryIdsOf(results) } : undefined;
}

export type GuardedEvent = {
	emailId: string;
	tenantId: string;
	type: string;
	at: number;
	provider?: string | null;
	detail?: Record<string, unknown> | null;
};

/**
 * An event INSERT that takes effect only if the statement just before it in the same batch changed a row
 * (`changes() = 1`): put it right after a conditional UPDATE so a lost race appends no event.
 */
export function eventIfChanged(db: Db, event: GuardedEvent): Statement {
	return db.insert(emailEvents).select(
		db
			.select({
				// Every column in table order (drizzle's rule for INSERT … SELECT); NULL lets SQLite assign the id.
				id: sql<number>`NULL`.as("id"),
				emailId: emails.id,
				tenantId: emails.tenantId,
				type: sql<string>`${event.type}`.as("type"),
				at: sql<number>`${event.at}`.as("at"),
				provider: sql<string | null>`${event.provider ?? null}`.as("provider"),
				detail: sql<string | null>`${event.detail ? JSON.stringify(event.detail) : null}`.as("detail"),
				dedupeKey: sql<null>`NULL`.as("dedupe_key"),
			})
			.from(emails)
			.where(and(eq(emails.id, event.emailId), eq(emails.tenantId, event.tenantId), sql`changes() = 1`)),
	);
}
