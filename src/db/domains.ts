/** Queries for a tenant's sending domains. Every query is scoped by tenant except the cron's pending list. */
import { and, asc, count, desc, eq, gt, lt, lte, ne, sql } from "drizzle-orm";
import type { Db } from "./client";
import { pageOf } from "./client";
import { type DomainRow, domains } from "./schema";

export async function findDomain(db: Db, tenantId: string, id: string): Promise<DomainRow | undefined> {
	return db.query.domains.findFirst({ where: and(eq(domains.id, id), eq(domains.tenantId, tenantId)) });
}

/** Newest first; `after`/`before` are domain ids (UUIDv7, so they sort by creation). */
export async function listDomains(
	db: Db,
	tenantId: string,
	page: { limit: number; after?: string | undefined; before?: string | undefined },
): Promise<{ rows: DomainRow[]; hasMore: boolean }> {
	const towardsNewer = page.before !== undefined;
	const rows = await db
		.select()
		.from(domains)
		.where(
			and(
				eq(domains.tenantId, tenantId),
				page.after !== undefined ? lt(domains.id, page.after) : undefined,
				page.before !== undefined ? gt(domains.id, page.before) : undefined,
			),
		)
		.orderBy(towardsNewer ? asc(domains.id) : desc(domains.id))
		.limit(page.limit + 1);
	return pageOf(rows, page.limit, towardsNewer);
}

/** What stops a tenant adding `name`: another tenant holds it verified; how many domains the tenant has. One round trip. */
export async function domainCreationFacts(db: Db, tenantId: string, name: string): Promise<{ takenElsewhere: boolean; domains: number }> {
	const [taken, total] = await db.batch([
		db
			.select({ id: domains.id })
			.from(domains)
			.where(and(eq(domains.name, name), eq(domains.status, "verified"), ne(domains.tenantId, tenantId)))
			.limit(1),
		db.select({ n: count() }).from(domains).where(eq(domains.tenantId, tenantId)),
	]);
	return { takenElsewhere: taken.length > 0, domains: total[0]?.n ?? 0 };
}

/** Pending domains whose next check is due, the longest waiting first (through `domains_pending_check`). */
export async function dueDomains(db: Db, now: number, limit: number): Promise<DomainRow[]> {
	return db
		.select()
		.from(domains)
		.where(and(eq(domains.status, "pending"), lte(domains.nextCheckAt, now)))
		.orderBy(asc(domains.nextCheckAt))
		.limit(limit);
}

/** Keeps a write from undoing a verification that happened meanwhile (a verified domain is never downgraded by a check). */
export const notVerified = sql`${domains.status} <> 'verified'`;
