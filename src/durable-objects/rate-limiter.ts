/**
 * RateLimiter: token buckets, daily quotas and provider circuits, as typed RPC methods (no router inside).
 *
 * One object per tenant (`RATE_LIMITER.getByName("tenant:<id>")`, buckets `tenant:<id>:api`, `tenant:<id>:send`,
 * quota `tenant:<id>:daily`) and one per provider account (`provider:<name>`: an adaptive bucket plus a circuit
 * breaker). State lives in memory and every change is written through to the object's SQLite storage in the same
 * synchronous step, so each call is atomic (no await between read and write) and an evicted object resumes where
 * it was. Buckets refill continuously at `per_second` up to `burst`. Daily quotas are keyed by UTC day, so they
 * reset at midnight by themselves; an alarm deletes past days.
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

export type QuotaResult = { allowed: boolean; limit: number; used: number; remaining: number; resetMs: number };

export type AdmitRequest = {
	api: { key: string; rate: BucketRate };
	/** Emails this request would send, charged to the daily quota (send routes only). */
	daily?: { key: string; limit: number; emails: number };
};

export type AdmitResult = { api: TakeResult; daily: QuotaResult | null };

export type GrantResult = { granted: number; retryAfterMs: number };

export type CircuitState = "closed" | "open" | "half_open";

export type ProviderPolicy = {
	rate: BucketRate;
	/** Consecutive definite failures that open the circuit. */
	failureThreshold: number;
	/** How long an open circuit refuses before letting one probe through. */
	coolDownMs: number;
};

export type ProviderGrant = GrantResult & { circuit: CircuitState };

export type ProviderReport = { successes: number; failures: number; rateLimited: number };

export type ProviderStatus = { circuit: CircuitState; consecutiveFailures: number; openedAt: number | null; ratePerSecond: number };

type Bucket = { tokens: number; updatedAt: number; rate: number | null };
type Circuit = { state: CircuitState; failures: number; openedAt: number | null; probeInFlight: boolean };

/** The smallest rate an adaptive provider bucket shrinks to after repeated 429s (one request every 10 s). */
const MIN_PROVIDER_RATE = 0.1;

