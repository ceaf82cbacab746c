/**
 * Every five minutes: ask providers what became of emails whose outcome we do not know (DESIGN §5).
 *
 * - `sent` (or `delivery_delayed`) longer than RECONCILE_AFTER_SECONDS with no final event: the webhook may never
 *   have come. What the provider reports is recorded through the same event service as webhooks (forward-only,
 *   deduplicated, suppressing, fanned out to tenant webhooks).
 * - `uncertain` (a timeout after the request left, at a provider without idempotency): found → it was sent;
 *   positively not found twice, one interval apart → it never was, so it goes back to `queued` and is sent once.
 *   One answer is not enough: providers index new messages with a delay (SendGrid's Activity feed documents none),
 *   and a send re-done on a premature "not found" would be a duplicate. Each "not found" is an event.
 * Lookups are paced through the provider's bucket (one permit per lookup, e.g. SES allows 1/s); providers
 * without a lookup API are skipped and counted. Each email is asked about at most once per interval.
 */
import { and, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { chunk, type Db, getDb, runBatch, type Statement } from "../db/client";
import { eventIfChanged } from "../db/emails";
import { emailEvents, emails } from "../db/schema";
import { mapWithConcurrency } from "../lib/concurrency";
import { errorFields, log } from "../lib/log";
import type { ProviderName } from "../providers/catalog";
import { type ProviderFactory, providerFactory } from "../providers/registry";
import type { EmailProvider, LookupResult } from "../providers/types";
import type { SendQueueMessage } from "../schemas/queue";
import { eventStatements, type ProviderEvent } from "../services/events";
import { limiterPacer, type Pacer } from "../services/pacing";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { enqueueSends } from "./enqueue";

export const RECONCILE_LIMIT = 100;
/** Providers index a new message with some delay: an uncertain send is looked up only after this long. */
export const UNCERTAIN_SETTLE_MS = 60_000;
/** Emails older than this are not looked up any more (providers keep activity for days, not forever). */
export const RECONCILE_MAX_AGE_MS = 7 * 86_400_000;

export type ReconcileDeps = { providers: ProviderFactory; pacer: Pacer };

type Candidate = {
	id: string;
	tenantId: string;
	status: string;
	provider: string | null;
	providerMessageId: string | null;
	recipients: string[];
	sentAt: number | null;
	/** An earlier lookup already found no trace of it (a `not_found_at_provider` event). */
	notFoundBefore: number;
};

export async function reconcile(env: Env, now: number, deps?: ReconcileDeps): Promise<Record<string, number>> {
	const config = getConfig(env);
	const { providers, pacer } = deps ?? { providers: providerFactory(env), pacer: limiterPacer(env.RATE_LIMITER, config) };
	const db = getDb(env.DB);
	const after = config.reconcileAfterSeconds * 1000;
	const notAskedSince = (ms: number) => or(isNull(emails.reconciledAt), lt(emails.reconciledAt, now - ms));
	const candidates: Candidate[] = await db
		.select({
			id: emails.id,
			tenantId: emails.tenantId,
			status: emails.status,
			provider: emails.provider,
			providerMessageId: emails.providerMessageId,
			recipients: emails.recipients,
			sentAt: emails.sentAt,
			// Qualified by hand: in select fields drizzle writes bare column names, which the subquery would capture.
			notFoundBefore: sql<number>`EXISTS (SELECT 1 FROM email_events AS nf WHERE nf.email_id = "emails"."id" AND nf.type = 'not_found_at_provider')`,
		})
		.from(emails)
		.where(
			or(
				and(
					inArray(emails.status, ["sent", "delivery_delayed"]),
					lt(emails.sentAt, now - after),
					gt(emails.sentAt, now - RECONCILE_MAX_AGE_MS),
					notAskedSince(after),
				),
				and(eq(emails.status, "uncertain"), lt(emails.updatedAt, now - UNCERTAIN_SETTLE_MS), notAskedSince(UNCERTAIN_SETTLE_MS)),
			),
		)
		.limit(RECONCILE_LIMIT);

	const counts = {
		candidates: candidates.length,
		looked_up: 0,
		updated: 0,
		requeued: 0,
		not_found: 0,
		errors: 0,
		skipped_no_lookup: 0,
		paced: 0,
	};
	const byProvider = new Map<string, Candidate[]>();
	for (const c of candidates) byProvider.set(c.provider ?? "", [...(byProvider.get(c.provider ?? "") ?? []), c]);

	const statements: Statement[] = [];
	const requeue: SendQueueMessage[] = [];
	const asked: string[] = [];
	for (const [name, rows] of byProvider) {
		const provider = name ? providers(name as ProviderName) : null;
		if (!provider?.lookup) {
			counts.skipped_no_lookup += rows.length;
			asked.push(...rows.map((r) => r.id));
			continue;
		}
		const { granted } = await pacer.providerPermits(provider.name, rows.length);
		counts.paced += rows.length - granted;
		const batch = rows.slice(0, granted);
		const results = await mapWithConcurrency(batch, 6, (row) => lookUp(provider, row));
		counts.looked_up += batch.length;
		batch.forEach((row, i) => {
			asked.push(row.id);
			const result = results[i];
			if (!result) {
				counts.errors += 1;
				return;
			}
			if (!result.found) {
				counts.not_found += 1;
				if (row.status === "uncertain" && row.notFoundBefore) {
					counts.requeued += 1;
					requeue.push({ v: 1, id: row.id, tenantId: row.tenantId });
					statements.push(...notSent(db, row, provider.name, now));
				} else if (row.status === "uncertain") {
					statements.push(
						db.insert(emailEvents).values({
							emailId: row.id,
							tenantId: row.tenantId,
							type: "not_found_at_provider",
							at: now,
							provider: provider.name,
							detail: null,
							dedupeKey: null,
						}),
					);
				}
				return;
			}
			counts.updated += 1;
			statements.push(...found(db, row, provider.name, result, now));
		});
	}
	// Chunked: D1 binds at most 100 parameters, and RECONCILE_LIMIT ids plus `now` would be 101.
	for (const ids of chunk(asked, 90)) statements.push(db.update(emails).set({ reconciledAt: now }).where(inArray(emails.id, ids)));
	const results = await runBatch(db, statements);
	await enqueueSends(env.SEND_QUEUE as Queue<SendQueueMessage>, requeue);
	await enqueueDeliveries(env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, deliveryIdsOf(results));
	return counts;
}

async function lookUp(provider: EmailProvider, row: Candidate): Promise<LookupResult | null> {
	try {
		const result = await provider.lookup?.({
			emailId: row.id,
			providerMessageId: row.providerMessageId,
			recipients: row.recipients,
			sentAt: row.sentAt,
		});
		if (result?.ok) return result.value;
		log.warn("reconcile_lookup_failed", { provider: provider.name, emailId: row.id, error: result?.error.message });
	} catch (err) {
		log.error("reconcile_lookup_threw", { provider: provider.name, emailId: row.id, ...errorFields(err) });
	}
	return null;
}

/** An uncertain send the provider has no trace of: it never happened, so it is queued to be sent once. */
function notSent(db: Db, row: Candidate, provider: string, now: number): Statement[] {
	return [
		db
			.update(emails)
			.set({ status: "queued", leaseUntil: null, nextAttemptAt: now, lastError: null, updatedAt: now })
			.where(and(eq(emails.id, row.id), eq(emails.status, "uncertain"))),
		eventIfChanged(db, {
			emailId: row.id,
			tenantId: row.tenantId,
			type: "queued",
			at: now,
			provider,
			detail: { reason: "not found at the provider" },
		}),
	];
}

/** What the provider knows, recorded like webhooks; an uncertain send it has is recorded as sent first. */
function found(db: Db, row: Candidate, provider: string, result: Extract<LookupResult, { found: true }>, now: number): Statement[] {
	const statements: Statement[] = [];
	const events: ProviderEvent[] = result.events.map((e) => ({
		emailId: row.id,
		tenantId: row.tenantId,
		type: e.type,
		at: e.at,
		provider,
		...(e.bounce ? { bounce: e.bounce } : {}),
		...(e.recipient ? { recipient: e.recipient } : {}),
		detail: { ...e.detail, source: "reconcile" },
		// The same fact found again by a later run is not recorded twice.
		dedupeKey: `${provider}:lookup:${row.id}:${e.type}:${e.bounce ?? ""}:${e.recipient ?? ""}`,
	}));
	if (row.status === "uncertain") {
		statements.push(
			db
				.update(emails)
				.set({ providerMessageId: result.providerMessageId ?? row.providerMessageId, sentAt: row.sentAt ?? now })
				.where(eq(emails.id, row.id)),
		);
		if (!events.some((e) => e.type === "sent")) {
			events.unshift({
				emailId: row.id,
				tenantId: row.tenantId,
				type: "sent",
				at: now,
				provider,
				detail: { source: "reconcile" },
				dedupeKey: `${provider}:lookup:${row.id}:sent::`,
			});
		}
	}
	statements.push(...eventStatements(db, events));
	return statements;
}
