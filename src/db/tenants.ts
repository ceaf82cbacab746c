/** Queries for tenants and their API keys. */
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import type { Db } from "./client";
import { type ApiKeyPermission, type ApiKeyRow, apiKeys, type TenantRow, tenants } from "./schema";

/** The key (not revoked, of a tenant not deleted) with this hash and its tenant, in one query. */
export async function findActiveApiKey(
	db: Db,
	keyHash: string,
): Promise<{ id: string; permission: ApiKeyPermission; tenant: TenantRow } | undefined> {
	const rows = await db
		.select({ id: apiKeys.id, permission: apiKeys.permission, tenant: tenants })
		.from(apiKeys)
		.innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
		.where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt), isNull(tenants.deletedAt)))
		.limit(1);
	return rows[0];
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

/**
 * Revokes a key. Scoped by tenant when `tenantId` is given (self-service); unscoped for the admin API.
 * Returns false when no such live key exists.
 */
export async function revokeApiKey(db: Db, id: string, now: number, tenantId?: string): Promise<boolean> {
	const rows = await db
		.update(apiKeys)
		.set({ revokedAt: now })
		.where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt), tenantId ? eq(apiKeys.tenantId, tenantId) : undefined))
		.returning({ id: apiKeys.id });
	return rows.length > 0;
}
