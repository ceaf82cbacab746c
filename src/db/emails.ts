/** Queries for emails and their events. Every query is scoped by tenant: another tenant's id is simply absent. */
import { and, asc, desc, eq, gt, lt, type SQL, sql } from "drizzle-orm";
import { type Db, pageOf } from "./client";
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
