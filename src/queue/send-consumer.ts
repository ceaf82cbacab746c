/**
 * The send consumer (DESIGN §1, §5): every accepted email is sent exactly once or ends visibly failed.
 *
 * Per consumed batch, two D1 round trips:
 * 1. claim — conditional UPDATEs move `queued` rows (and `scheduled` ones whose time has come) to `sending` with a
 *    lease and `attempts + 1`; a second UPDATE re-claims `sending` rows whose lease expired (a consumer died
 *    mid-send); the same batch reads suppressed recipients and the tenants' provider lists. Messages whose row
 *    could not be claimed (canceled, already sent, a duplicate delivery, scheduled later) are acked.
 * 2. outcomes — every result, its event, failovers, dead letters and sandbox events in one transaction. Each
 *    UPDATE is guarded by `status = 'sending'`, so a concurrent writer is never overwritten.
 * Only then is each message acked or retried with a computed delay. If recording fails, claimed messages are
 *    retried after their lease, and the re-claim path decides: resend where the provider deduplicates by our id,
 *    otherwise mark `uncertain` for the reconciler, never a blind second send.
 */
import { and, eq, inArray, lt, or, sql } from "drizzle-orm";
import { type Config, getConfig, QUEUE_MAX_DELAY_SECONDS } from "../config";
import { chunk, chunkedInserts, type Db, getDb, runBatch, type Statement } from "../db/client";
import { eventIfChanged, type GuardedEvent } from "../db/emails";
import { deadLetters, type EmailRow, emails, type Rate, suppressions, tenants } from "../db/schema";
import { mapWithConcurrency } from "../lib/concurrency";
import { newEmailId } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { isProviderName, PROVIDER_NAMES, type ProviderName } from "../providers/catalog";
import { chooseProvider, type ProviderFactory, providerFactory, providerOrder } from "../providers/registry";
import { SandboxProvider } from "../providers/sandbox";
import type { EmailProvider, ProviderError, SendOutcome } from "../providers/types";
import { SendQueueMessage } from "../schemas/queue";
import { eventStatements, type ProviderEvent } from "../services/events";
import { buildOutboundEmail } from "../services/outbound";
import { limiterPacer, type Pacer, providerPolicy } from "../services/pacing";
import { deliveryIdsOf, enqueueDeliveries, fanOutStatement, type WebhookQueueMessage } from "../services/webhook-fanout";
import { backoffSeconds } from "./backoff";

/** Workers allow six simultaneous outgoing connections per invocation. */
export const SEND_CONCURRENCY = 6;
/** A scheduled row is claimable this long before its time (queue delays are whole seconds). */
const SCHEDULE_SKEW_MS = 1000;
/** Ids per claim statement: D1 binds at most 100 parameters and each UPDATE binds a few besides the ids. */
const CLAIM_CHUNK = 90;

export type SendConsumerDeps = {
	db: Db;
	config: Config;
	attachments: R2Bucket;
	webhookQueue: Queue<WebhookQueueMessage>;
	sendQueue: Queue<SendQueueMessage>;
	providers: ProviderFactory;
	pacer: Pacer;
	now: () => number;
	random: () => number;
};

export function sendConsumerDeps(env: Env): SendConsumerDeps {
	return {
		db: getDb(env.DB),
		config: getConfig(env),
		attachments: env.ATTACHMENTS,
		webhookQueue: env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>,
		sendQueue: env.SEND_QUEUE as Queue<SendQueueMessage>,
		providers: providerFactory(env),
		pacer: limiterPacer(env.RATE_LIMITER, getConfig(env)),
		now: Date.now,
		random: Math.random,
	};
}

type Claimed = { row: EmailRow; reclaimed: boolean; message: Message<unknown> };

