/**
 * RateLimiter: token buckets keyed by name (`tenant:<id>:api`, `tenant:<id>:send`, `provider:<name>`), one object
 * per tenant or provider account (`RATE_LIMITER.getByName(...)`), with typed RPC methods and no router inside.
 *
 * State lives in memory and every change is written through to the object's SQLite storage in the same
 * synchronous step, so a check-and-take is atomic (no await between read and write) and an evicted object
 * resumes with the tokens it had. Buckets refill continuously at `per_second`, up to `burst`.
 */
import { DurableObject } from "cloudflare:workers";

export type BucketRate = { per_second: number; burst: number };

export type TakeResult = {
	allowed: boolean;
	/** Whole tokens left after this call. */
	remaining: number;
	limit: number;
	/** When the caller may try again (0 when allowed). */
	retryAfterMs: number;
	/** Until the bucket is full again. */
	resetMs: number;
};

type Bucket = { tokens: number; updatedAt: number };

export class RateLimiter extends DurableObject<Env> {
	private readonly buckets = new Map<string, Bucket>();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL)");
			for (const row of ctx.storage.sql.exec<{ key: string; tokens: number; updated_at: number }>(
				"SELECT key, tokens, updated_at FROM buckets",
			)) {
				this.buckets.set(row.key, { tokens: row.tokens, updatedAt: row.updated_at });
			}
		});
	}

	/**
	 * Takes `n` tokens from bucket `key` if it has them; otherwise takes none and says when `n` will be there.
	 *
	 * @example
	 * const r = await env.RATE_LIMITER.getByName(`tenant:${id}`).take(`tenant:${id}:api`, { per_second: 10, burst: 20 });
	 * if (!r.allowed) return tooManyRequests(r.retryAfterMs);
	 */
	async take(key: string, rate: BucketRate, n = 1): Promise<TakeResult> {
		const now = Date.now();
		const bucket = this.refilled(key, rate, now);
		const allowed = n <= bucket.tokens;
		if (allowed) bucket.tokens -= n;
		this.buckets.set(key, bucket);
		this.ctx.storage.sql.exec(
			"INSERT INTO buckets (key, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
			key,
			bucket.tokens,
			bucket.updatedAt,
		);
		const missing = allowed ? 0 : Math.min(n, rate.burst) - bucket.tokens;
		return {
			allowed,
			remaining: Math.floor(bucket.tokens),
			limit: rate.burst,
			retryAfterMs: allowed ? 0 : Math.ceil((missing / rate.per_second) * 1000),
			resetMs: Math.ceil(((rate.burst - bucket.tokens) / rate.per_second) * 1000),
		};
	}

	private refilled(key: string, rate: BucketRate, now: number): Bucket {
		const current = this.buckets.get(key) ?? { tokens: rate.burst, updatedAt: now };
		const elapsedSeconds = Math.max(0, now - current.updatedAt) / 1000;
		return { tokens: Math.min(rate.burst, current.tokens + elapsedSeconds * rate.per_second), updatedAt: now };
	}
}
