/** Tenants as the admin API creates, changes and shows them (docs/architecture.md, "Public API"). */
import { and, eq, isNull } from "drizzle-orm";
import { TENANT_DEFAULTS } from "../config";
import type { Db } from "../db/client";
import { apiKeys, type Rate, type TenantRow, tenants } from "../db/schema";
import { newId } from "../lib/ids";
import { iso } from "../lib/time";
import { forgetTenant } from "./auth-cache";
import { endpointDeletion } from "./webhook-endpoints";

export type TenantInput = {
	name: string;
	allowed_from_domains?: string[] | undefined;
	api_rate?: Rate | undefined;
	send_rate?: Rate | undefined;
	daily_quota?: number | undefined;
	providers?: string[] | null | undefined;
};

export async function createTenant(db: Db, input: TenantInput, now: number): Promise<TenantRow> {
	const [row] = await db
		.insert(tenants)
		.values({
			id: newId(),
			name: input.name,
			allowedFromDomains: normaliseDomains(input.allowed_from_domains ?? []),
			apiRate: input.api_rate ?? { ...TENANT_DEFAULTS.apiRate },
			sendRate: input.send_rate ?? { ...TENANT_DEFAULTS.sendRate },
			dailyQuota: input.daily_quota ?? TENANT_DEFAULTS.dailyQuota,
			providers: input.providers ?? null,
			createdAt: now,
			updatedAt: now,
		})
		.returning();
	if (!row) throw new Error("tenant insert returned no row");
	return row;
}

/** Applies the given fields only; returns undefined for an unknown or deleted tenant. */
export async function updateTenant(db: Db, id: string, input: Partial<TenantInput>, now: number): Promise<TenantRow | undefined> {
	const [row] = await db
		.update(tenants)
		.set({
			...(input.name !== undefined && { name: input.name }),
			...(input.allowed_from_domains !== undefined && { allowedFromDomains: normaliseDomains(input.allowed_from_domains) }),
			...(input.api_rate !== undefined && { apiRate: input.api_rate }),
			...(input.send_rate !== undefined && { sendRate: input.send_rate }),
			...(input.daily_quota !== undefined && { dailyQuota: input.daily_quota }),
			...(input.providers !== undefined && { providers: input.providers }),
			updatedAt: now,
		})
		.where(and(eq(tenants.id, id), isNull(tenants.deletedAt)))
		.returning();
	forgetTenant(id);
	return row;
}

/**
 * Deletes a tenant, in one transaction: it leaves the admin API (404 from then on), every API key is revoked, and
 * its webhook endpoints are deleted with their pending deliveries canceled. Its rows stay: emails it already accepted
 * finish their delivery and keep their history until retention, as for any tenant. Returns false for an unknown or
 * already deleted tenant; the other statements then match nothing (its keys and endpoints were ended with it).
 */
export async function deleteTenant(db: Db, id: string, now: number): Promise<boolean> {
	const [deleted] = await db.batch([
		db
			.update(tenants)
			.set({ deletedAt: now, updatedAt: now })
			.where(and(eq(tenants.id, id), isNull(tenants.deletedAt)))
			.returning({ id: tenants.id }),
		db
			.update(apiKeys)
			.set({ revokedAt: now })
			.where(and(eq(apiKeys.tenantId, id), isNull(apiKeys.revokedAt))),
		...endpointDeletion(db, { tenantId: id }, now),
	]);
	forgetTenant(id);
	return deleted.length > 0;
}

function normaliseDomains(domains: string[]): string[] {
	return [...new Set(domains.map((d) => d.trim().toLowerCase()))];
}

export function toTenantObject(row: TenantRow) {
	return {
		object: "tenant" as const,
		id: row.id,
		name: row.name,
		allowed_from_domains: row.allowedFromDomains,
		api_rate: row.apiRate,
		send_rate: row.sendRate,
		daily_quota: row.dailyQuota,
		providers: row.providers,
		created_at: iso(row.createdAt),
		updated_at: iso(row.updatedAt),
	};
}