/** What to do with one claimed email, decided from its provider outcome. */
type Decision =
	| { kind: "sent"; provider: ProviderName; providerMessageId: string; events: ProviderEvent[] }
	| { kind: "failed"; reason: string; provider: ProviderName | null; error?: ProviderError; suppress?: string[]; deadLetter: boolean }
	| {
			kind: "retry";
			provider: ProviderName | null;
			nextProvider: ProviderName | null;
			error: ProviderError;
			delaySeconds: number;
			/** The email may have been sent at this provider: retry only there from now on (see `pinned_provider`). */
			pin?: ProviderName;
	  }
	| { kind: "uncertain"; provider: ProviderName; error: ProviderError }
	/** No permit (tenant or provider rate, open circuits): back to `queued` without spending an attempt. */
	| { kind: "deferred"; delaySeconds: number; reason: string };

/** How a claimed email will be handled: sent through an assigned provider, or already decided. */
type Plan = { kind: "send"; provider: EmailProvider; index: number; order: ProviderName[] } | { kind: "decided"; decision: Decision };

export async function consumeSendBatch(batch: MessageBatch<unknown>, deps: SendConsumerDeps): Promise<void> {
	const now = deps.now();
	const byId = new Map<string, Message<unknown>>();
	const malformed: Message<unknown>[] = [];
	for (const message of batch.messages) {
		const parsed = SendQueueMessage.safeParse(message.body);
		if (!parsed.success) malformed.push(message);
		else if (byId.has(parsed.data.id))
			message.ack(); // the same email twice in one batch: one is enough
		else byId.set(parsed.data.id, message);
	}

	const ids = [...byId.keys()];
	const claimedRows: { row: EmailRow; reclaimed: boolean }[] = [];
	const suppressed = new Map<string, string[]>();
	const tenantSettings = new Map<string, { providers: string[] | null; sendRate: Rate }>();
	if (ids.length > 0 || malformed.length > 0) {
		const statements: Statement[] = [];
		const lease = now + deps.config.sendLeaseSeconds * 1000;
		const kinds: ("claim" | "reclaim" | "suppressed" | "tenants" | "other")[] = [];
		for (const part of chunk(ids, CLAIM_CHUNK)) {
			statements.push(
				deps.db
					.update(emails)
					.set({ status: "sending", leaseUntil: lease, attempts: sql`${emails.attempts} + 1`, updatedAt: now })
					.where(
						and(
							inArray(emails.id, part),
							or(eq(emails.status, "queued"), and(eq(emails.status, "scheduled"), sql`${emails.scheduledAt} <= ${now + SCHEDULE_SKEW_MS}`)),
						),
					)
					.returning(),
			);
			kinds.push("claim");
			statements.push(
				deps.db
					.update(emails)
					.set({ leaseUntil: lease, attempts: sql`${emails.attempts} + 1`, updatedAt: now })
					.where(and(inArray(emails.id, part), eq(emails.status, "sending"), lt(emails.leaseUntil, now)))
					.returning(),
			);
			kinds.push("reclaim");
			statements.push(
				deps.db
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
			);
			kinds.push("suppressed");
		}
		const tenantIds = [...new Set([...byId.values()].map((m) => (m.body as SendQueueMessage).tenantId))];
		for (const part of chunk(tenantIds, 99)) {
			statements.push(
				deps.db
					.select({ id: tenants.id, providers: tenants.providers, sendRate: tenants.sendRate })
					.from(tenants)
					.where(inArray(tenants.id, part)),
			);
			kinds.push("tenants");
		}
		statements.push(...deadLetterStatements(deps.db, malformed, now));
		while (kinds.length < statements.length) kinds.push("other");

		// Round trip 1. If it fails nothing was claimed or sent: throwing retries the whole batch.
		const results = await runBatch(deps.db, statements);
		results.forEach((result, i) => {
			switch (kinds[i]) {
				case "claim":
				case "reclaim":
					for (const row of result as EmailRow[]) claimedRows.push({ row, reclaimed: kinds[i] === "reclaim" });
					break;
				case "suppressed":
					for (const { emailId, email } of result as { emailId: string; email: string }[]) {
						suppressed.set(emailId, [...(suppressed.get(emailId) ?? []), email]);
					}
					break;
				case "tenants":
					for (const t of result as { id: string; providers: string[] | null; sendRate: Rate }[]) tenantSettings.set(t.id, t);
					break;
			}
		});
		for (const message of malformed) {
			log.error("send_message_malformed", { messageId: message.id });
			message.ack();
		}
	}

	const claimed: Claimed[] = [];
	const claimedIds = new Set<string>();
	for (const { row, reclaimed } of claimedRows) {
		const message = byId.get(row.id);
		if (!message) continue;
		claimed.push({ row, reclaimed, message });
		claimedIds.add(row.id);
	}
	let unclaimed = 0;
	for (const [id, message] of byId) {
		if (!claimedIds.has(id)) {
			unclaimed += 1;
			message.ack();
		}
	}
	if (claimed.length === 0) {
		if (unclaimed > 0) log.info("send_batch_nothing_claimed", { unclaimed });
		return;
	}

	const plans = await planSends(claimed, deps, suppressed, tenantSettings);
	const decisions = await mapWithConcurrency(claimed, SEND_CONCURRENCY, (c, i) => {
		const plan = plans[i] as Plan;
		return plan.kind === "send" ? decide(c, deps, plan) : Promise.resolve(plan.decision);
	});
	await reportToProviders(decisions, deps);

	// Round trip 2: all outcomes in one transaction.
	const done = deps.now();
	const statements = claimed.flatMap((c, i) => outcomeStatements(deps.db, c.row, decisions[i] as Decision, done));
	let results: unknown[];
	try {
		results = await runBatch(deps.db, statements);
	} catch (e) {
		// The sends happened but are not recorded. Offer the messages again once their lease has expired: the
		// re-claim path resends only where the provider deduplicates by our id, and marks the rest uncertain.
		log.error("send_outcomes_not_recorded", { ids: claimed.map((c) => c.row.id), ...errorFields(e) });
		for (const c of claimed) c.message.retry({ delaySeconds: deps.config.sendLeaseSeconds + 1 });
		return;
	}
	await enqueueDeliveries(deps.webhookQueue, deliveryIdsOf(results));
	const deferred = claimed.flatMap((c, i) => {
		const decision = decisions[i] as Decision;
		return decision.kind === "deferred" ? [{ c, delaySeconds: decision.delaySeconds }] : [];
	});
	const requeued = await requeue(deps.sendQueue, deferred);
	claimed.forEach((c, i) => {
		const decision = decisions[i] as Decision;
		if (decision.kind === "retry") c.message.retry({ delaySeconds: decision.delaySeconds });
		else if (decision.kind === "deferred" && !requeued) c.message.retry({ delaySeconds: decision.delaySeconds });
		else c.message.ack();
	});
	log.info("send_batch_done", {
		claimed: claimed.length,
		unclaimed,
		sent: decisions.filter((d) => d.kind === "sent").length,
		retried: decisions.filter((d) => d.kind === "retry").length,
		failed: decisions.filter((d) => d.kind === "failed").length,
		uncertain: decisions.filter((d) => d.kind === "uncertain").length,
		deferred: deferred.length,
	});
}

