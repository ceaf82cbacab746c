/** API keys: minted here, shown once, stored only as their SHA-256 (docs/architecture.md, "Public API"). */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { type ApiKeyPermission, type ApiKeyRow, apiKeys, domains, type EmailPriority } from "../db/schema";
import { ApiError } from "../errors";
import { sha256Hex } from "../lib/crypto";
import { isUuid, newApiKeyToken, newId } from "../lib/ids";
import { iso } from "../lib/time";
import { forgetTenant } from "./auth-cache";

export type NewApiKey = { id: string; token: string };

/**
 * A key's domain restriction as Resend defines it: only a `sending_access` key may have one, and it must name one of the
 * tenant's domains (verified or not: the key sends once the domain is verified). Throws 422 otherwise.
 */
async function checkRestriction(db: Db, tenantId: string, permission: ApiKeyPermission, domainId: string | null): Promise<void> {
	if (domainId === null) return;
	if (permission !== "sending_access") {
		throw new ApiError("validation_error", "domain_id restricts a sending_access key; a full_access key cannot be restricted to a domain");
	}
	const found =
		isUuid(domainId) &&
		(await db.query.domains.findFirst({ columns: { id: true }, where: and(eq(domains.id, domainId), eq(domains.tenantId, tenantId)) }));
	if (!found) throw new ApiError("validation_error", `domain_id ${JSON.stringify(domainId)} is not a domain of this account`);
}

export async function createApiKey(
	db: Db,
	tenantId: string,
	input: { name: string; permission: ApiKeyPermission; domain_id?: string | undefined; priority?: EmailPriority | undefined },
	now: number,
): Promise<NewApiKey> {
	const domainId = input.domain_id ?? null;
	await checkRestriction(db, tenantId, input.permission, domainId);
	const token = newApiKeyToken();
	const id = newId();
	await db.insert(apiKeys).values({
		id,
		tenantId,
		name: input.name,
		permission: input.permission,
		domainId,
		priority: input.priority ?? null,
		keyHash: await sha256Hex(token),
		createdAt: now,
	});
	return { id, token };
}

/**
 * Renames a live key of the tenant, changes its permission or domain restriction (`domain_id: null` lifts it; a key made
 * `full_access` loses its restriction) or its default priority (`priority: null` clears it). Undefined for an unknown
 * or revoked key. A change applies from the key's next request.
 */
export async function updateApiKey(
	db: Db,
	tenantId: string,
	id: string,
	input: {
		name?: string | undefined;
		permission?: ApiKeyPermission | undefined;
		domain_id?: string | null | undefined;
		priority?: EmailPriority | null | undefined;
	},
): Promise<ApiKeyRow | undefined> {
	const current = await db.query.apiKeys.findFirst({
		where: and(eq(apiKeys.id, id), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)),
	});
	if (!current) return undefined;
	const permission = input.permission ?? current.permission;
	const domainId = input.domain_id !== undefined ? input.domain_id : permission === "full_access" ? null : current.domainId;
	await checkRestriction(db, tenantId, permission, domainId);
	const [row] = await db
		.update(apiKeys)
		.set({
			name: input.name ?? current.name,
			permission,
			domainId,
			priority: input.priority !== undefined ? input.priority : current.priority,
		})
		.where(and(eq(apiKeys.id, id), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
		.returning();
	forgetTenant(tenantId);
	return row;
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
		.returning({ tenantId: apiKeys.tenantId });
	for (const row of rows) forgetTenant(row.tenantId);
	return rows.length > 0;
}

/** What a listing shows of a key: never the token or its hash. */
export function toApiKeyObject(row: ApiKeyRow) {
	return {
		id: row.id,
		name: row.name,
		permission: row.permission,
		domain_id: row.domainId,
		priority: row.priority,
		created_at: iso(row.createdAt),
	};
}
