/**
 * Daily: forget what is no longer needed (docs/architecture.md, "Crons"). Idempotency keys past their 24 h; provider
 * webhook replay keys past their window (`webhook_nonces`, at most NONCE_PURGE_LIMIT a run: one per SNS message, so
 * about one per SES event); for emails accepted more than RETENTION_DAYS ago that have ended, their bodies (html,
 * text, headers, template variables), attachment bytes in R2 and stored events; dead letters older than
 * RETENTION_DAYS. An email with a dead letter not yet replayed keeps its body and events until that dead letter
 * expires, so a replay never sends an empty email. Emails still on their way keep everything until they end. The
 * email rows themselves stay (ids, addresses, status) so lists, stats and analytics keep their history.
 *
 * Emails are walked in id (creation) order from a cursor kept in `cron_cursors`, so each is read once and no index
 * is needed (an index on "ended" would cost every delivered email a row written); one still on its way when passed
 * is remembered in `retention_waiting` and checked again each run. Bounded per run (RETENTION_ROUNDS ×
 * RETENTION_SCAN); a backlog drains over several days' runs, with counts logged.
 */
import { and, asc, eq, gt, inArray, isNotNull, lt, or, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { chunk, type Db, getDb, runBatch, type Statement } from "../db/client";
import {
	cronCursors,
	deadLetters,
	emailEvents,
	emails,
	idempotencyKeys,
	retentionWaiting,
	type StoredAttachment,
	webhookNonces,
} from "../db/schema";
import { emailIdLowerBound } from "../lib/ids";
import { errorFields, log } from "../lib/log";

/** Emails read per scan statement, and scan statements per run: 100,000 emails a day's run can purge. */
export const RETENTION_SCAN = 2_000;
export const RETENTION_ROUNDS = 50;
/** Emails still waiting (on their way, or a dead letter not yet replayable) re-checked per run. */
export const RETENTION_WAITING_LIMIT = 5_000;
/** Expired webhook replay keys deleted per run (tiny rows, deleted through their expiry index). */
export const NONCE_PURGE_LIMIT = 500_000;
/** Expired idempotency keys and old dead letters deleted per run. */
export const RETENTION_LIMIT = 5_000;
const CURSOR = "retention";

type Candidate = { id: string; ended: boolean; keep: boolean; attachments: StoredAttachment[] | null };

export async function retention(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const cutoff = now - getConfig(env).retentionDays * 86_400_000;
	const bound = emailIdLowerBound(cutoff);
	const counts = { idempotency_keys: 0, bodies: 0, attachments: 0, events: 0, dead_letters: 0, webhook_nonces: 0, waiting: 0 };

	const fields = {
		id: emails.id,
		ended: sql<number>`${emails.endedAt} IS NOT NULL`.as("ended"),
		// A dead letter that can still be replayed keeps the body it would send.
		keep: sql<number>`EXISTS (SELECT 1 FROM "dead_letters" AS d WHERE d.email_id = "emails"."id" AND d.replayed_at IS NULL AND d.created_at >= ${cutoff})`.as(
			"keep",
		),
		attachments: emails.attachments,
	};
	const holdsSomething = or(
		isNotNull(emails.html),
		isNotNull(emails.text),
		isNotNull(emails.attachments),
		isNotNull(emails.headers),
		isNotNull(emails.templateVariables),
	);
	const asCandidates = (rows: { id: string; ended: number; keep: number; attachments: StoredAttachment[] | null }[]): Candidate[] =>
		rows.map((r) => ({ id: r.id, ended: Boolean(r.ended), keep: Boolean(r.keep), attachments: r.attachments }));

	// 1. Emails that were still on their way when the scan passed them: purged once they have ended.
	const waiting = asCandidates(
		await db
			.select(fields)
			.from(emails)
			.where(inArray(emails.id, db.select({ id: retentionWaiting.emailId }).from(retentionWaiting).limit(RETENTION_WAITING_LIMIT))),
	);
	const waitingDone = await purge(
		env,
		db,
		waiting.filter((c) => c.ended && !c.keep),
	);
	if (waitingDone === null) return counts;
	add(counts, waitingDone);
	const released = waiting.filter((c) => c.ended && !c.keep).map((c) => c.id);
	await runBatch(
		db,
		chunk(released, 90).map((ids) => db.delete(retentionWaiting).where(inArray(retentionWaiting.emailId, ids))),
	);

	// 2. Forward through the ids (creation order) from where the last run stopped, up to the cutoff: each email is
	//    read once; one still on its way is remembered in `retention_waiting` (rare: on its way a retention period
	//    after it was accepted).
	let cursor = (await db.select({ value: cronCursors.value }).from(cronCursors).where(eq(cronCursors.name, CURSOR)))[0]?.value ?? "";
	for (let round = 0; round < RETENTION_ROUNDS; round++) {
		const rows = await db
			.select({ ...fields, holds: sql<number>`${holdsSomething}`.as("holds") })
			.from(emails)
			.where(and(gt(emails.id, cursor), lt(emails.id, bound)))
			.orderBy(asc(emails.id))
			.limit(RETENTION_SCAN);
		const last = rows.at(-1);
		if (last === undefined) break;
		const candidates = asCandidates(rows.filter((r) => r.holds));
		const ready = candidates.filter((c) => c.ended && !c.keep);
		const notYet = candidates.filter((c) => !(c.ended && !c.keep)).map((c) => c.id);
		const done = await purge(env, db, ready, [
			...chunk(notYet, 90).map((ids) =>
				db
					.insert(retentionWaiting)
					.values(ids.map((emailId) => ({ emailId })))
					.onConflictDoNothing(),
			),
			db
				.insert(cronCursors)
				.values({ name: CURSOR, value: last.id })
				.onConflictDoUpdate({ target: cronCursors.name, set: { value: last.id } }),
		]);
		if (done === null) return counts;
		add(counts, done);
		counts.waiting += notYet.length;
		cursor = last.id;
		if (rows.length < RETENTION_SCAN) break;
	}

	// 3. Keys past their time and old dead letters.
	const results = await runBatch(db, [
		// The key is composite, so a bounded delete goes through rowid.
		db
			.delete(idempotencyKeys)
			.where(sql`rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at < ${now} LIMIT ${RETENTION_LIMIT})`)
			.returning({ key: idempotencyKeys.key }),
		db
			.delete(deadLetters)
			.where(
				inArray(
					deadLetters.id,
					db.select({ id: deadLetters.id }).from(deadLetters).where(lt(deadLetters.createdAt, cutoff)).limit(RETENTION_LIMIT),
				),
			)
			.returning({ id: deadLetters.id }),
		db.delete(webhookNonces).where(sql`rowid IN (SELECT rowid FROM webhook_nonces WHERE expires_at < ${now} LIMIT ${NONCE_PURGE_LIMIT})`),
	]);
	counts.idempotency_keys = (results[0] as unknown[]).length;
	counts.dead_letters = (results[1] as unknown[]).length;
	counts.webhook_nonces = (results[2] as { meta?: { changes?: number } } | undefined)?.meta?.changes ?? 0;
	return counts;
}

type Purged = { bodies: number; attachments: number; events: number };

function add(counts: Record<string, number>, done: Purged): void {
	counts.bodies = (counts.bodies ?? 0) + done.bodies;
	counts.attachments = (counts.attachments ?? 0) + done.attachments;
	counts.events = (counts.events ?? 0) + done.events;
}

/**
 * Empties the emails' bodies, attachment bytes (R2) and stored events, with `also` in the same batch; the rows stay
 * (ids, addresses, status) so lists, stats and analytics keep their history. Null when R2 refused: nothing was
 * written, and the next run tries again.
 */
async function purge(env: Env, db: Db, ready: readonly Candidate[], also: Statement[] = []): Promise<Purged | null> {
	const keys = ready.flatMap((c) => (c.attachments ?? []).flatMap((a) => (a.r2Key ? [a.r2Key] : [])));
	for (let i = 0; i < keys.length; i += 1000) {
		// R2 deletes up to 1000 keys per call; a failure keeps the rows' references so the next run tries again.
		try {
			await env.ATTACHMENTS.delete(keys.slice(i, i + 1000));
		} catch (err) {
			log.error("retention_r2_delete_failed", errorFields(err));
			return null;
		}
	}
	const ids = ready.map((c) => c.id);
	// Chunked: D1 binds at most 100 parameters per statement.
	const bodies = chunk(ids, 90).map((part) =>
		db
			.update(emails)
			.set({
				html: null,
				text: null,
				headers: null,
				attachments: null,
				templateVariables: null,
				// The held provider event may quote the recipient's server; its type and time stay.
				statusEvent: sql`CASE WHEN ${emails.statusEvent} IS NULL THEN NULL ELSE json_set(${emails.statusEvent}, '$.detail', json('null')) END`,
			})
			.where(inArray(emails.id, part))
			.returning({ id: emails.id }),
	);
	const events = chunk(ids, 90).map((part) =>
		db.delete(emailEvents).where(inArray(emailEvents.emailId, part)).returning({ id: emailEvents.emailId }),
	);
	const results = await runBatch(db, [...bodies, ...events, ...also]);
	const count = (from: number, to: number) => results.slice(from, to).reduce((n: number, r) => n + (r as unknown[]).length, 0);
	return {
		bodies: count(0, bodies.length),
		attachments: keys.length,
		events: count(bodies.length, bodies.length + events.length),
	};
}