/** Sends through the assigned provider and turns the outcome into a decision. Never throws for expected failures. */
async function decide(c: Claimed, deps: SendConsumerDeps, plan: Extract<Plan, { kind: "send" }>): Promise<Decision> {
	const { row } = c;
	const { provider, index, order } = plan;
	const outbound = await buildOutboundEmail(row, { bucket: deps.attachments, maxBytes: deps.config.maxAttachmentBytes });
	if (!outbound.ok) return fromError(row, provider, index, order, outbound.error, deps);

	let outcome: SendOutcome;
	try {
		outcome = await provider.send(outbound.value, { attempt: row.attempts });
	} catch (e) {
		// An adapter bug, not an expected failure: handled like a transient one so the email is not lost.
		log.error("provider_threw", { provider: provider.name, emailId: row.id, ...errorFields(e) });
		outcome = { ok: false, error: { kind: "transient", message: `provider adapter error: ${e instanceof Error ? e.message : String(e)}` } };
	}
	if (!outcome.ok && c.reclaimed) {
		// A re-claimed email may have been sent by the attempt whose lease expired: whatever this attempt says, the
		// email stays with this provider (its idempotency key makes that safe), never failing over.
		const decision = fromError(row, provider, index, [provider.name], outcome.error, deps);
		return decision.kind === "retry" ? { ...decision, nextProvider: provider.name, pin: provider.name } : decision;
	}
	if (outcome.ok) {
		const events =
			provider instanceof SandboxProvider ? provider.simulatedEvents(outbound.value, outcome.value.providerMessageId, deps.now()) : [];
		return { kind: "sent", provider: provider.name, providerMessageId: outcome.value.providerMessageId, events };
	}
	return fromError(row, provider, index, order, outcome.error, deps);
}

