/**
 * Every five minutes: ask providers what became of emails whose outcome we do not know (docs/architecture.md,
 * "Uncertainty").
 *
 * - `uncertain` emails first, with their own limit, oldest episode first: found → it was sent once (`markSent`);
 *   positively not found twice within the current episode, one interval apart → it never was, so it goes back to
 *   `queued` and is sent once. One answer is not enough: providers index new messages with a delay, and a send
 *   re-done on a premature "not found" would be a duplicate. An email still unresolved UNRESOLVED_AFTER_SECONDS into
 *   its episode (no lookup at its provider, or lookups that keep failing) ends `failed` with reason
 *   `unresolved_at_provider` and a dead letter an operator may replay deliberately.
 * - Then `sent` (or `delivery_delayed`) emails older than RECONCILE_AFTER_SECONDS without a final event: the webhook
 *   may never have come. What the provider reports is recorded through the same provider-event path as webhooks
 *   (forward-only, deduplicated, suppressing, fanned out); its `sent` is dropped, the email has one already. `sent`
 *   with no final event is a resting state, not a stuck one: after RECONCILE_MAX_AGE_MS nobody asks any more, and
 *   it leaves the open set (`ended_at`), as does one whose provider cannot be asked. Only emails at providers with a
 *   lookup are selected (SMTP's would take every slot and settle nothing); one asked about waits an interval
 *   (`next_attempt_at`) before the next question.
 * Every query reads the open set (`emails_open`: `ended_at IS NULL`, by `next_attempt_at`), never a status index.
 * Lookups are paced through the provider's bucket (one permit per lookup); uncertain emails at providers without a
 * lookup API are skipped and counted until they give up. Each email is asked about at most once per interval.
 */
import { and, asc, eq, gt, inArray, isNull, lt, lte, notInArray, or, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { chunk, getDb, runBatch, type Statement } from "../db/client";
import { inFlight, inFlightSlice } from "../db/emails";
import { type EmailPriority, emails } from "../db/schema";
import { mapWithConcurrency } from "../lib/concurrency";
import { newId } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { eventStatements, type ProviderEvent } from "../lifecycle/provider-events";
import { foundAtProvider, giveUpUnresolved, NOT_FOUND_EVENT, notFoundAtProvider, notSentAtProvider } from "../lifecycle/uncertain";
import { isProviderName, PROVIDERS, type ProviderFactory, providerFactory } from "../providers/registry";
import type { EmailProvider, LookupResult } from "../providers/types";
import type { LaneMessage } from "../queue/lanes";
import { limiterPacer, type Pacer } from "../services/pacing";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { enqueueSends } from "./enqueue";

/** Uncertain emails looked at per run; they come first and do not share this with `sent` ones. */
export const RECONCILE_UNCERTAIN_LIMIT = 100;
/** `sent` emails without a final event looked up per run. */
export const RECONCILE_LIMIT = 100;
/** Providers index a new message with some delay: an uncertain send is looked up only after this long. */
export const UNCERTAIN_SETTLE_MS = 60_000;
/** Emails sent longer ago than this are not looked up any more (providers keep activity for days, not forever). */
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
	attempts: number;
	priority: EmailPriority;
	/** When the current uncertain episode began (null for `sent` emails). */
	episodeStart: number | null;
	/** A lookup in this episode already found no trace of it. */
	notFoundInEpisode: number;
};

