/** Queries for tenants and their API keys. */
import { and, desc, eq, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "./client";
import { type ApiKeyPermission, type ApiKeyRow, apiKeys, domains, type EmailPriority, type TenantRow, tenants } from "./schema";

/** A verified sending domain of the tenant, as authentication loads it, with its tracking settings. */
export type VerifiedDomain = { id: string; name: string; openTracking: boolean; clickTracking: boolean };

export type ActiveApiKey = {
	id: string;
	permission: ApiKeyPermission;
	/** The one domain a restricted key may send from; null when unrestricted. */
	domainId: string | null;
	/** The priority of this key's sends that set none (README, "Priority lanes"); null when it has none. */
	priority: EmailPriority | null;
	tenant: TenantRow;
	/** The tenant's verified domains, read in the same query (the accept path's round trips stay as they were). */
	verifiedDomains: VerifiedDomain[];
};

/**
 * The key (not revoked, of a tenant not deleted) with this hash, its tenant and the tenant's verified domains, in one
 * query: the domains come from a `json_group_array` subquery through `domains_tenant_name`.
 */
export async function findActiveApiKey(db: Db, keyHash: string): Promise<ActiveApiKey | undefined> {
	const rows = await db
		.select({
			id: apiKeys.id,
			permission: apiKeys.permission,
			domainId: apiKeys.domainId,
			priority: apiKeys.priority,
			tenant: tenants,
			verifiedDomains: sql<string>`(SELECT json_group_array(json_object('id', ${domains.id}, 'name', ${domains.name}, 'openTracking', ${domains.openTracking} = 1, 'clickTracking', ${domains.clickTracking} = 1)) FROM ${domains} WHERE ${domains.tenantId} = ${tenants.id} AND ${domains.status} = 'verified')`,
		})
		.from(apiKeys)
		.innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
		.where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt), isNull(tenants.deletedAt)))
		.limit(1);
	const row = rows[0];
	if (!row) return undefined;
	// SQLite has no booleans: json_object writes the comparisons as 0 or 1.
	const verifiedDomains = (
		JSON.parse(row.verifiedDomains) as { id: string; name: string; openTracking: number; clickTracking: number }[]
	).map((d) => ({ ...d, openTracking: d.openTracking === 1, clickTracking: d.clickTracking === 1 }));
	return { ...row, verifiedDomains };
}

/** A tenant that is not deleted. */
export async function getTenant(db: Db, id: string): Promise<TenantRow | undefined> {
	return db.query.tenants.findFirst({ where: and(eq(tenants.id, id), isNull(tenants.deletedAt)) });
}

/** Tenants not deleted, newest first, for the admin list; `after` is the last id of the previous page. */
export async function listTenants(db: Db, limit: number, after?: string): Promise<TenantRow[]> {
	return db
		.select()
		.from(tenants)
		.where(and(isNull(tenants.deletedAt), after ? lt(tenants.id, after) : undefined))
		.orderBy(desc(tenants.id))
		.limit(limit);
}

export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyRow[]> {
	return db
		.select()
		.from(apiKeys)
		.where(and(eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
		.orderBy(desc(apiKeys.createdAt));
}
