/** API keys: minted here, shown once, stored only as their SHA-256 (docs/architecture.md, "Public API"). */
import type { Db } from "../db/client";
import { type ApiKeyPermission, type ApiKeyRow, apiKeys } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { newApiKeyToken, newId } from "../lib/ids";
import { iso } from "../lib/time";

export type NewApiKey = { id: string; token: string };

export async function createApiKey(
	db: Db,
	tenantId: string,
	input: { name: string; permission: ApiKeyPermission },
	now: number,
): Promise<NewApiKey> {
	const token = newApiKeyToken();
	const id = newId();
	await db
		.insert(apiKeys)
		.values({ id, tenantId, name: input.name, permission: input.permission, keyHash: await sha256Hex(token), createdAt: now });
	return { id, token };
}

/** What a listing shows of a key: never the token or its hash. */
export function toApiKeyObject(row: ApiKeyRow) {
	return { id: row.id, name: row.name, permission: row.permission, created_at: iso(row.createdAt) };
}