/**
 * Everything decided before any provider call: suppressed recipients, re-claimed sends that must not be repeated,
 * then pacing. Permits are asked once per tenant and once per provider for the whole batch; rows without one are
 * deferred, spread over the seconds the limiting rate needs. A provider whose circuit is open passes its rows to
 * the next provider in their order without a call. When a provider grants fewer permits than asked, they are
 * handed out round-robin across tenants, so one tenant's flood cannot take another tenant's turn.
 */
async function planSends(
	claimed: Claimed[],
	deps: SendConsumerDeps,
	suppressed: Map<string, string[]>,
	tenantSettings: Map<string, { providers: string[] | null; sendRate: Rate }>,
): Promise<Plan[]> {
	const plans: (Plan | undefined)[] = new Array(claimed.length);
	// A pinned email (it may already have been sent there) has one provider only: no failover, ever.
	const orders = claimed.map((c) =>
		c.row.pinnedProvider && isProviderName(c.row.pinnedProvider)
			? [c.row.pinnedProvider]
			: providerOrder(deps.config, { providers: tenantSettings.get(c.row.tenantId)?.providers ?? null }),
	);
	const open: number[] = [];
	claimed.forEach((c, i) => {
		const recipients = suppressed.get(c.row.id) ?? [];
		if (recipients.length > 0) {
			plans[i] = decided({ kind: "failed", reason: `suppressed recipient: ${recipients.join(", ")}`, provider: null, deadLetter: false });
			return;
		}
		// A lease that expired mid-send: the provider may have accepted the email. This deterministic choice is the
		// provider that was in flight; only one that deduplicates by our id may be asked again, the reconciler
		// looks up the others.
		const inFlight = c.reclaimed ? chooseProvider(orders[i] as ProviderName[], c.row.provider, deps.providers) : null;
		if (inFlight && !inFlight.provider.supportsIdempotency) {
			plans[i] = decided({
				kind: "uncertain",
				provider: inFlight.provider.name,
				error: { kind: "uncertain", message: "lease expired during the provider call" },
			});
			return;
		}
		open.push(i);
	});

	// Tenant send rates: one grant per tenant in the batch.
	const paced: number[] = [];
	await Promise.all(
		[...groupBy(open, (i) => (claimed[i] as Claimed).row.tenantId)].map(async ([tenantId, rows]) => {
			const rate = tenantSettings.get(tenantId)?.sendRate ?? { per_second: 10, burst: 10 };
			const { granted } = await deps.pacer.tenantPermits(tenantId, rate, rows.length);
			paced.push(...rows.slice(0, granted));
			rows.slice(granted).forEach((i, k) => {
				plans[i] = deferred(k, rate.per_second, "tenant send rate");
			});
		}),
	);

	// Provider rates and circuits, in rounds, so the rows of an open circuit move on to their next provider.
	const skipped = new Map<number, Set<string>>();
	let waiting = paced.sort((a, b) => a - b);
	for (let round = 0; waiting.length > 0 && round <= PROVIDER_NAMES.length; round++) {
		const byProvider = new Map<ProviderName, number[]>();
		for (const i of waiting) {
			const chosen = chooseProvider(orders[i] as ProviderName[], (claimed[i] as Claimed).row.provider, deps.providers, skipped.get(i));
			if (!chosen) {
				plans[i] = noProvider(claimed[i] as Claimed, orders[i] as ProviderName[], skipped.get(i), deps);
				continue;
			}
			byProvider.set(chosen.provider.name, [...(byProvider.get(chosen.provider.name) ?? []), i]);
		}
		const next: number[] = [];
		await Promise.all(
			[...byProvider].map(async ([name, rows]) => {
				const grant = await deps.pacer.providerPermits(name, rows.length);
				if (grant.circuit === "open") {
					for (const i of rows) {
						skipped.set(i, new Set([...(skipped.get(i) ?? []), name]));
						next.push(i);
					}
					return;
				}
				const rate = providerPolicy(deps.config, name).rate.per_second;
				roundRobinByTenant(rows, (i) => (claimed[i] as Claimed).row.tenantId).forEach((i, k) => {
					const chosen = chooseProvider(orders[i] as ProviderName[], (claimed[i] as Claimed).row.provider, deps.providers, skipped.get(i));
					plans[i] =
						k < grant.granted && chosen
							? { kind: "send", ...chosen, order: orders[i] as ProviderName[] }
							: deferred(k - grant.granted, rate, `${name} send rate`, grant.retryAfterMs);
				});
			}),
		);
		waiting = next;
	}
	return plans.map((p) => p ?? decided({ kind: "deferred", delaySeconds: 1, reason: "not planned" }));
}