export class RateLimiter extends DurableObject<Env> {
	private readonly buckets = new Map<string, Bucket>();
	private readonly circuits = new Map<string, Circuit>();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			const sql = ctx.storage.sql;
			sql.exec("CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL)");
			// Added after the first version: the adaptive rate of a provider bucket (null = the configured one).
			if (
				!sql
					.exec<{ name: string }>("PRAGMA table_info(buckets)")
					.toArray()
					.some((c) => c.name === "rate")
			) {
				sql.exec("ALTER TABLE buckets ADD COLUMN rate REAL");
			}
			sql.exec("CREATE TABLE IF NOT EXISTS daily (key TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (key, day))");
			sql.exec(
				"CREATE TABLE IF NOT EXISTS circuits (name TEXT PRIMARY KEY, state TEXT NOT NULL, failures INTEGER NOT NULL, opened_at INTEGER, probe INTEGER NOT NULL)",
			);
			for (const row of sql.exec<{ key: string; tokens: number; updated_at: number; rate: number | null }>("SELECT * FROM buckets")) {
				this.buckets.set(row.key, { tokens: row.tokens, updatedAt: row.updated_at, rate: row.rate });
			}
			for (const row of sql.exec<{ name: string; state: CircuitState; failures: number; opened_at: number | null; probe: number }>(
				"SELECT * FROM circuits",
			)) {
				this.circuits.set(row.name, { state: row.state, failures: row.failures, openedAt: row.opened_at, probeInFlight: row.probe === 1 });
			}
		});
	}

	/**
	 * Takes `n` tokens from bucket `key` if it has them; otherwise takes none and says when `n` will be there.
	 *
	 * @example
	 * const r = await env.RATE_LIMITER.getByName(`tenant:${id}`).take(`tenant:${id}:api`, { per_second: 10, burst: 20 });
	 */
	async take(key: string, rate: BucketRate, n = 1): Promise<TakeResult> {
		return this.takeNow(key, rate, n, Date.now());
	}

	/**
	 * Admits one API request: a token of the API bucket and, for sends, `emails` of today's quota, together.
	 * Nothing is charged when either refuses.
	 */
	async admit(request: AdmitRequest): Promise<AdmitResult> {
		const now = Date.now();
		const daily = request.daily ? this.quotaNow(request.daily.key, request.daily.limit, now) : null;
		if (daily && request.daily && daily.used + request.daily.emails > daily.limit) {
			return { api: this.peek(request.api.key, request.api.rate, now), daily: { ...daily, allowed: false } };
		}
		const api = this.takeNow(request.api.key, request.api.rate, 1, now);
		if (!api.allowed || !daily || !request.daily) return { api, daily };
		return { api, daily: this.charge(request.daily.key, request.daily.emails, daily, now) };
	}

	/** Today's use of a daily quota, without charging anything (`GET /usage`). */
	async dailyUsage(key: string, limit: number): Promise<QuotaResult> {
		return this.quotaNow(key, limit, Date.now());
	}

	/** Gives back quota charged for emails that were not accepted after all (the request failed). */
	async refundDaily(key: string, emails: number): Promise<void> {
		const day = utcDay(Date.now());
		this.ctx.storage.sql.exec("UPDATE daily SET used = max(0, used - ?) WHERE key = ? AND day = ?", emails, key, day);
	}

	/**
	 * Up to `n` whole tokens, as many as the bucket has above `reserve` (send pacing grants part of a batch; bulk sends
	 * leave a reserve to the others, src/services/pacing.ts).
	 */
	async grant(key: string, rate: BucketRate, n: number, reserve = 0): Promise<GrantResult> {
		return this.grantNow(key, rate, n, Date.now(), reserve);
	}

	/**
	 * Permits for `n` sends through a provider: none while its circuit is open, one probe when half open, else
	 * as many as its (adaptive) bucket has above `reserve`.
	 */
	async acquireProvider(name: string, policy: ProviderPolicy, n: number, reserve = 0): Promise<ProviderGrant> {
		const now = Date.now();
		const circuit = this.circuitNow(name, policy, now);
		if (circuit.state === "open") {
			const retryAfterMs = Math.max(0, (circuit.openedAt ?? now) + policy.coolDownMs - now);
			return { granted: 0, retryAfterMs, circuit: "open" };
		}
		if (circuit.state === "half_open") {
			if (circuit.probeInFlight) return { granted: 0, retryAfterMs: 1000, circuit: "half_open" };
			const probe = this.grantNow(`provider:${name}`, policy.rate, Math.min(1, n), now);
			if (probe.granted > 0) this.saveCircuit(name, { ...circuit, probeInFlight: true });
			return { ...probe, circuit: "half_open" };
		}
		return { ...this.grantNow(`provider:${name}`, policy.rate, n, now, reserve), circuit: "closed" };
	}

	/**
	 * What the permits led to. Successes close the circuit and let the rate recover; definite failures count
	 * towards opening it; a 429 halves the provider's rate and empties its bucket, so a shared account stops
	 * hitting the provider's limit instead of retrying into it.
	 */
	async reportProvider(name: string, policy: ProviderPolicy, report: ProviderReport): Promise<ProviderStatus> {
		const now = Date.now();
		const circuit = this.circuitNow(name, policy, now);
		const key = `provider:${name}`;
		const bucket = this.refilled(key, policy.rate, now);
		const configured = policy.rate.per_second;
		let rate = bucket.rate ?? configured;
		if (report.rateLimited > 0) {
			rate = Math.max(MIN_PROVIDER_RATE, rate / 2);
			bucket.tokens = 0;
		} else if (report.successes > 0) {
			rate = Math.min(configured, rate + configured * 0.1);
		}
		this.saveBucket(key, { ...bucket, rate: rate >= configured ? null : rate });

		let next: Circuit;
		if (report.failures > 0 && report.successes === 0) {
			const failures = circuit.failures + report.failures;
			const opens = circuit.state === "half_open" || failures >= policy.failureThreshold;
			next = opens ? { state: "open", failures, openedAt: now, probeInFlight: false } : { ...circuit, failures };
		} else if (report.successes > 0) {
			next = { state: "closed", failures: 0, openedAt: null, probeInFlight: false };
		} else {
			next = circuit;
		}
		this.saveCircuit(name, next);
		return { circuit: next.state, consecutiveFailures: next.failures, openedAt: next.openedAt, ratePerSecond: rate };
	}

	async providerStatus(name: string, policy: ProviderPolicy): Promise<ProviderStatus> {
		const now = Date.now();
		const circuit = this.circuitNow(name, policy, now);
		const rate = this.buckets.get(`provider:${name}`)?.rate ?? policy.rate.per_second;
		return { circuit: circuit.state, consecutiveFailures: circuit.failures, openedAt: circuit.openedAt, ratePerSecond: rate };
	}

	/** At UTC midnight: forget quota counters of past days, then wake again tomorrow. */
	override async alarm(): Promise<void> {
		const today = utcDay(Date.now());
		this.ctx.storage.sql.exec("DELETE FROM daily WHERE day < ?", today);
		if (this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM daily").one().n > 0) {
			await this.ctx.storage.setAlarm(nextUtcMidnight(Date.now()));
		}
	}

	private takeNow(key: string, rate: BucketRate, n: number, now: number): TakeResult {
		const bucket = this.refilled(key, rate, now);
		const allowed = n <= bucket.tokens;
		if (allowed) bucket.tokens -= n;
		this.saveBucket(key, bucket);
		const perSecond = bucket.rate ?? rate.per_second;
		const missing = allowed ? 0 : Math.min(n, rate.burst) - bucket.tokens;
		return {
			allowed,
			remaining: Math.floor(bucket.tokens),
			limit: rate.burst,
			retryAfterMs: allowed ? 0 : Math.ceil((missing / perSecond) * 1000),
			resetMs: Math.ceil(((rate.burst - bucket.tokens) / perSecond) * 1000),
		};
	}

	private peek(key: string, rate: BucketRate, now: number): TakeResult {
		const bucket = this.refilled(key, rate, now);
		return { allowed: true, remaining: Math.floor(bucket.tokens), limit: rate.burst, retryAfterMs: 0, resetMs: 0 };
	}

	/** `reserve` tokens stay for callers without one; it is clamped below the burst, so a full bucket always grants. */
	private grantNow(key: string, rate: BucketRate, n: number, now: number, reserve = 0): GrantResult {
		const bucket = this.refilled(key, rate, now);
		const kept = Math.max(0, Math.min(reserve, rate.burst - 1));
		const granted = Math.max(0, Math.min(n, Math.floor(bucket.tokens - kept)));
		bucket.tokens -= granted;
		this.saveBucket(key, bucket);
		const perSecond = bucket.rate ?? rate.per_second;
		// Until one more whole token stands above the reserve.
		const retryAfterMs = granted >= n ? 0 : Math.ceil(((kept + 1 - bucket.tokens) / perSecond) * 1000);
		return { granted, retryAfterMs };
	}

	private refilled(key: string, rate: BucketRate, now: number): Bucket {
		const current = this.buckets.get(key) ?? { tokens: rate.burst, updatedAt: now, rate: null };
		const perSecond = current.rate ?? rate.per_second;
		const elapsedSeconds = Math.max(0, now - current.updatedAt) / 1000;
		return { tokens: Math.min(rate.burst, current.tokens + elapsedSeconds * perSecond), updatedAt: now, rate: current.rate };
	}

	private saveBucket(key: string, bucket: Bucket): void {
		this.buckets.set(key, bucket);
		this.ctx.storage.sql.exec(
			"INSERT INTO buckets (key, tokens, updated_at, rate) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at, rate = excluded.rate",
			key,
			bucket.tokens,
			bucket.updatedAt,
			bucket.rate,
		);
	}

	private quotaNow(key: string, limit: number, now: number): QuotaResult {
		const day = utcDay(now);
		const used =
			this.ctx.storage.sql.exec<{ used: number }>("SELECT used FROM daily WHERE key = ? AND day = ?", key, day).toArray()[0]?.used ?? 0;
		return { allowed: used < limit, limit, used, remaining: Math.max(0, limit - used), resetMs: nextUtcMidnight(now) - now };
	}

	private charge(key: string, emails: number, quota: QuotaResult, now: number): QuotaResult {
		const day = utcDay(now);
		this.ctx.storage.sql.exec(
			"INSERT INTO daily (key, day, used) VALUES (?, ?, ?) ON CONFLICT(key, day) DO UPDATE SET used = used + excluded.used",
			key,
			day,
			emails,
		);
		// The alarm that forgets today's counter at midnight; set once per day per object.
		void this.ctx.storage.getAlarm().then((alarm) => (alarm === null ? this.ctx.storage.setAlarm(nextUtcMidnight(now)) : undefined));
		const used = quota.used + emails;
		return { ...quota, allowed: true, used, remaining: Math.max(0, quota.limit - used) };
	}

	private circuitNow(name: string, policy: ProviderPolicy, now: number): Circuit {
		const circuit = this.circuits.get(name) ?? { state: "closed" as const, failures: 0, openedAt: null, probeInFlight: false };
		if (circuit.state === "open" && circuit.openedAt !== null && now >= circuit.openedAt + policy.coolDownMs) {
			const halfOpen: Circuit = { ...circuit, state: "half_open", probeInFlight: false };
			this.saveCircuit(name, halfOpen);
			return halfOpen;
		}
		// A probe whose report never came (the consumer died) is forgotten after a cool-down.
		if (
			circuit.state === "half_open" &&
			circuit.probeInFlight &&
			circuit.openedAt !== null &&
			now >= circuit.openedAt + 2 * policy.coolDownMs
		) {
			const retry: Circuit = { ...circuit, probeInFlight: false, openedAt: now - policy.coolDownMs };
			this.saveCircuit(name, retry);
			return retry;
		}
		return circuit;
	}

	private saveCircuit(name: string, circuit: Circuit): void {
		this.circuits.set(name, circuit);
		this.ctx.storage.sql.exec(
			"INSERT INTO circuits (name, state, failures, opened_at, probe) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET state = excluded.state, failures = excluded.failures, opened_at = excluded.opened_at, probe = excluded.probe",
			name,
			circuit.state,
			circuit.failures,
			circuit.openedAt,
			circuit.probeInFlight ? 1 : 0,
		);
	}
}

export function utcDay(ms: number): string {
	return new Date(ms).toISOString().slice(0, 10);
}

export function nextUtcMidnight(ms: number): number {
	const d = new Date(ms);
	return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