export async function reconcile(env: Env, now: number, deps?: ReconcileDeps): Promise<Record<string, number>> {
	const config = getConfig(env);
	const { providers, pacer } = deps ?? { providers: providerFactory(env), pacer: limiterPacer(env.RATE_LIMITER, config) };
	const db = getDb(env.DB);
	const after = config.reconcileAfterSeconds * 1000;
	const notAskedSince = (ms: number) => or(isNull(emails.reconciledAt), lt(emails.reconciledAt, now - ms));
	const episodeStart = sql<number>`COALESCE(${emails.uncertainSince}, ${emails.updatedAt})`;
	const fields = {
		id: emails.id,
		tenantId: emails.tenantId,
		status: emails.status,
		provider: emails.provider,
		providerMessageId: emails.providerMessageId,
		recipients: emails.recipients,
		sentAt: emails.sentAt,
		attempts: emails.attempts,
		priority: emails.priority,
	};
	// `sent` emails are only worth a candidate slot where the provider can be asked (SMTP, Cloudflare Email Sending
	// cannot): otherwise they would fill RECONCILE_LIMIT every run and starve the ones it can settle.
	const askable = PROVIDERS.flatMap((m) => (providers(m.name)?.lookup ? [m.name] : []));
	const [uncertain, sent, rested] = await db.batch([
		db
			.select({
				...fields,
				episodeStart: sql<number>`COALESCE(${emails.uncertainSince}, ${emails.updatedAt})`.as("episode_start"),
				// Qualified by hand: in select fields drizzle writes bare column names, which the subquery would capture.
				notFoundInEpisode:
					sql<number>`EXISTS (SELECT 1 FROM email_events AS nf WHERE nf.email_id = "emails"."id" AND nf.type = ${NOT_FOUND_EVENT} AND nf.at >= COALESCE("emails"."uncertain_since", "emails"."updated_at"))`.as(
						"not_found_in_episode",
					),
			})
			.from(emails)
			.where(inFlight(eq(emails.status, "uncertain"), lt(episodeStart, now - UNCERTAIN_SETTLE_MS), notAskedSince(UNCERTAIN_SETTLE_MS)))
			.orderBy(asc(episodeStart))
			.limit(RECONCILE_UNCERTAIN_LIMIT),
		db
			.select({
				...fields,
				episodeStart: sql<null>`NULL`.as("episode_start"),
				notFoundInEpisode: sql<number>`0`.as("not_found_in_episode"),
			})
			.from(emails)
			.where(
				// A sent email keeps the next_attempt_at it was due at until it is first asked about, then waits an
				// interval per ask.
				inFlight(
					lte(emails.nextAttemptAt, now),
					inArray(emails.status, ["sent", "delivery_delayed"]),
					inArray(emails.provider, askable),
					lt(emails.sentAt, now - after),
					gt(emails.sentAt, now - RECONCILE_MAX_AGE_MS),
					notAskedSince(after),
				),
			)
			.limit(RECONCILE_LIMIT),
		// `sent` with no final event that nobody will ask about any more (too old, or its provider cannot be asked):
		// a resting state. It leaves the open set; a late delivery event still applies.
		db
			.update(emails)
			.set({ endedAt: now })
			.where(
				inFlightSlice(
					db,
					RECONCILE_LIMIT,
					lte(emails.nextAttemptAt, now),
					inArray(emails.status, ["sent", "delivery_delayed"]),
					or(lte(emails.sentAt, now - RECONCILE_MAX_AGE_MS), and(lt(emails.sentAt, now - after), notInArray(emails.provider, askable))),
				),
			)
			.returning({ id: emails.id }),
	]);

	const counts = {
		rested: rested.length,
		candidates: uncertain.length + sent.length,
		uncertain: uncertain.length,
		looked_up: 0,
		updated: 0,
		requeued: 0,
		not_found: 0,
		unresolved: 0,
		errors: 0,
		skipped_no_lookup: 0,
		paced: 0,
	};
	const statements: Statement[] = [];
	const requeue: LaneMessage[] = [];
	const asked: string[] = [];

	// Uncertain emails past their time give up before any lookup.
	const giveUpBefore = now - config.unresolvedAfterSeconds * 1000;
	const open: Candidate[] = [];
	for (const row of uncertain) {
		if ((row.episodeStart ?? now) < giveUpBefore) {
			counts.unresolved += 1;
			statements.push(
				...giveUpUnresolved(
					db,
					{ emailId: row.id, tenantId: row.tenantId, provider: row.provider ?? "unknown", attempts: row.attempts },
					now,
					`unr_${newId()}`,
				),
			);
		} else open.push(row);
	}

	// Uncertain first: they are grouped ahead of `sent` ones, so the provider's permits go to them first.
	const byProvider = new Map<string, Candidate[]>();
	for (const c of [...open, ...sent]) byProvider.set(c.provider ?? "", [...(byProvider.get(c.provider ?? "") ?? []), c]);
	for (const [name, rows] of byProvider) {
		const provider = isProviderName(name) ? providers(name) : null;
		if (!provider?.lookup) {
			counts.skipped_no_lookup += rows.length;
			asked.push(...rows.map((r) => r.id));
			continue;
		}
		let granted: number;
		try {
			granted = (await pacer.providerPermits(provider.name, rows.length)).granted;
		} catch (e) {
			log.error("rate_limiter_unavailable", { scope: "reconcile", provider: provider.name, ...errorFields(e) });
			counts.paced += rows.length;
			continue;
		}
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
			const email = { emailId: row.id, tenantId: row.tenantId, provider: provider.name };
			if (!result.found) {
				counts.not_found += 1;
				if (row.status !== "uncertain") return;
				if (row.notFoundInEpisode) {
					counts.requeued += 1;
					requeue.push({ id: row.id, tenantId: row.tenantId, priority: row.priority });
					statements.push(...notSentAtProvider(db, email, now));
				} else {
					statements.push(notFoundAtProvider(db, email, now));
				}
				return;
			}
			counts.updated += 1;
			if (row.status === "uncertain") statements.push(...foundAtProvider(db, email, { providerMessageId: result.providerMessageId, now }));
			statements.push(...eventStatements(db, lookupEvents(row, provider.name, result), now));
		});
	}
	// Chunked: D1 binds at most 100 parameters. A `sent` email asked about waits an interval before it is looked at
	// again (its next_attempt_at moves past the recover cron's range too); an uncertain one keeps its place.
	const askedSent = new Set(sent.map((r) => r.id));
	for (const ids of chunk(
		asked.filter((id) => askedSent.has(id)),
		90,
	)) {
		statements.push(
			db
				.update(emails)
				.set({ reconciledAt: now, nextAttemptAt: now + after })
				.where(inArray(emails.id, ids)),
		);
	}
	for (const ids of chunk(
		asked.filter((id) => !askedSent.has(id)),
		90,
	)) {
		statements.push(db.update(emails).set({ reconciledAt: now }).where(inArray(emails.id, ids)));
	}
	const results = await runBatch(db, statements);
	await enqueueSends(env, requeue);
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

/**
 * What the provider knows, as provider events. Its `sent` is left out: the email's `sent` is the consumer's (or,
 * for an uncertain one, `foundAtProvider`'s), and a second one would announce `email.sent` twice.
 */
function lookupEvents(row: Candidate, provider: string, result: Extract<LookupResult, { found: true }>): ProviderEvent[] {
	return result.events
		.filter((e) => e.type !== "sent")
		.map((e) => ({
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
}
