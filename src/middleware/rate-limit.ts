/**
 * Per-tenant API limits (docs/architecture.md, "Public API"), after authentication: every request costs one token of `tenant:<id>:api`;
 * a send also charges its emails to the tenant's daily quota (one per email, so a batch of 100 costs 100). One
 * RPC to the tenant's RateLimiter object per request. Over the limit → 429 `rate_limit_exceeded` with
 * `retry-after`; quota spent → 429 `daily_quota_exceeded` until UTC midnight. Every response carries
 * `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset`. Quota charged for a send that did not produce
 * new emails (rejected, failed, or an idempotent replay) is given back.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { errorFields, log } from "../lib/log";

const SEND_PATHS = new Set(["/emails", "/emails/batch"]);

export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
	if (!getConfig(c.env).rateLimiting) return next();
	const { tenant } = c.get("auth");
	const isSend = c.req.method === "POST" && SEND_PATHS.has(c.req.path);
	const emails = isSend ? await emailsIn(c) : 0;
	const stub = c.env.RATE_LIMITER.getByName(`tenant:${tenant.id}`);
	const dailyKey = `tenant:${tenant.id}:daily`;
	const { api, daily } = await stub.admit({
		api: { key: `tenant:${tenant.id}:api`, rate: tenant.apiRate },
		...(isSend ? { daily: { key: dailyKey, limit: tenant.dailyQuota, emails } } : {}),
	});
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
		const accepted = c.res.status < 300 && c.res.headers.get("idempotent-replayed") !== "true";
		if (isSend && charged > 0 && !accepted) {
			c.executionCtx.waitUntil(stub.refundDaily(dailyKey, charged).catch((e) => log.warn("quota_refund_failed", errorFields(e))));
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

export function quotaExceeded(quota: { limit: number; resetSeconds: number }): ApiError {
	return new ApiError("daily_quota_exceeded", `You have reached your daily email sending quota of ${quota.limit}.`, 429, {
		"retry-after": String(quota.resetSeconds),
	});
}
