/**
 * Send pacing and provider health, backed by the RateLimiter Durable Object (one object per tenant, one per
 * provider account). The consumer asks once per tenant and once per provider for a whole batch, and reports the
 * provider outcomes once per provider: a handful of RPCs per batch, never one per email.
 */
import type { Config } from "../config";
import type { Rate } from "../db/schema";
import type { GrantResult, ProviderGrant, ProviderPolicy, ProviderReport, ProviderStatus } from "../durable-objects/rate-limiter";
import { defaultRateOf } from "../providers/registry";

export type Pacer = {
	tenantPermits(tenantId: string, rate: Rate, n: number): Promise<GrantResult>;
	providerPermits(provider: string, n: number): Promise<ProviderGrant>;
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

export function limiterPacer(namespace: Env["RATE_LIMITER"], config: Config): Pacer {
	if (!config.rateLimiting) return unlimitedPacer;
	return {
		tenantPermits: (tenantId, rate, n) => namespace.getByName(`tenant:${tenantId}`).grant(`tenant:${tenantId}:send`, rate, n),
		providerPermits: (provider, n) =>
			namespace.getByName(`provider:${provider}`).acquireProvider(provider, providerPolicy(config, provider), n),
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
