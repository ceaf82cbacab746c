/**
 * Per-tenant API limits (docs/architecture.md, "Public API"), after authentication: every request costs one token of `tenant:<id>:api`;
 * a send also charges its emails to the tenant's daily quota (one per email, so a batch of 100 costs 100). One
 * RPC to the tenant's RateLimiter object per request. Over the limit → 429 `rate_limit_exceeded` with
 * `retry-after`; quota spent → 429 `daily_quota_exceeded` until UTC midnight. Every response carries
 * `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset`. Quota charged for a send that did not produce
 * new emails (rejected, failed, an idempotent replay, or the rejected items of a permissive batch) is given back.
 * If the RateLimiter cannot be asked, the request is refused with 503 `service_unavailable` and `retry-after`:
 * fail closed (docs/architecture.md, "Rate limits and circuits").
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { errorFields, log } from "../lib/log";

const SEND_PATHS = new Set(["/emails", "/emails/batch"]);

/** The tenant's RateLimiter object and its daily quota counter (also read by `GET /usage`). */
export const tenantLimiterName = (tenantId: string) => `tenant:${tenantId}`;
export const dailyQuotaKey = (tenantId: string) => `tenant:${tenantId}:daily`;

/** What a client is told to wait when the RateLimiter cannot be asked (503). */
const LIMITER_RETRY_AFTER_SECONDS = 5;

export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
	if (!getConfig(c.env).rateLimiting) return next();
	const { tenant } = c.get("auth");
	const isSend = c.req.method === "POST" && SEND_PATHS.has(c.req.path);
	const emails = isSend ? await emailsIn(c) : 0;
	const dailyKey = dailyQuotaKey(tenant.id);
	let stub: ReturnType<Env["RATE_LIMITER"]["getByName"]>;
	let admitted: Awaited<ReturnType<typeof stub.admit>>;
	try {
		stub = c.env.RATE_LIMITER.getByName(tenantLimiterName(tenant.id));
		admitted = await stub.admit({
			api: { key: `tenant:${tenant.id}:api`, rate: tenant.apiRate },
			...(isSend ? { daily: { key: dailyKey, limit: tenant.dailyQuota, emails } } : {}),
		});
	} catch (e) {
		// Fail closed: without the limiter nobody can say the tenant is within its rate and quota, and an unlimited
		// tenant is worse for everyone than a short retry. Nothing was written.
		log.error("rate_limiter_unavailable", { scope: "api", tenantId: tenant.id, ...errorFields(e) });
		throw limiterUnavailable();
	}
	const { api, daily } = admitted;
	c.header("ratelimit-limit", String(api.limit));
	c.header("ratelimit-remaining", String(api.remaining));
	c.header("ratelimit-reset", String(Math.ceil(api.resetMs / 1000)));
	if (!api.allowed) {
		throw new ApiError("rate_limit_exceeded", "Too many requests. You can only make a limited number of requests per second.", 429, {
			"retry-after": String(Math.max(1, Math.ceil(api.retryAfterMs / 1000))),
		});
	}
	let charged = emails;
	if (daily && !daily.allowed) {
		const exhausted = { limit: daily.limit, resetSeconds: Math.ceil(daily.resetMs / 1000) };
		// With an Idempotency-Key this may be a replay of an accepted send, which must still answer as before:
		// the accept path lets replays through and refuses anything new (nothing was charged).
		if (c.req.header("idempotency-key") === undefined) throw quotaExceeded(exhausted);
		c.set("quotaExhausted", exhausted);
		charged = 0;
	}
	try {
		await next();
	} finally {
		const replayed = c.res.headers.get("idempotent-replayed") === "true";
		// Only emails that became rows count: all of them on success, none on an error or a replay; a permissive batch
		// says how many it accepted.
		const accepted = c.res.status >= 300 || replayed ? 0 : (c.get("acceptedEmails") ?? charged);
		const refund = isSend ? Math.max(0, charged - accepted) : 0;
		if (refund > 0) {
			c.executionCtx.waitUntil(stub.refundDaily(dailyKey, refund).catch((e) => log.warn("quota_refund_failed", errorFields(e))));
		}
	}
};

/** Emails a send request asks for: 1, or the length of a batch's array (1 when the body is not one). */
async function emailsIn(c: Context<AppEnv>): Promise<number> {
	if (c.req.path !== "/emails/batch") return 1;
	try {
		const body: unknown = await c.req.json();
		return Array.isArray(body) ? Math.max(1, body.length) : 1;
	} catch {
		return 1;
	}
}

/** Fail closed, as the limiter middleware does: without the limiter nothing is answered that depends on it. */
export function limiterUnavailable(): ApiError {
	return new ApiError("service_unavailable", "Rate limiting is temporarily unavailable; retry shortly.", 503, {
		"retry-after": String(LIMITER_RETRY_AFTER_SECONDS),
	});
}

export function quotaExceeded(quota: { limit: number; resetSeconds: number }): ApiError {
	return new ApiError("daily_quota_exceeded", `You have reached your daily email sending quota of ${quota.limit}.`, 429, {
		"retry-after": String(quota.resetSeconds),
	});
}
