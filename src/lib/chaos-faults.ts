/**
 * Fault injection for `npm run chaos` only: with CHAOS_LIMITER_FAULT_RATE set (a probability, e.g. `0.05`), the
 * queue consumers see a RateLimiter whose RPCs fail at that rate, as an overloaded or restarting Durable Object
 * would. Unset (every real deployment), nothing here runs.
 */
import { aroundRpcs } from "./rpc-proxy";

export function limiterFaultRate(env: Env): number {
	const rate = Number((env as unknown as Record<string, unknown>).CHAOS_LIMITER_FAULT_RATE ?? 0);
	return Number.isFinite(rate) && rate > 0 ? Math.min(rate, 1) : 0;
}

/** The environment with a RateLimiter namespace whose stubs' RPCs throw with probability `rate`. */
export function withLimiterFaults(env: Env, rate: number): Env {
	const faulty = aroundRpcs(env.RATE_LIMITER, (invoke) =>
		Math.random() < rate ? Promise.reject(new Error("chaos: RateLimiter RPC failed (injected)")) : invoke(),
	);
	return new Proxy(env, {
		get: (target, property, receiver) => (property === "RATE_LIMITER" ? faulty : Reflect.get(target, property, receiver)),
	});
}
