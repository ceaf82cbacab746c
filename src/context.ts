/** The Hono environment of every route: bindings from `wrangler types`, plus what auth puts on the context. */
import type { ApiKeyPermission, TenantRow } from "./db/schema";

export type AuthContext = { tenant: TenantRow; apiKeyId: string; permission: ApiKeyPermission };

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
