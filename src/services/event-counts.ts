/**
 * The one definition of "events of a tenant in a time range, filtered" that `/analytics` and `/emails/metrics` count
 * from: `email_events` through its `(tenant_id, at)` index, optionally limited to event types, to emails with a tag
 * (`name` or `name:value`) or from a template, or to listed emails.
 */
import { and, countDistinct, eq, gte, inArray, lt, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { emailEvents, emails } from "../db/schema";

export type EventFilters = {
	types?: readonly string[] | undefined;
	tag?: string | undefined;
	templateId?: string | undefined;
	emailIds?: readonly string[] | undefined;
};

/** The WHERE clause for the tenant's events at `from` ≤ at < `to` that pass `filters`. */
export function eventsWhere(tenantId: string, from: number, to: number, filters: EventFilters): SQL | undefined {
	const conditions: (SQL | undefined)[] = [eq(emailEvents.tenantId, tenantId), gte(emailEvents.at, from), lt(emailEvents.at, to)];
	if (filters.types !== undefined) conditions.push(inArray(emailEvents.type, [...filters.types]));
	if (filters.emailIds !== undefined) conditions.push(inArray(emailEvents.emailId, [...filters.emailIds]));
	if (filters.tag !== undefined || filters.templateId !== undefined) {
		const [name = "", ...rest] = (filters.tag ?? "").split(":");
		const value = rest.length > 0 ? rest.join(":") : null;
		conditions.push(
			sql`EXISTS (SELECT 1 FROM ${emails} WHERE ${emails.id} = ${emailEvents.emailId} AND ${emails.tenantId} = ${tenantId}
				${filters.templateId !== undefined ? sql`AND ${emails.templateId} = ${filters.templateId}` : sql``}
				${filters.tag !== undefined ? sql`AND EXISTS (SELECT 1 FROM json_each(${emails.tags}) WHERE json_extract(value, '$.name') = ${name} ${value === null ? sql`` : sql`AND json_extract(value, '$.value') = ${value}`})` : sql``})`,
		);
	}
	return and(...conditions);
}

/**
 * Unique human opens: per `key` (a bucket or period of `at`; none: one total), how many emails were opened at least
 * once by a person among the tenant's events at `from` ≤ at < `to` that pass `filters`. An open flagged `machine` by
 * Mailroom's own tracking (Apple Mail Privacy Protection, scanners: src/tracking/record.ts) does not count;
 * providers' opens carry no flag and do. One query, apart from the per-type counts, for callers to batch.
 */
export function uniqueHumanOpens(db: Db, tenantId: string, from: number, to: number, filters: EventFilters, key?: SQL<number>) {
	const query = db
		.select({ key: key ?? sql<number>`0`, n: countDistinct(emailEvents.emailId) })
		.from(emailEvents)
		.where(
			and(
				eventsWhere(tenantId, from, to, { ...filters, types: ["opened"] }),
				sql`coalesce(json_extract(${emailEvents.detail}, '$.machine'), 0) = 0`,
			),
		)
		.$dynamic();
	// Not `GROUP BY 0`: SQLite reads a constant there as a column number.
	return key ? query.groupBy(key) : query;
}
