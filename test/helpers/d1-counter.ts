/**
 * Counts D1 round trips of the Worker by wrapping the real `env.DB` binding: every `batch()`, `exec()` and
 * every prepared statement's `first/all/run/raw` is one request to D1.
 */
import { env } from "cloudflare:workers";
import { vi } from "vitest";

export type D1Counter = { roundTrips: () => number; statements: () => number; reset: () => void };

export function countD1(): D1Counter {
	let roundTrips = 0;
	let statements = 0;
	const db = env.DB;
	const realPrepare = db.prepare.bind(db);
	const realBatch = db.batch.bind(db);
	const wrap = (stmt: D1PreparedStatement): D1PreparedStatement =>
		new Proxy(stmt, {
			get(target, prop, receiver) {
				const value = Reflect.get(target, prop, receiver);
				if (typeof value !== "function") return value;
				if (prop === "bind") return (...args: unknown[]) => wrap(value.apply(target, args));
				if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
					return (...args: unknown[]) => {
						roundTrips += 1;
						statements += 1;
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
	vi.spyOn(db, "prepare").mockImplementation((query: string) => wrap(realPrepare(query)));
	vi.spyOn(db, "batch").mockImplementation(async (list) => {
		roundTrips += 1;
		statements += list.length;
		// Unwrap proxies: the runtime's batch needs its own statement objects.
		return realBatch(list);
	});
	return {
		roundTrips: () => roundTrips,
		statements: () => statements,
		reset: () => {
			roundTrips = 0;
			statements = 0;
		},
	};
}
