/**
 * Provider events, however they arrive (a webhook request, a queue message), to the one event path
 * (src/lifecycle/provider-events.ts): each event is matched to an email by our id (the metadata every provider
 * module sends and its events echo) — or, for Cloudflare Email Sending, whose events carry only its message id, by
 * that id through the partial index `emails_cloudflare_message` — given a dedupe key that is the same every time the
 * provider delivers it, and recorded —
 * deduplicated, forward-only, suppressing, fanned out to tenant webhooks. Events for emails we cannot find are kept
 * in `unmatched_provider_events` for inspection. Two D1 round trips: one read, one write batch.
 *
 * Replays: with a `replay` key (Mailgun's signature token, an SNS MessageId) the read also asks whether the key was
 * claimed before — a repeat returns `{ repeated: true }` before anything is written — and the claim itself
 * (INSERT … ON CONFLICT DO NOTHING RETURNING) is the first statement of the write batch, so it is kept only if the
 * events are: a failed write leaves the key free for the provider's retry. Two copies racing past the read both run
 * the batch; the events' dedupe keys make the loser's writes no-ops and its empty RETURNING reports the repeat.
 */
import { and, eq, inArray, isNotNull } from "drizzle-orm";
import { chunk, type Db, runBatch, type Statement } from "../db/client";
import { emails, unmatchedProviderEvents, webhookNonces } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { isUuid } from "../lib/ids";
import { eventStatements, type ProviderEvent } from "../lifecycle/provider-events";
import type { InboundEvent, ReplayKey } from "../providers/types";
import { deliveryIdsOf } from "./webhook-fanout";

/**
 * Providers whose events name the message only by the provider's id; `emails_cloudflare_message` indexes exactly
 * these (test/cost/query-plans.test.ts checks the two agree).
 */
export const MATCHED_BY_PROVIDER_ID: ReadonlySet<string> = new Set(["cloudflare"]);

export type RecordedInbound = { repeated: false; matched: number; unmatched: number; deliveryIds: string[] };

export type InboundOptions = {
	replay?: ReplayKey | undefined;
	/** Runs after the replay check and before anything is written (a subscription confirmation); may throw. */
	beforeWrite?: (() => Promise<void>) | undefined;
};

/** Events with no replay key (a queue message, which the queue itself retries): never a repeat. */
export async function recordInboundEvents(
	db: Db,
	provider: string,
	events: readonly InboundEvent[],
	now: number,
): Promise<RecordedInbound> {
	const recorded = await recordInboundDelivery(db, provider, events, now);
	if (recorded.repeated) throw new Error("unreachable: no replay key, no repeat");
	return recorded;
}

/** One delivery of events (a webhook request), refused as a repeat when its replay key was claimed before. */
export async function recordInboundDelivery(
	db: Db,
	provider: string,
	events: readonly InboundEvent[],
	now: number,
	options: InboundOptions = {},
): Promise<RecordedInbound | { repeated: true }> {
	const { replay, beforeWrite } = options;
	if (events.length === 0 && !replay && !beforeWrite) return { repeated: false, matched: 0, unmatched: 0, deliveryIds: [] };
	const ours = [...new Set(events.flatMap((e) => (e.emailId && isUuid(e.emailId) ? [e.emailId] : [])))];
	// Only where the provider's events cannot carry our id: any other lookup by message id would scan the table.
	const theirs = MATCHED_BY_PROVIDER_ID.has(provider)
		? [...new Set(events.flatMap((e) => (e.providerMessageId && !e.emailId ? [e.providerMessageId] : [])))]
		: [];
	const found = new Map<string, { id: string; tenantId: string }>();
	const reads = [
		...chunk(ours, 99).map((ids) => inArray(emails.id, ids)),
		// The partial index's own predicate, so the planner can use it.
		...chunk(theirs, 90).map((ids) =>
			and(eq(emails.provider, provider), isNotNull(emails.providerMessageId), inArray(emails.providerMessageId, ids)),
		),
	].map((condition) =>
		db.select({ id: emails.id, tenantId: emails.tenantId, providerMessageId: emails.providerMessageId }).from(emails).where(condition),
	);
	const seen = replay ? [seenStatement(db, provider, replay)] : [];
	const read = await runBatch(db, [...seen, ...reads]);
	if (replay && (read[0] as unknown[]).length > 0) return { repeated: true };
	for (const rows of read.slice(seen.length) as { id: string; tenantId: string; providerMessageId: string | null }[][]) {
		for (const row of rows) {
			found.set(row.id, row);
			if (row.providerMessageId) found.set(`pm:${row.providerMessageId}`, row);
		}
	}

	const matched: ProviderEvent[] = [];
	const statements: Statement[] = [];
	for (const event of events) {
		const email =
			(event.emailId ? found.get(event.emailId) : undefined) ??
			(event.providerMessageId ? found.get(`pm:${event.providerMessageId}`) : undefined);
		const dedupeKey = await dedupeKeyOf(provider, event);
		if (email) {
			matched.push({
				emailId: email.id,
				tenantId: email.tenantId,
				type: event.type,
				at: event.at,
				provider,
				...(event.bounce ? { bounce: event.bounce } : {}),
				...(event.recipient ? { recipient: event.recipient } : {}),
				...(event.providerMessageId ? { providerMessageId: event.providerMessageId } : {}),
				detail: event.detail,
				dedupeKey,
			});
		} else {
			statements.push(
				db
					.insert(unmatchedProviderEvents)
					.values({
						provider,
						dedupeKey,
						eventType: event.type,
						emailId: event.emailId ?? null,
						providerMessageId: event.providerMessageId ?? null,
						event: { ...event },
						receivedAt: now,
					})
					.onConflictDoNothing(),
			);
		}
	}
	await beforeWrite?.();
	const claim = replay ? [claimStatement(db, provider, replay)] : [];
	const results = await runBatch(db, [...claim, ...eventStatements(db, matched, now), ...statements]);
	if (replay && (results[0] as unknown[]).length === 0) return { repeated: true };
	return {
		repeated: false,
		matched: matched.length,
		unmatched: events.length - matched.length,
		deliveryIds: deliveryIdsOf(results.slice(claim.length)),
	};
}

/** Whether this delivery's replay key was claimed before (expired rows not yet purged count too: still a repeat). */
function seenStatement(db: Db, provider: string, replay: ReplayKey): Statement {
	return db
		.select({ nonce: webhookNonces.nonce })
		.from(webhookNonces)
		.where(and(eq(webhookNonces.provider, provider), eq(webhookNonces.nonce, replay.nonce)));
}

/** Claims the replay key; RETURNING is empty when another delivery claimed it first. */
function claimStatement(db: Db, provider: string, replay: ReplayKey): Statement {
	return db
		.insert(webhookNonces)
		.values({ provider, nonce: replay.nonce, expiresAt: replay.expiresAt })
		.onConflictDoNothing()
		.returning({ nonce: webhookNonces.nonce });
}

/**
 * A key that is the same every time the provider delivers this event: its own event id where it has a stable one,
 * else a hash of what identifies the event (provider, message, type, recipient, time).
 */
async function dedupeKeyOf(provider: string, event: InboundEvent): Promise<string> {
	if (event.providerEventId) return `${provider}:${event.providerEventId}`;
	const identity = [
		provider,
		event.emailId ?? "",
		event.providerMessageId ?? "",
		event.type,
		event.bounce ?? "",
		event.recipient ?? "",
		event.at,
	].join("|");
	return `${provider}:h:${await sha256Hex(identity)}`;
}