function decided(decision: Decision): Plan {
	return { kind: "decided", decision };
}

/** The k-th row over a limit waits until the bucket has had time to refill for it (at least a second). */
function deferred(k: number, perSecond: number, reason: string, retryAfterMs = 0): Plan {
	const delaySeconds = Math.min(QUEUE_MAX_DELAY_SECONDS, Math.max(1, Math.ceil(retryAfterMs / 1000), Math.ceil((k + 1) / perSecond)));
	return decided({ kind: "deferred", delaySeconds, reason });
}

/** Every provider's circuit is open (wait, no attempt spent) or none is configured (an attempt that failed). */
function noProvider(c: Claimed, order: ProviderName[], skipped: Set<string> | undefined, deps: SendConsumerDeps): Plan {
	if (skipped && skipped.size > 0) return deferred(0, 1, "all provider circuits open", deps.config.circuitCoolDownMs);
	const error: ProviderError = { kind: "transient", message: `no configured provider among ${order.join(", ") || "(none)"}` };
	return decided(retryOrFail(c.row, null, null, error, deps, order));
}

/** Rows reordered so tenants take turns: a, b, c, a, b, a, … */
function roundRobinByTenant(rows: number[], tenantOf: (i: number) => string): number[] {
	const queues = [...groupBy(rows, tenantOf).values()];
	const out: number[] = [];
	for (let k = 0; out.length < rows.length; k++) for (const q of queues) if (k < q.length) out.push(q[k] as number);
	return out;
}

function groupBy<K>(items: number[], keyOf: (i: number) => K): Map<K, number[]> {
	const groups = new Map<K, number[]>();
	for (const i of items) groups.set(keyOf(i), [...(groups.get(keyOf(i)) ?? []), i]);
	return groups;
}

/** One report per provider that was called: successes close its circuit, failures and no-answers count, 429s slow it. */
async function reportToProviders(decisions: Decision[], deps: SendConsumerDeps): Promise<void> {
	const reports = new Map<ProviderName, { successes: number; failures: number; rateLimited: number }>();
	const of = (name: ProviderName) => {
		const r = reports.get(name) ?? { successes: 0, failures: 0, rateLimited: 0 };
		reports.set(name, r);
		return r;
	};
	for (const d of decisions) {
		if (d.kind === "sent") of(d.provider).successes += 1;
		else if (d.kind === "uncertain") of(d.provider).failures += 1;
		else if (d.kind === "retry" && d.provider) {
			// A timeout or lost connection (uncertain) counts too: the provider is not answering.
			if (d.error.kind === "rate_limited") of(d.provider).rateLimited += 1;
			else of(d.provider).failures += 1;
		} else if (d.kind === "failed" && d.provider && d.error?.kind === "permanent" && d.error.scope === "provider")
			of(d.provider).failures += 1;
	}
	await Promise.all(
		[...reports].map(([name, report]) =>
			deps.pacer.report(name, report).catch((e) => log.warn("provider_report_failed", { provider: name, ...errorFields(e) })),
		),
	);
}

