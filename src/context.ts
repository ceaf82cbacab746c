/** The Hono environment of every route: bindings from `wrangler types`, plus what auth puts on the context. */
import type { ApiKeyPermission, EmailPriority, TenantRow } from "./db/schema";
import type { VerifiedDomain } from "./db/tenants";

export type AuthContext = {
	tenant: TenantRow;
	apiKeyId: string;
	/** The key's SHA-256, to look it up again fresh (src/services/auth-cache.ts). */
	keyHash: string;
	permission: ApiKeyPermission;
	/** The one domain this key may send from (Resend's `domain_id`); null when unrestricted. */
	keyDomainId: string | null;
	/** The key's default priority lane for its sends; null when it has none. */
	keyPriority: EmailPriority | null;
	/** The tenant's verified domains, loaded with the key. */
	verifiedDomains: VerifiedDomain[];
};

export type AppEnv = {
	Bindings: Env;
	Variables: {
		auth: AuthContext;
		requestId: string;
		/** Set by the rate limiter when today's quota is spent: only idempotent replays may still succeed. */
		quotaExhausted?: { limit: number; resetSeconds: number };
		/** Set by the send routes: how many emails became rows, so the quota charged for the rest is given back. */
		acceptedEmails?: number;
	};
};
