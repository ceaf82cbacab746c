/** The drizzle client over D1, and helpers that keep statements within D1's limits. */

import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;
export type Statement = BatchItem<"sqlite">;

/**
 * One drizzle client per D1 binding for the isolate's life: building one walks the whole schema for the relational
 * query API, which was a quarter of the accept path's CPU when done per request.
 */
const clients = new WeakMap<D1Database, Db>();

export function getDb(d1: D1Database): Db {
	let db = clients.get(d1);
	if (db === undefined) {
		db = drizzle(d1, { schema });
		clients.set(d1, db);
	}
	return db;
}

/**
 * One D1 round trip for any number of statements, as one transaction; the results in statement order.
 * An empty list makes no call (D1 rejects an empty batch).
 */
export async function runBatch(db: Db, statements: readonly Statement[]): Promise<unknown[]> {
	const [first, ...rest] = statements;
	if (first === undefined) return [];
	return (await db.batch([first, ...rest])) as unknown[];
}

/**
 * A guard for a write batch: aborts the whole batch (D1 batches are transactions) unless `condition` on the previous
 * statement holds — `changes() = 1`: it wrote its row; `changes() = 0`: it matched nothing. SQLite has no RAISE
 * outside triggers; `json()` of invalid text throws, which is the portable way to fail a statement. The SQL is
 * constant: drizzle cannot bind parameters of a raw statement inside a batch. `isGuardAbort` recognises the error.
 */
export function abortUnless(db: Db, condition: "changes() = 1" | "changes() = 0"): Statement {
	return db.run(sql.raw(`SELECT CASE WHEN ${condition} THEN 1 ELSE json('guard') END`));
}

/** True for the error an `abortUnless` guard raises (D1 reports it as malformed JSON). */
export function isGuardAbort(err: unknown): boolean {
	const text = (e: unknown): string => (e instanceof Error ? `${e.message} ${text(e.cause)}` : String(e ?? ""));
	return /malformed JSON/i.test(text(err));
}

/** D1 (and the local workerd) rejects a statement with more than 100 bound parameters. */
export const MAX_BOUND_PARAMETERS = 100;

/**
 * Multi-row INSERT statements for `rows`, each under D1's bound-parameter limit, ready for one `db.batch()`.
 * The rows per statement follow from the parameters drizzle binds for the first row (it binds defaults too).
 */
export function chunkedInserts<T extends SQLiteTable>(db: Db, table: T, rows: T["$inferInsert"][]): Statement[] {
	const first = rows[0];
	if (first === undefined) return [];
	const perRow = Math.max(1, db.insert(table).values(first).toSQL().params.length);
	const rowsPerStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMETERS / perRow));
	const statements: Statement[] = [];
	for (let i = 0; i < rows.length; i += rowsPerStatement) {
		statements.push(db.insert(table).values(rows.slice(i, i + rowsPerStatement)));
	}
	return statements;
}

/**
 * One page of a cursor-paged list read with `LIMIT limit + 1`: whether there is more, and the rows newest first
 * (a `before` page is read oldest first, towards newer rows, so it is reversed).
 */
export function pageOf<T>(rows: T[], limit: number, towardsNewer: boolean): { rows: T[]; hasMore: boolean } {
	const page = rows.slice(0, limit);
	return { rows: towardsNewer ? page.reverse() : page, hasMore: rows.length > limit };
}

/** Splits `items` into chunks of at most `size`, e.g. values for `IN (…)` lists under the parameter limit. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
	return out;
}

/** `drizzle` wraps D1 errors (`Failed query: …`); the D1 message is in `cause`. */
export function isUniqueViolation(err: unknown): boolean {
	const text = (e: unknown) => (e instanceof Error ? e.message : String(e));
	return /UNIQUE constraint failed/.test(text(err)) || (err instanceof Error && /UNIQUE constraint failed/.test(text(err.cause)));
}
