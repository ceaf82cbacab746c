/**
 * Instrumentation for `npm run bench` (only when BENCH_METRICS=on; otherwise nothing here runs): counts, per phase of
 * the pipeline, the invocations, D1 statements and round trips with the rows D1 reports reading and writing,
 * RateLimiter RPCs, and queue sends with their messages and bytes, by wrapping the bindings. The counters live in the
 * isolate (wrangler dev runs one) and are read through `GET /admin/bench-metrics`.
 *
 * Every call counted here is a remote call the Worker awaits: a D1 round trip (one statement, or one `batch()`), a
 * Durable Object RPC, a queue `send`/`sendBatch`. Calls per request = (d1_round_trips + do_rpcs + queue_sends) /
 * invocations of the phase.
 *
 * Rows come from D1's `meta`, which `all()`, `run()` and `batch()` return and `raw()` and `first()` do not. So that
 * rows are exact, a `raw()` or `first()` here runs as `all()` (the same single statement, the same rows) and its
 * objects are turned back into what the caller asked for. The one case left is a statement whose result columns may
 * share a name (a JOIN, or a select list this cannot read): objects would lose a column, so it runs as asked and is
 * counted in `d1_unmetered_reads` / `d1_unmetered_writes`, the statements whose rows are missing from the totals.
 */
import { queueRole } from "../queue/names";
import { aroundRpcs } from "./rpc-proxy";

export type Phase = "accept" | "consume" | "webhook" | "cron" | "other";

/**
 * The phase of a queue batch, by the queue's role in any environment: both send lanes and their dead letters belong
 * to sending (`consume`); tenant webhooks, their dead letters and Cloudflare Email Sending's events to `webhook`.
 */
export function queuePhase(queue: string): Phase {
	const role = queueRole(queue);
	return role === "send" || role === "sendBulk" || role === "sendDeadLetter" ? "consume" : "webhook";
}

export type BenchCounter = {
	/** Invocations (HTTP requests, queue batches, cron runs) of the phase. */
	invocations: number;
	d1_queries: number;
	d1_round_trips: number;
	rows_read: number;
	rows_written: number;
	/** Statements answered without rows in `meta` (see above), reads and writes. */
	d1_unmetered_reads: number;
	d1_unmetered_writes: number;
	do_rpcs: number;
	/** `send` and `sendBatch` calls (each one round trip), the messages they carried and their JSON bytes. */
	queue_sends: number;
	queue_messages: number;
	queue_bytes: number;
};

const counters = new Map<Phase, BenchCounter>();
const wrapped = new WeakMap<object, Map<Phase, Env>>();

export function benchMetricsEnabled(env: Env): boolean {
	return (env as unknown as Record<string, unknown>).BENCH_METRICS === "on";
}

export function benchSnapshot(): Record<string, BenchCounter> {
	return Object.fromEntries([...counters].map(([phase, c]) => [phase, { ...c }]));
}

/** A counter at zero. */
export function emptyCounter(): BenchCounter {
	return {
		invocations: 0,
		d1_queries: 0,
		d1_round_trips: 0,
		rows_read: 0,
		rows_written: 0,
		d1_unmetered_reads: 0,
		d1_unmetered_writes: 0,
		do_rpcs: 0,
		queue_sends: 0,
		queue_messages: 0,
		queue_bytes: 0,
	};
}

function counter(phase: Phase): BenchCounter {
	let c = counters.get(phase);
	if (!c) {
		c = emptyCounter();
		counters.set(phase, c);
	}
	return c;
}