/** Deferred emails go back on the queue as new messages, so waiting never uses up the queue's retry count. */
async function requeue(queue: Queue<SendQueueMessage>, items: { c: Claimed; delaySeconds: number }[]): Promise<boolean> {
	if (items.length === 0) return true;
	try {
		for (const part of chunk(items, 100)) {
			await queue.sendBatch(
				part.map(({ c, delaySeconds }) => ({ body: { v: 1 as const, id: c.row.id, tenantId: c.row.tenantId }, delaySeconds })),
			);
		}
		return true;
	} catch (e) {
		log.warn("requeue_failed", { count: items.length, ...errorFields(e) });
		return false;
	}
}

function fromError(
	row: EmailRow,
	provider: EmailProvider,
	index: number,
	order: ProviderName[],
	error: ProviderError,
	deps: SendConsumerDeps,
): Decision {
	switch (error.kind) {
		case "permanent":
			if (error.scope === "message") {
				return {
					kind: "failed",
					reason: error.message,
					provider: provider.name,
					error,
					deadLetter: false,
					...(error.suppress ? { suppress: error.suppress } : {}),
				};
			}
			return retryOrFail(row, provider.name, nextProvider(order, index, deps.providers), error, deps, order);
		case "uncertain": {
			if (!provider.supportsIdempotency) return { kind: "uncertain", provider: provider.name, error };
			// The provider deduplicates by our id: asking the same provider again cannot send twice, while a second
			// provider could. So it is pinned there.
			const decision = retryOrFail(row, provider.name, provider.name, error, deps, order);
			return decision.kind === "retry" ? { ...decision, pin: provider.name } : decision;
		}
		case "transient":
		case "rate_limited":
			return retryOrFail(row, provider.name, nextProvider(order, index, deps.providers), error, deps, order);
	}
}

/**
 * Another attempt, unless attempts are exhausted. Moving on to a later provider in the list happens at once;
 * staying with the same one or wrapping around to the first waits the backoff.
 */
function retryOrFail(
	row: EmailRow,
	provider: ProviderName | null,
	next: ProviderName | null,
	error: ProviderError,
	deps: SendConsumerDeps,
	order: ProviderName[],
): Decision {
	if (row.attempts >= deps.config.maxAttempts) {
		return { kind: "failed", reason: `gave up after ${row.attempts} attempts: ${error.message}`, provider, error, deadLetter: true };
	}
	const movesForward = provider !== null && next !== null && next !== provider && order.indexOf(next) > order.indexOf(provider);
	const retryAfter = "retryAfterSeconds" in error ? error.retryAfterSeconds : undefined;
	const delaySeconds = movesForward
		? 0
		: backoffSeconds(
				row.attempts,
				{ baseSeconds: deps.config.retryBaseSeconds, maxSeconds: deps.config.retryMaxSeconds, random: deps.random },
				retryAfter,
			);
	return { kind: "retry", provider, nextProvider: next, error, delaySeconds };
}

/** The next configured provider after `index`, wrapping around; the same one when it is the only one. */
function nextProvider(order: ProviderName[], index: number, factory: ProviderFactory): ProviderName | null {
	for (let step = 1; step <= order.length; step++) {
		const name = order[(index + step) % order.length] as ProviderName;
		if (factory(name)) return name;
	}
	return null;
}

function errorDetail(error: ProviderError | undefined): Record<string, unknown> {
	if (!error) return {};
	return {
		error: error.message,
		error_kind: error.kind,
		...("status" in error && error.status !== undefined ? { status: error.status } : {}),
		...("code" in error && error.code !== undefined ? { code: error.code } : {}),
	};
}

