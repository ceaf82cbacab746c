/**
 * Daily: forget what is no longer needed (docs/architecture.md, "Crons"). Idempotency keys past their 24 h; provider
 * webhook replay keys past their window (`webhook_nonces`, at most NONCE_PURGE_LIMIT a run: one per SNS message, so
 * about one per SES event); for emails that ended more than RETENTION_DAYS ago, their bodies (html, text, headers,
 * template variables), attachment bytes in R2 and events; dead letters older than RETENTION_DAYS. An email with a
 * dead letter not yet replayed keeps its body and events until that dead letter expires, so a replay never sends an
 * empty email. Emails still on their way keep everything. The email rows themselves stay (ids, addresses, status)
 * so lists, stats and analytics keep their history. Bounded per run; a large backlog drains over several days' runs,
 * with counts logged.
 */
import { and, inArray, isNotNull, lt, or, type SQL, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { chunk, getDb, runBatch } from "../db/client";
import { deadLetters, emailEvents, emails, idempotencyKeys, webhookNonces } from "../db/schema";
import { errorFields, log } from "../lib/log";
import { ENDED_STATUSES } from "../lifecycle/transitions";

export const RETENTION_LIMIT = 500;
/** Expired webhook replay keys deleted per run (tiny rows, deleted through their expiry index). */
export const NONCE_PURGE_LIMIT = 500_000;

export async function retention(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const cutoff = now - getConfig(env).retentionDays * 86_400_000;
	/** Ended long enough ago, and no dead letter of it is still waiting to be replayed. */
	const expired: SQL | undefined = and(
		inArray(emails.status, [...ENDED_STATUSES]),
		lt(emails.updatedAt, cutoff),
		sql`NOT EXISTS (SELECT 1 FROM "dead_letters" AS d WHERE d.email_id = "emails"."id" AND d.replayed_at IS NULL AND d.created_at >= ${cutoff})`,
	);

	const [old, oldEvents] = await db.batch([
		db
			.select({ id: emails.id, attachments: emails.attachments })
			.from(emails)
			.where(
				and(
					expired,
					or(
						isNotNull(emails.html),
						isNotNull(emails.text),
						isNotNull(emails.attachments),
						isNotNull(emails.headers),
						isNotNull(emails.templateVariables),
					),
				),
			)
			.limit(RETENTION_LIMIT),
		// Events only of emails that ended (and whose dead letters expired): a long-running email keeps its history.
		db
			.select({ id: emailEvents.id })
			.from(emails)
			.innerJoin(emailEvents, sql`${emailEvents.emailId} = ${emails.id}`)
			.where(expired)
			.limit(RETENTION_LIMIT * 10),
	]);
	const keys = old.flatMap((r) => (r.attachments ?? []).flatMap((a) => (a.r2Key ? [a.r2Key] : [])));
	for (let i = 0; i < keys.length; i += 1000) {
		// R2 deletes up to 1000 keys per call; a failure keeps the rows' references so the next run tries again.
		try {
			await env.ATTACHMENTS.delete(keys.slice(i, i + 1000));
		} catch (err) {
			log.error("retention_r2_delete_failed", errorFields(err));
			return { idempotency_keys: 0, bodies: 0, attachments: 0, events: 0, dead_letters: 0, webhook_nonces: 0 };
		}
	}
	// Chunked: D1 binds at most 100 parameters per statement.
	const bodyStatements = chunk(
		old.map((r) => r.id),
		90,
	).map((ids) =>
		db
			.update(emails)
			.set({ html: null, text: null, headers: null, attachments: null, templateVariables: null })
			.where(inArray(emails.id, ids))
			.returning({ id: emails.id }),
	);
	const eventStatements = chunk(
		oldEvents.map((r) => r.id),
		90,
	).map((ids) => db.delete(emailEvents).where(inArray(emailEvents.id, ids)).returning({ id: emailEvents.id }));
	const results = await runBatch(db, [
		// The key is composite, so a bounded delete goes through rowid.
		db
			.delete(idempotencyKeys)
			.where(sql`rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at < ${now} LIMIT ${RETENTION_LIMIT * 10})`)
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
		...bodyStatements,
		...eventStatements,
	]);
	const count = (from: number, to: number) => results.slice(from, to).reduce((n: number, r) => n + (r as unknown[]).length, 0);
	const nonces = results[2] as { meta?: { changes?: number } } | undefined;
	const bodiesFrom = 3;
	return {
		idempotency_keys: count(0, 1),
		dead_letters: count(1, 2),
		webhook_nonces: nonces?.meta?.changes ?? 0,
		bodies: count(bodiesFrom, bodiesFrom + bodyStatements.length),
		attachments: keys.length,
		events: count(bodiesFrom + bodyStatements.length, results.length),
	};
}