function addMeta(c: BenchCounter, result: unknown): void {
	const meta = (result as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
	c.rows_read += meta?.rows_read ?? 0;
	c.rows_written += meta?.rows_written ?? 0;
}

/**
 * The environment with D1, the RateLimiter namespace and both queues counting into `phase` (the same object per env
 * and phase). Each call is one invocation of the phase.
 */
export function instrumented(env: Env, phase: Phase): Env {
	const c = counter(phase);
	c.invocations += 1;
	let byPhase = wrapped.get(env);
	if (!byPhase) {
		byPhase = new Map();
		wrapped.set(env, byPhase);
	}
	const hit = byPhase.get(phase);
	if (hit) return hit;
	const replaced: Partial<Record<keyof Env, unknown>> = {
		DB: countingD1(env.DB, c),
		RATE_LIMITER: countingNamespace(env.RATE_LIMITER, c),
		SEND_QUEUE: countingQueue(env.SEND_QUEUE, c),
		SEND_BULK_QUEUE: countingQueue(env.SEND_BULK_QUEUE, c),
		WEBHOOK_QUEUE: countingQueue(env.WEBHOOK_QUEUE, c),
	};
	const proxy = new Proxy(env, {
		get(target, property, receiver) {
			if (typeof property === "string" && property in replaced) return replaced[property as keyof Env];
			return Reflect.get(target, property, receiver);
		},
	});
	byPhase.set(phase, proxy);
	return proxy;
}

/**
 * Whether rows of `query` can be read as objects and turned back into arrays without losing a column: no JOIN, and
 * the select (or RETURNING) list names each column once and holds no expression. Anything else is left alone.
 */
export function objectRowsKeepColumns(query: string): boolean {
	if (/\bjoin\b/i.test(query)) return false;
	const list = /^\s*select\s+(.*?)\s+from\s/is.exec(query)?.[1] ?? /\sreturning\s+(.*)$/is.exec(query)?.[1];
	if (list === undefined) return !/^\s*select\b/i.test(query);
	if (/[()*]/.test(list)) return false;
	const names = list.split(",").map((item) => /"([^"]+)"\s*$/.exec(item.trim())?.[1]);
	if (names.some((name) => name === undefined)) return false;
	return new Set(names).size === names.length;
}

const WRITE = /^\s*(insert|update|delete|replace|with)\b/i;

function countingD1(db: D1Database, c: BenchCounter): D1Database {
	const statement = (stmt: D1PreparedStatement, query: string): D1PreparedStatement =>
		new Proxy(stmt, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (typeof value !== "function") return value;
				if (property === "bind") return (...args: unknown[]) => statement(value.apply(target, args), query);
				if (property === "all" || property === "run") {
					return async (...args: unknown[]) => {
						c.d1_queries += 1;
						c.d1_round_trips += 1;
						const result = await value.apply(target, args);
						addMeta(c, result);
						return result;
					};
				}
				if (property === "raw" || property === "first") {
					return async (...args: unknown[]) => {
						c.d1_queries += 1;
						c.d1_round_trips += 1;
						const [option] = args;
						const asArrays = property === "raw" && (option as { columnNames?: boolean } | undefined)?.columnNames !== true;
						const asRow = property === "first";
						if ((asArrays || asRow) && objectRowsKeepColumns(query)) {
							const result = await target.all<Record<string, unknown>>();
							addMeta(c, result);
							if (asArrays) return result.results.map((row) => Object.values(row));
							const row = result.results[0] ?? null;
							return typeof option === "string" ? (row?.[option] ?? null) : row;
						}
						if (WRITE.test(query)) c.d1_unmetered_writes += 1;
						else c.d1_unmetered_reads += 1;
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
	return new Proxy(db, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (property === "prepare") return (query: string) => statement(target.prepare(query), query);
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

function countingNamespace(ns: Env["RATE_LIMITER"], c: BenchCounter): Env["RATE_LIMITER"] {
	return aroundRpcs(ns, (invoke) => {
		c.do_rpcs += 1;
		return invoke();
	});
}

const encoder = new TextEncoder();
/** Bytes of a message body as the queue stores it (JSON, the default content type). */
function bodyBytes(body: unknown): number {
	return encoder.encode(JSON.stringify(body) ?? "").byteLength;
}

function countingQueue<Q extends Queue>(queue: Q, c: BenchCounter): Q {
	return new Proxy(queue, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (property === "send") {
				return (body: unknown, options?: QueueSendOptions) => {
					c.queue_sends += 1;
					c.queue_messages += 1;
					c.queue_bytes += bodyBytes(body);
					return target.send(body, options);
				};
			}
			if (property === "sendBatch") {
				return (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
					const list = [...messages];
					c.queue_sends += 1;
					c.queue_messages += list.length;
					for (const m of list) c.queue_bytes += bodyBytes(m.body);
					return target.sendBatch(list, options);
				};
			}
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}