function outcomeStatements(db: Db, row: EmailRow, decision: Decision, now: number): Statement[] {
	const inFlight = and(eq(emails.id, row.id), eq(emails.status, "sending"));
	const base = { emailId: row.id, tenantId: row.tenantId, at: now };
	switch (decision.kind) {
		case "sent":
			return [
				db
					.update(emails)
					.set({
						status: "sent",
						lastEvent: "sent",
						provider: decision.provider,
						providerMessageId: decision.providerMessageId,
						sentAt: now,
						leaseUntil: null,
						lastError: null,
						updatedAt: now,
					})
					.where(inFlight),
				...announced(db, {
					...base,
					type: "sent",
					provider: decision.provider,
					detail: { provider_message_id: decision.providerMessageId, attempt: row.attempts },
				}),
				...eventStatements(db, decision.events),
			];
		case "retry":
			return [
				db
					.update(emails)
					.set({
						status: "queued",
						provider: decision.nextProvider,
						...(decision.pin ? { pinnedProvider: decision.pin } : {}),
						leaseUntil: null,
						lastError: decision.error.message,
						nextAttemptAt: now + decision.delaySeconds * 1000,
						updatedAt: now,
					})
					.where(inFlight),
				eventIfChanged(db, {
					...base,
					type: "attempt_failed",
					provider: decision.provider,
					detail: {
						attempt: row.attempts,
						retry_in_seconds: decision.delaySeconds,
						...(decision.nextProvider && decision.nextProvider !== decision.provider ? { failover_to: decision.nextProvider } : {}),
						...errorDetail(decision.error),
					},
				}),
			];
		case "deferred":
			// Not an attempt: the claim's increment is taken back.
			return [
				db
					.update(emails)
					.set({
						status: "queued",
						attempts: sql`${emails.attempts} - 1`,
						leaseUntil: null,
						nextAttemptAt: now + decision.delaySeconds * 1000,
						updatedAt: now,
					})
					.where(inFlight),
			];
		case "uncertain":
			return [
				db
					.update(emails)
					.set({ status: "uncertain", provider: decision.provider, leaseUntil: null, lastError: decision.error.message, updatedAt: now })
					.where(inFlight),
				eventIfChanged(db, {
					...base,
					type: "uncertain",
					provider: decision.provider,
					detail: { attempt: row.attempts, ...errorDetail(decision.error) },
				}),
			];
		case "failed": {
			const statements: Statement[] = [
				db
					.update(emails)
					.set({
						status: "failed",
						lastEvent: "failed",
						provider: decision.provider,
						leaseUntil: null,
						lastError: decision.reason,
						updatedAt: now,
					})
					.where(inFlight),
				...announced(db, {
					...base,
					type: "failed",
					provider: decision.provider,
					detail: { reason: decision.reason, attempt: row.attempts, ...errorDetail(decision.error) },
				}),
			];
			if (decision.deadLetter) {
				statements.push(
					db.insert(deadLetters).values({
						id: newEmailId(now),
						tenantId: row.tenantId,
						emailId: row.id,
						reason: "max_attempts",
						provider: decision.provider,
						attempts: row.attempts,
						lastError: decision.reason,
						payload: null,
						createdAt: now,
					}),
				);
			}
			const suppress = (decision.suppress ?? []).map((email) => ({
				tenantId: row.tenantId,
				email: email.toLowerCase(),
				reason: "inactive_recipient",
				source: `${decision.provider ?? "provider"}:rejected:${row.id}`,
				createdAt: now,
			}));
			// 5 columns per row: 20 rows stay under D1's 100 bound parameters.
			for (const part of chunk(suppress, 20)) statements.push(db.insert(suppressions).values(part).onConflictDoNothing());
			return statements;
		}
	}
}

/** The event of a status change the statement before it made, and its webhook deliveries. */
function announced(db: Db, event: GuardedEvent): Statement[] {
	const fanOut = fanOutStatement(db, event);
	return fanOut ? [eventIfChanged(db, event), fanOut] : [eventIfChanged(db, event)];
}

/** Dead-letter rows for queue bodies that are not a send message of any version we know. */
function deadLetterStatements(db: Db, messages: Message<unknown>[], now: number): Statement[] {
	return chunkedInserts(
		db,
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
