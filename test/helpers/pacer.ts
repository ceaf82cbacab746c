/** The real RateLimiter-backed pacer for tests, counting its RPCs. */
import { env } from "cloudflare:workers";
import { getConfig } from "../../src/config";
import { limiterPacer, type Pacer } from "../../src/services/pacing";

export function realPacer(settings: Record<string, string> = {}) {
	const merged = Object.assign(Object.create(null), env, settings) as Env;
	const inner = limiterPacer(env.RATE_LIMITER, getConfig(merged));
	const calls = { tenant: 0, provider: 0, report: 0 };
	const pacer: Pacer = {
		tenantPermits: (...a) => {
			calls.tenant += 1;
			return inner.tenantPermits(...a);
		},
		providerPermits: (...a) => {
			calls.provider += 1;
			return inner.providerPermits(...a);
		},
		report: (...a) => {
			calls.report += 1;
			return inner.report(...a);
		},
		status: inner.status,
	};
	return { pacer, calls };
}
