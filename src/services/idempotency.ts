/**
 * Idempotency keys with Resend's rules (docs/architecture.md, "Public API"), enforced by the primary key of `idempotency_keys`.
 *
 * Protocol, per request carrying a key:
 * 1. claim: one UPSERT inserts an `in_flight` row owned by this request, or takes over a row that expired
 *    (24 h) or whose owner has been in flight too long (it crashed). A SELECT in the same D1 batch reads the
 *    row back; if its owner is us, we hold the key. The caller adds its own reads to that batch.
 * 2. complete: the accept batch sets `completed` with the response, guarded by owner, atomically with the
 *    writes it stands for.
 * 3. release: on a failure after the claim, the in-flight row is deleted so the client can retry at once.
 *
 * A row owned by someone else answers: completed + same body → replay; different body → 409
 * `invalid_idempotent_request`; still in flight → 409 `concurrent_idempotent_requests`.
 *
 * Plain sends skip step 1 (src/services/accept.ts, the optimistic path): their write batch inserts the key already
 * completed (`completedKeyStatement`), guarded like step 2, and only when that guard aborts is the row read
 * (`storedOutcome`) to answer the replay or the 409.
 */
import { and, eq, lte, or, sql } from "drizzle-orm";
import { IDEMPOTENCY_IN_FLIGHT_MS, IDEMPOTENCY_TTL_MS } from "../config";
import { abortUnless, type Db, type Statement } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { ApiError } from "../errors";
import { canonicalJson, sha256Hex } from "../lib/crypto";

export type IdempotencyClaim = {
	tenantId: string;
	endpoint: string;
	key: string;
	requestHash: string;
	owner: string;
};

export type StoredResponse = { status: number; body: string };

export type ClaimResult = { kind: "claimed" } | { kind: "replay"; response: StoredResponse };

/** Validates the `Idempotency-Key` header: absent → null; 1–256 characters → the key; otherwise 400. */
export function readIdempotencyKey(header: string | undefined): string | null {
	if (header === undefined) return null;
	if (header.length < 1 || header.length > 256) {
		throw new ApiError("invalid_idempotency_key", "The key must be between 1-256 chars.");
	}
	return header;
}

export async function newClaim(tenantId: string, endpoint: string, key: string, body: unknown): Promise<IdempotencyClaim> {
	return { tenantId, endpoint, key, requestHash: await sha256Hex(canonicalJson(body)), owner: crypto.randomUUID() };
}

function rowOf(claim: IdempotencyClaim) {
	return and(
		eq(idempotencyKeys.tenantId, claim.tenantId),
		eq(idempotencyKeys.endpoint, claim.endpoint),
		eq(idempotencyKeys.key, claim.key),
	);
}

/** The two statements of step 1; run them first in a `db.batch()` and pass their results to `interpretClaim`. */
export function claimStatements(db: Db, claim: IdempotencyClaim, now: number): [Statement, Statement] {
	const read = db.select().from(idempotencyKeys).where(rowOf(claim)).limit(1);
	return [keyUpsert(db, claim, now, null), read];
}

/**
 * The key's row owned by this request — `in_flight` (no response yet) or already `completed` with `response` —
 * inserted, or taking over a takeable row; a live row of anyone else's is left alone, so the statement writes
 * nothing (what the read of step 1, or a `claimGuardStatement` after it, detects).
 */
function keyUpsert(db: Db, claim: IdempotencyClaim, now: number, response: StoredResponse | null): Statement {
	const owned = {
		requestHash: claim.requestHash,
		state: response === null ? ("in_flight" as const) : ("completed" as const),
		owner: claim.owner,
		responseStatus: response?.status ?? null,
		responseBody: response?.body ?? null,
		createdAt: now,
		expiresAt: now + IDEMPOTENCY_TTL_MS,
	};
	return db
		.insert(idempotencyKeys)
		.values({ tenantId: claim.tenantId, endpoint: claim.endpoint, key: claim.key, ...owned })
		.onConflictDoUpdate({
			target: [idempotencyKeys.tenantId, idempotencyKeys.endpoint, idempotencyKeys.key],
			set: owned,
			setWhere: takeable(now),
		});
}

/** A row another request may take over: expired, or in flight so long that its request must have crashed. */
function takeable(now: number) {
	return or(
		lte(idempotencyKeys.expiresAt, now),
		and(eq(idempotencyKeys.state, "in_flight"), lte(idempotencyKeys.createdAt, now - IDEMPOTENCY_IN_FLIGHT_MS)),
	);
}

/** The optimistic path's key: completed with the response in the write batch itself (see `keyUpsert`). */
export function completedKeyStatement(db: Db, claim: IdempotencyClaim, response: StoredResponse, now: number): Statement {
	return keyUpsert(db, claim, now, response);
}

/**
 * What a live row of the key says about this request, read after the optimistic write aborted: the replay, or the
 * 409 `interpretClaim` throws; null when there is no live row (it expired or was released in between).
 */
export async function storedOutcome(db: Db, claim: IdempotencyClaim, now: number): Promise<ClaimResult | null> {
	const [row] = await db
		.select()
		.from(idempotencyKeys)
		.where(and(rowOf(claim), sql`NOT (${takeable(now)})`))
		.limit(1);
	return row ? interpretClaim(claim, [row]) : null;
}

export function interpretClaim(claim: IdempotencyClaim, readBack: (typeof idempotencyKeys.$inferSelect)[]): ClaimResult {
	const row = readBack[0];
	if (!row) throw new Error("idempotency row missing right after its upsert");
	if (row.owner === claim.owner) return { kind: "claimed" };
	if (row.requestHash !== claim.requestHash) {
		throw new ApiError(
			"invalid_idempotent_request",
			"Same idempotency key used with a different request payload. Change your idempotency key or payload.",
		);
	}
	if (row.state !== "completed" || row.responseStatus === null || row.responseBody === null) {
		throw new ApiError(
			"concurrent_idempotent_requests",
			"Same idempotency key used while original request is still in progress. Try the request again later.",
		);
	}
	return { kind: "replay", response: { status: row.responseStatus, body: row.responseBody } };
}

/** Step 2, for the accept batch: records the response, but only while this request still owns the key. */
export function completeStatement(db: Db, claim: IdempotencyClaim, response: StoredResponse): Statement {
	return db
		.update(idempotencyKeys)
		.set({ state: "completed", responseStatus: response.status, responseBody: response.body })
		.where(and(rowOf(claim), eq(idempotencyKeys.owner, claim.owner)));
}

/** Step 3: frees a key this request claimed but could not complete. */
export async function releaseClaim(db: Db, claim: IdempotencyClaim): Promise<void> {
	await db.delete(idempotencyKeys).where(and(rowOf(claim), eq(idempotencyKeys.owner, claim.owner), eq(idempotencyKeys.state, "in_flight")));
}

/**
 * Placed right after `completeStatement` or `completedKeyStatement` in the accept batch: aborts the whole batch
 * unless that statement wrote our row, i.e. unless this request (still) owns the key.
 */
export function claimGuardStatement(db: Db): Statement {
	return abortUnless(db, "changes() = 1");
}
