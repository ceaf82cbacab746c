/**
 * Step 2, claim: the first D1 round trip. In one transaction:
 * - dead letters for malformed messages;
 * - `expireLease` for any of these emails whose attempt outlived its lease (a redelivered message after a crash or
 *   an unrecorded outcome): the one lifecycle rule decides, before the claim below may take the row again;
 * - `claim`: `queued` / due `scheduled` rows become `sending` under this batch's attempt token, each with the
 *   provider its attempt will call already written;
 * - the claimed emails' suppressed recipients and their tenants' provider lists and send rates.
 * Messages whose row could not be claimed (canceled, already sent, a duplicate delivery, scheduled later, another
 * consumer's live attempt) are acked. If this round trip fails nothing was claimed: the batch is retried.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { chunk, chunkedInserts, runBatch, type Statement } from "../../db/client";
import { deadLetters, type EmailRow, emails, type Rate, suppressions, tenants } from "../../db/schema";
import { newEmailId, newId } from "../../lib/ids";
import { log } from "../../lib/log";
import { attemptOf, claimForSending, expireLeases, IDS_PER_STATEMENT } from "../../lifecycle/attempts";
import { idempotentProviders, isProviderName, PROVIDER_NAMES, providerOrder } from "../../providers/registry";
import type { ParsedBatch } from "./parse";
import type { Attempt, SendConsumerDeps } from "./types";

/** A scheduled row is claimable this long before its time (queue delays are whole seconds). */
const SCHEDULE_SKEW_MS = 1000;
/** Used for a tenant whose row has vanished between accept and send (it cannot happen through the API). */
const FALLBACK_SEND_RATE: Rate = { per_second: 10, burst: 10 };

export async function claimAttempts(parsed: ParsedBatch, deps: SendConsumerDeps): Promise<Attempt[]> {
	const { db, config } = deps;
	const now = deps.now();
	const ids = [...parsed.byId.keys()];
	const attemptId = `att_${newId()}`;
	const available = PROVIDER_NAMES.filter((name) => deps.providers(name) !== null);
	const defaultProvider = config.providers.find((name) => isProviderName(name) && available.includes(name)) ?? null;
	const tenantIds = [...new Set([...parsed.byId.values()].map((m) => m.tenantId))];

	const kinds: ("expired" | "claimed" | "suppressed" | "tenants" | "other")[] = [];
	const statements: Statement[] = [];
	const add = (kind: (typeof kinds)[number], list: Statement[]) => {
		for (const s of list) {
			statements.push(s);
			kinds.push(kind);
		}
	};
	add("other", malformedLetters(deps, parsed.malformed, now));
	add(
		"expired",
		expireLeases(db, ids, {
			now,
			marker: `exp_${newId()}`,
			maxAttempts: config.maxAttempts,
			idempotent: idempotentProviders(deps.providers),
		}),
	);
	add(
		"claimed",
		claimForSending(db, ids, {
			now,
			attemptId,
			leaseUntil: now + config.sendLeaseSeconds * 1000,
			dueBy: now + SCHEDULE_SKEW_MS,
			available,
			defaultProvider,
		}),
	);
	add(
		"suppressed",
		chunk(ids, IDS_PER_STATEMENT).map((part) =>
			db
				.select({ emailId: emails.id, email: suppressions.email })
				.from(emails)
				.innerJoin(
					suppressions,
					and(
						eq(suppressions.tenantId, emails.tenantId),
						sql`${suppressions.email} IN (SELECT value FROM json_each(${emails.recipients}))`,
					),
				)
				.where(inArray(emails.id, part)),
		),
	);
	add(
		"tenants",
		chunk(tenantIds, 99).map((part) =>
			db
				.select({ id: tenants.id, providers: tenants.providers, sendRate: tenants.sendRate })
				.from(tenants)
				.where(inArray(tenants.id, part)),
		),
	);

	const results = await runBatch(db, statements);
	const claimed: EmailRow[] = [];
	const suppressed = new Map<string, string[]>();
	const settings = new Map<string, { providers: string[] | null; sendRate: Rate }>();
	let expired = 0;
	results.forEach((result, i) => {
		switch (kinds[i]) {
			case "expired":
				if (Array.isArray(result)) expired += result.length;
				break;
			case "claimed":
				claimed.push(...(result as EmailRow[]));
				break;
			case "suppressed":
				for (const { emailId, email } of result as { emailId: string; email: string }[]) {
					suppressed.set(emailId, [...(suppressed.get(emailId) ?? []), email]);
				}
				break;
			case "tenants":
				for (const t of result as { id: string; providers: string[] | null; sendRate: Rate }[]) settings.set(t.id, t);
				break;
		}
	});
	for (const message of parsed.malformed) {
		log.error("send_message_malformed", { messageId: message.id });
		message.ack();
	}
	if (expired > 0) log.warn("send_leases_expired", { count: expired });

	const attempts: Attempt[] = [];
	for (const row of claimed) {
		const entry = parsed.byId.get(row.id);
		if (!entry) continue;
		parsed.byId.delete(row.id);
		const tenant = settings.get(row.tenantId);
		attempts.push({
			message: entry.message,
			row,
			ref: attemptOf(row),
			order: providerOrder(config, { providers: tenant?.providers ?? null }),
			pinned: row.pinnedProvider !== null && isProviderName(row.pinnedProvider) ? row.pinnedProvider : null,
			suppressed: suppressed.get(row.id) ?? [],
			tenantRate: tenant?.sendRate ?? FALLBACK_SEND_RATE,
			provider: null,
			called: false,
			decision: null,
		});
	}
	// What is left could not be claimed: nothing to do for these messages.
	for (const { message } of parsed.byId.values()) message.ack();
	if (attempts.length === 0 && parsed.byId.size > 0) log.info("send_batch_nothing_claimed", { unclaimed: parsed.byId.size });
	return attempts;
}

/** Dead-letter rows for queue bodies that are not a send message of any version we know. */
function malformedLetters(deps: SendConsumerDeps, messages: readonly Message<unknown>[], now: number): Statement[] {
	return chunkedInserts(
		deps.db,
		deadLetters,
		messages.map((m) => ({
			id: newEmailId(now),
			tenantId: null,
			emailId: null,
			reason: "malformed_message",
			provider: null,
			attempts: m.attempts,
			lastError: null,
			payload: JSON.stringify(m.body ?? null).slice(0, 10_000),
			createdAt: now,
		})),
	);
}
