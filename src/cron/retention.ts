/**
 * Daily: forget what is no longer needed. Idempotency keys past their 24 h; provider webhook replay keys past their
 * window (`webhook_nonces`, at most NONCE_PURGE_LIMIT a run: one per SNS message, so about one per SES event); for
 * emails that ended more than
 * RETENTION_DAYS ago, their bodies (html, text, headers), attachment bytes in R2 and events. The email rows
 * themselves stay (ids, addresses, status) so lists, stats and analytics keep their history. Bounded per run;
 * a large backlog drains over several days' runs, with counts logged.
 */
import { and, inArray, isNotNull, lt, or, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { emailEvents, emails, idempotencyKeys, webhookNonces } from "../db/schema";
import { errorFields, log } from "../lib/log";

export const RETENTION_LIMIT = 500;
/** Expired webhook replay keys deleted per run (tiny rows, deleted through their expiry index). */
export const NONCE_PURGE_LIMIT = 500_000;
const ENDED = ["delivered", "bounced", "complained", "failed", "canceled"] as const;

export async function retention(env: Env, now: number): Promise<Record<string, number>> {
	const db = getDb(env.DB);
	const cutoff = now - getConfig(env).retentionDays * 86_400_000;

	const old = await db
		.select({ id: emails.id, attachments: emails.attachments })
		.from(emails)
		.where(
			and(
				inArray(emails.status, [...ENDED]),
				lt(emails.updatedAt, cutoff),
				or(isNotNull(emails.html), isNotNull(emails.text), isNotNull(emails.attachments), isNotNull(emails.headers)),
			),
		)
		.limit(RETENTION_LIMIT);
	const keys = old.flatMap((r) => (r.attachments ?? []).flatMap((a) => (a.r2Key ? [a.r2Key] : [])));
	for (let i = 0; i < keys.length; i += 1000) {
		// R2 deletes up to 1000 keys per call; a failure keeps the rows' references so the next run tries again.
		try {
			await env.ATTACHMENTS.delete(keys.slice(i, i + 1000));
		} catch (err) {
			log.error("retention_r2_delete_failed", errorFields(err));
			return { idempotency_keys: 0, bodies: 0, attachments: 0, events: 0, webhook_nonces: 0 };
		}
	}
	const ids = old.map((r) => r.id);
	const [keysDeleted, bodies, events, nonces] = await db.batch([
		// The key is composite, so a bounded delete goes through rowid.
		db
			.delete(idempotencyKeys)
			.where(sql`rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at < ${now} LIMIT ${RETENTION_LIMIT * 10})`)
			.returning({ key: idempotencyKeys.key }),
		db
			.update(emails)
			.set({ html: null, text: null, headers: null, attachments: null })
			.where(inArray(emails.id, ids.length > 0 ? ids : [""]))
			.returning({ id: emails.id }),
		db
			.delete(emailEvents)
			.where(
				inArray(
					emailEvents.id,
					db
						.select({ id: emailEvents.id })
						.from(emailEvents)
						.where(lt(emailEvents.at, cutoff))
						.limit(RETENTION_LIMIT * 10),
				),
			)
			.returning({ id: emailEvents.id }),
		db.delete(webhookNonces).where(sql`rowid IN (SELECT rowid FROM webhook_nonces WHERE expires_at < ${now} LIMIT ${NONCE_PURGE_LIMIT})`),
	]);
	return {
		idempotency_keys: keysDeleted.length,
		bodies: bodies.length,
		attachments: keys.length,
		events: events.length,
		webhook_nonces: nonces.meta.changes,
	};
}
