/**
 * API-key authentication (docs/architecture.md, "Public API"): `Authorization: Bearer mr_…`, looked up by SHA-256 hash in one query
 * that also loads the tenant and its verified sending domains, remembered by the isolate for AUTH_CACHE_MS
 * (src/services/auth-cache.ts). Missing → 401 `missing_api_key`; unknown or revoked → 403 `invalid_api_key`.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, AuthContext } from "../context";
import { getDb } from "../db/client";
import type { ActiveApiKey } from "../db/tenants";
import { ApiError } from "../errors";
import { sha256Hex } from "../lib/crypto";
import { activeApiKey } from "../services/auth-cache";

export function bearerToken(header: string | undefined): string | null {
	const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
	return match?.[1] ?? null;
}

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
	const token = bearerToken(c.req.header("authorization"));
	if (token === null) throw new ApiError("missing_api_key", "Missing API key in the authorization header");
	const keyHash = await sha256Hex(token);
	const found = await activeApiKey(getDb(c.env.DB), keyHash);
	if (!found) throw new ApiError("invalid_api_key", "API key is invalid");
	c.set("auth", authContextOf(found, keyHash));
	await next();
};

export function authContextOf(found: ActiveApiKey, keyHash: string): AuthContext {
	return {
		tenant: found.tenant,
		apiKeyId: found.id,
		keyHash,
		permission: found.permission,
		keyDomainId: found.domainId,
		keyPriority: found.priority,
		verifiedDomains: found.verifiedDomains,
	};
}

/** Everything but sending needs a `full_access` key; a `sending_access` key gets 401 `restricted_api_key`. */
export const requireFullAccess: MiddlewareHandler<AppEnv> = async (c, next) => {
	if (c.get("auth").permission !== "full_access") {
		throw new ApiError("restricted_api_key", "This API key is restricted to only send emails");
	}
	await next();
};
