/**
 * Step 6, record: the second D1 round trip. Every decision of the batch, with its events, webhook deliveries, dead
 * letters and suppressions, in one transaction of lifecycle statements, each guarded by its attempt token. Only
 * then is each message acked, retried with its delay, or (deferred, no attempt spent) replaced by a new message.
 *
 * If the transaction fails, the calls happened but are not recorded: every message is retried once its lease has
 * expired, and the claim step's `expireLease` decides — asked again where the provider deduplicates by our id,
 * `uncertain` elsewhere, never a blind second send.
 */
import { chunk, type Db, runBatch, type Statement } from "../../db/client";
import { errorFields, log } from "../../lib/log";
import { failAttempt, giveBack, markSent, markUncertain, retryLater } from "../../lifecycle/attempts";
import { eventStatements } from "../../lifecycle/provider-events";
import type { ProviderName } from "../../providers/registry";
import type { ProviderError } from "../../providers/types";
import { deliveryIdsOf, enqueueDeliveries } from "../../services/webhook-fanout";
import { LEASE_TOO_SHORT } from "./send";
import type { Attempt, Decision, SendConsumerDeps } from "./types";

export async function recordOutcomes(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	const now = deps.now();
	const statements = attempts.flatMap((a) => outcomeStatements(deps.db, a, now));
	await reportToProviders(attempts, deps);
	let results: unknown[];
	try {
		results = await runBatch(deps.db, statements);
	} catch (e) {
		log.error("send_outcomes_not_recorded", { ids: attempts.map((a) => a.row.id), ...errorFields(e) });
		for (const a of attempts) a.message.retry({ delaySeconds: deps.config.sendLeaseSeconds + 1 });
		return;
	}
	await enqueueDeliveries(deps.webhookQueue, deliveryIdsOf(results));
	const deferred = attempts.filter((a) => a.decision?.kind === "deferred");
	const requeued = await requeue(deps, deferred);
	for (const a of attempts) {
		const d = a.decision;
		if (d?.kind === "retry") a.message.retry({ delaySeconds: d.delaySeconds });
		else if (d?.kind === "deferred" && !requeued) a.message.retry({ delaySeconds: d.delaySeconds });
		else a.message.ack();
	}
	const count = (kind: Decision["kind"]) => attempts.filter((a) => a.decision?.kind === kind).length;
	log.info("send_batch_done", {
		claimed: attempts.length,
		sent: count("sent"),
		retried: count("retry"),
		failed: count("failed"),
		uncertain: count("uncertain"),
		deferred: count("deferred"),
		deferred_for_lease: attempts.filter((a) => a.decision?.kind === "deferred" && a.decision.reason === LEASE_TOO_SHORT).length,
		lost: count("lost"),
	});
}

function errorDetail(error: ProviderError | undefined): Record<string, unknown> & { error: string } {
	if (!error) return { error: "" };
	return {
		error: error.message,
		error_kind: error.kind,
		...("status" in error && error.status !== undefined ? { status: error.status } : {}),
		...("code" in error && error.code !== undefined ? { code: error.code } : {}),
	};
}

function outcomeStatements(db: Db, a: Attempt, now: number): Statement[] {
	const d = a.decision;
	switch (d?.kind) {
		case "sent":
			return [
				...markSent(
					db,
					{ emailId: a.ref.emailId, tenantId: a.ref.tenantId, attempt: a.ref.attempt },
					{
						provider: d.provider,
						providerMessageId: d.providerMessageId,
						now,
						ends: d.ends,
					},
				),
				// Dated after `sent`, and keyed so a repeated send (an idempotent retry) records them once.
				...eventStatements(
					db,
					d.followUps.map((f) => ({
						emailId: a.ref.emailId,
						tenantId: a.ref.tenantId,
						type: f.type,
						at: now + f.afterMs,
						provider: d.provider,
						...(f.bounce ? { bounce: f.bounce } : {}),
						...(f.recipient ? { recipient: f.recipient } : {}),
						detail: f.detail,
						dedupeKey: `${d.provider}:${d.providerMessageId}:${f.type}:${f.afterMs}`,
					})),
					now,
				),
			];
		case "retry":
			return retryLater(db, a.ref, {
				now,
				provider: d.provider,
				next: d.next,
				pin: d.pin,
				delaySeconds: d.delaySeconds,
				error: errorDetail(d.error),
			});
		case "deferred":
			return [giveBack(db, a.ref, { now, delaySeconds: d.delaySeconds, provider: d.provider })];
		case "uncertain":
			return markUncertain(db, a.ref, { now, provider: d.provider, error: errorDetail(d.error) });
		case "failed":
			return failAttempt(db, a.ref, {
				now,
				provider: d.provider,
				reason: d.reason,
				error: d.error ? errorDetail(d.error) : undefined,
				deadLetter: d.deadLetter,
				suppress: d.suppress,
			});
		default:
			return [];
	}
}

/** One report per provider that was called: successes close its circuit, failures and no-answers count, 429s slow it. */
async function reportToProviders(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	const reports = new Map<ProviderName, { successes: number; failures: number; rateLimited: number }>();
	for (const a of attempts) {
		const d = a.decision;
		const name = a.provider?.name;
		if (!a.called || !name || !d) continue;
		const r = reports.get(name) ?? { successes: 0, failures: 0, rateLimited: 0 };
		reports.set(name, r);
		if (d.kind === "sent") r.successes += 1;
		else if (d.kind === "retry" && d.error.kind === "rate_limited") r.rateLimited += 1;
		else if (d.kind === "retry" || d.kind === "uncertain") r.failures += 1;
		else if (d.kind === "failed" && d.error?.kind === "permanent" && d.error.scope === "provider") r.failures += 1;
	}
	await Promise.all(
		[...reports].map(([name, report]) =>
			deps.pacer.report(name, report).catch((e) => log.warn("provider_report_failed", { provider: name, ...errorFields(e) })),
		),
	);
}

/** Deferred emails go back on the queue as new messages, so waiting never uses up the queue's retry count. */
async function requeue(deps: SendConsumerDeps, attempts: Attempt[]): Promise<boolean> {
	if (attempts.length === 0) return true;
	try {
		for (const part of chunk(attempts, 100)) {
			await deps.sendQueue.sendBatch(
				part.map((a) => ({
					body: { v: 1 as const, id: a.row.id, tenantId: a.row.tenantId },
					delaySeconds: a.decision?.kind === "deferred" ? a.decision.delaySeconds : 0,
				})),
			);
		}
		return true;
	} catch (e) {
		log.warn("requeue_failed", { count: attempts.length, ...errorFields(e) });
		return false;
	}
}
