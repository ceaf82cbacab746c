/**
 * API keys this isolate looked up recently (docs/architecture.md, "Accepting an email"): a hit spares the
 * authentication query, so a send's only remote calls are the limiter, the write and the queue.
 *
 * The bound, documented in the README: a key revoked, a tenant deleted, or a tenant's limits, providers or domains
 * changed through another isolate take effect here within AUTH_CACHE_MS. Changes made through this isolate take
 * effect at once (`forgetTenant`, called by every service that changes a key, a tenant or a domain). Only keys that
 * were found are remembered, so a new key works on its first request; a sender refused by remembered domains is
 * checked again against fresh ones before the refusal stands (src/services/accept.ts).
 */
import { AUTH_CACHE_MS } from "../config";
import type { Db } from "../db/client";
import { type ActiveApiKey, findActiveApiKey } from "../db/tenants";

/** Enough for every key a busy isolate serves; the oldest entry goes first beyond it. */
const MAX_ENTRIES = 10_000;

const remembered = new Map<string, { key: ActiveApiKey; until: number }>();

/** The active key with this hash, from this isolate's memory when looked up less than AUTH_CACHE_MS ago. */
export async function activeApiKey(db: Db, keyHash: string, now: number = Date.now()): Promise<ActiveApiKey | undefined> {
	const hit = remembered.get(keyHash);
	if (hit !== undefined && hit.until > now) return hit.key;
	return freshApiKey(db, keyHash, now);
}

/** The active key with this hash as D1 has it now; remembered (or forgotten) for the next requests. */
export async function freshApiKey(db: Db, keyHash: string, now: number = Date.now()): Promise<ActiveApiKey | undefined> {
	const key = await findActiveApiKey(db, keyHash);
	remembered.delete(keyHash);
	if (key === undefined) return undefined;
	remembered.set(keyHash, { key, until: now + AUTH_CACHE_MS });
	if (remembered.size > MAX_ENTRIES) {
		const oldest = remembered.keys().next().value;
		if (oldest !== undefined) remembered.delete(oldest);
	}
	return key;
}

/** Forgets the keys of a tenant whose keys, row or domains changed. */
export function forgetTenant(tenantId: string): void {
	for (const [hash, entry] of remembered) if (entry.key.tenant.id === tenantId) remembered.delete(hash);
}
