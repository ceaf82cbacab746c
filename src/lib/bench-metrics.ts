/**
 * Instrumentation for `npm run bench` (only when BENCH_METRICS=on; otherwise nothing here runs): counts D1 queries,
 * the rows D1 reports reading and writing, and RateLimiter RPCs, per phase of the pipeline, by wrapping the two
 * bindings. The counters live in the isolate (wrangler dev runs one) and are read through `GET /admin/bench-metrics`.
 *
 * Rows come from D1's `meta`, which `all()`, `run()` and `batch()` return; `raw()` (drizzle's path for single
 * selects outside a batch) returns none, so row counts are lower bounds while query counts are exact.
 */
import { aroundRpcs } from "./rpc-proxy";

export type Phase = "accept" | "consume" | "webhook" | "cron" | "other";

type Counter = { d1_queries: number; d1_round_trips: number; rows_read: number; rows_written: number; do_rpcs: number };

const counters = new Map<Phase, Counter>();
const wrapped = new WeakMap<object, Map<Phase, Env>>();

export function benchMetricsEnabled(env: Env): boolean {
	return (env as unknown as Record<string, unknown>).BENCH_METRICS === "on";
}

export function benchSnapshot(): Record<string, Counter> {
	return Object.fromEntries([...counters].map(([phase, c]) => [phase, { ...c }]));
}

function counter(phase: Phase): Counter {
	let c = counters.get(phase);
	if (!c) {
		c = { d1_queries: 0, d1_round_trips: 0, rows_read: 0, rows_written: 0, do_rpcs: 0 };
		counters.set(phase, c);
	}
	return c;
}

function addMeta(c: Counter, result: unknown): void {
	const meta = (result as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
	c.rows_read += meta?.rows_read ?? 0;
	c.rows_written += meta?.rows_written ?? 0;
}

/** The environment with D1 and the RateLimiter namespace counting into `phase` (the same object per env and phase). */
export function instrumented(env: Env, phase: Phase): Env {
	let byPhase = wrapped.get(env);
	if (!byPhase) {
		byPhase = new Map();
		wrapped.set(env, byPhase);
	}
	const hit = byPhase.get(phase);
	if (hit) return hit;
	const c = counter(phase);
	const db = countingD1(env.DB, c);
	const limiter = countingNamespace(env.RATE_LIMITER, c);
	const proxy = new Proxy(env, {
		get(target, property, receiver) {
			if (property === "DB") return db;
			if (property === "RATE_LIMITER") return limiter;
			return Reflect.get(target, property, receiver);
		},
	});
	byPhase.set(phase, proxy);
	return proxy;
}

function countingD1(db: D1Database, c: Counter): D1Database {
	const statement = (stmt: D1PreparedStatement): D1PreparedStatement =>
		new Proxy(stmt, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (typeof value !== "function") return value;
				if (property === "bind") return (...args: unknown[]) => statement(value.apply(target, args));
				if (property === "all" || property === "run" || property === "first" || property === "raw") {
					return async (...args: unknown[]) => {
						c.d1_queries += 1;
						c.d1_round_trips += 1;
						const result = await value.apply(target, args);
						addMeta(c, result);
						return result;
					};
				}
				return value.bind(target);
			},
		});
	return new Proxy(db, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (property === "prepare") return (query: string) => statement(target.prepare(query));
			if (property === "batch") {
				return async (statements: D1PreparedStatement[]) => {
					c.d1_round_trips += 1;
					c.d1_queries += statements.length;
					const results = await target.batch(statements);
					for (const r of results) addMeta(c, r);
					return results;
				};
			}
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

function countingNamespace(ns: Env["RATE_LIMITER"], c: Counter): Env["RATE_LIMITER"] {
	return aroundRpcs(ns, (invoke) => {
		c.do_rpcs += 1;
		return invoke();
	});
}
