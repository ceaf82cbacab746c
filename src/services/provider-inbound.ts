/**
 * Provider events, however they arrive (a webhook request, a queue message), to the one event path
 * (src/lifecycle/provider-events.ts): each event is matched to an email by our id (metadata we sent) or the
 * provider's message id, given a dedupe key that is the same every time the provider delivers it, and recorded —
 * deduplicated, forward-only, suppressing, fanned out to tenant webhooks. Events for emails we cannot find are kept
 * in `unmatched_provider_events` for inspection. Two D1 round trips: one read, one write batch.
 */
import { inArray } from "drizzle-orm";
import { chunk, type Db, runBatch, type Statement } from "../db/client";
import { emails, unmatchedProviderEvents } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { isUuid } from "../lib/ids";
import { eventStatements, type ProviderEvent } from "../lifecycle/provider-events";
import type { InboundEvent } from "../providers/types";
import { deliveryIdsOf } from "./webhook-fanout";

export type RecordedInbound = { matched: number; unmatched: number; deliveryIds: string[] };

export async function recordInboundEvents(
	db: Db,
	provider: string,
	events: readonly InboundEvent[],
	now: number,
): Promise<RecordedInbound> {
	if (events.length === 0) return { matched: 0, unmatched: 0, deliveryIds: [] };
	const ours = [...new Set(events.flatMap((e) => (e.emailId && isUuid(e.emailId) ? [e.emailId] : [])))];
	const theirs = [...new Set(events.flatMap((e) => (e.providerMessageId ? [e.providerMessageId] : [])))];
	const found = new Map<string, { id: string; tenantId: string }>();
	const reads = [
		...chunk(ours, 99).map((ids) => inArray(emails.id, ids)),
		...chunk(theirs, 99).map((ids) => inArray(emails.providerMessageId, ids)),
	].map((condition) =>
		db.select({ id: emails.id, tenantId: emails.tenantId, providerMessageId: emails.providerMessageId }).from(emails).where(condition),
	);
	for (const rows of (await runBatch(db, reads)) as { id: string; tenantId: string; providerMessageId: string | null }[][]) {
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
	const results = await runBatch(db, [...eventStatements(db, matched, now), ...statements]);
	return { matched: matched.length, unmatched: events.length - matched.length, deliveryIds: deliveryIdsOf(results) };
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
