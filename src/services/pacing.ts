/**
 * Send pacing and provider health, backed by the RateLimiter Durable Object (one object per tenant, one per
 * provider account). The consumer asks once per tenant and once per provider for a whole batch, and reports the
 * provider outcomes once per provider: a handful of RPCs per batch, never one per email.
 *
 * Priority (README, "Priority lanes"): a `bulk` request is granted only the tokens above a reserve of the bucket
 * (`bulkReserve`), so while a bulk backlog drains at the full refill rate, a `high` or `normal` send still finds a
 * permit; those two are never refused while a bulk one could be granted. The consumer orders `high` before `normal`
 * within a grant (src/queue/send/plan.ts). Pacing only ever defers: a row without a permit stays queued.
 */
import type { Config } from "../config";
import type { EmailPriority, Rate } from "../db/schema";
import type { GrantResult, ProviderGrant, ProviderPolicy, ProviderReport, ProviderStatus } from "../durable-objects/rate-limiter";
import { defaultRateOf } from "../providers/registry";

export type Pacer = {
	/** `priority`: the lowest of the rows asked for (`bulk` leaves the reserve); `normal` when omitted. */
	tenantPermits(tenantId: string, rate: Rate, n: number, priority?: EmailPriority): Promise<GrantResult>;
	providerPermits(provider: string, n: number, priority?: EmailPriority): Promise<ProviderGrant>;
	report(provider: string, report: ProviderReport): Promise<void>;
	status(provider: string): Promise<ProviderStatus>;
};

export function providerPolicy(config: Config, provider: string): ProviderPolicy {
	return {
		// Every known provider has a default; an unknown name is never granted a permit to send anyway.
		rate: config.providerRates[provider] ?? defaultRateOf(provider) ?? { per_second: 1, burst: 1 },
		failureThreshold: config.circuitFailureThreshold,
		coolDownMs: config.circuitCoolDownMs,
	};
}

/**
 * The tokens a bulk request must leave in a bucket of `burst`: BULK_RESERVE of it, at least one (a reserve below one
 * token holds nothing back), never the whole bucket (bulk would never be served). 0 when BULK_RESERVE is 0.
 *
 * @example
 * bulkReserve(100, 0.2); // 20: the tenant default's burst of 100 keeps 20 sends for high and normal mail
 */
export function bulkReserve(burst: number, fraction: number): number {
	if (fraction === 0) return 0;
	return Math.max(0, Math.min(burst - 1, Math.max(1, fraction * burst)));
}

export function limiterPacer(namespace: Env["RATE_LIMITER"], config: Config): Pacer {
	if (!config.rateLimiting) return unlimitedPacer;
	const reserveOf = (priority: EmailPriority | undefined, burst: number) =>
		priority === "bulk" ? bulkReserve(burst, config.bulkReserve) : 0;
	return {
		tenantPermits: (tenantId, rate, n, priority) =>
			namespace.getByName(`tenant:${tenantId}`).grant(`tenant:${tenantId}:send`, rate, n, reserveOf(priority, rate.burst)),
		providerPermits: (provider, n, priority) => {
			const policy = providerPolicy(config, provider);
			return namespace.getByName(`provider:${provider}`).acquireProvider(provider, policy, n, reserveOf(priority, policy.rate.burst));
		},
		report: async (provider, report) => {
			await namespace.getByName(`provider:${provider}`).reportProvider(provider, providerPolicy(config, provider), report);
		},
		status: (provider) => namespace.getByName(`provider:${provider}`).providerStatus(provider, providerPolicy(config, provider)),
	};
}

/** No limits and always-closed circuits: RATE_LIMITING=off. */
export const unlimitedPacer: Pacer = {
	tenantPermits: async (_tenantId, _rate, n) => ({ granted: n, retryAfterMs: 0 }),
	providerPermits: async (_provider, n) => ({ granted: n, retryAfterMs: 0, circuit: "closed" }),
	report: async () => {},
	status: async () => ({ circuit: "closed", consecutiveFailures: 0, openedAt: null, ratePerSecond: Number.POSITIVE_INFINITY }),
};
