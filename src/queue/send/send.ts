/**
 * Step 4, send: each planned attempt calls its provider, at most SEND_CONCURRENCY at a time. Per-email isolation:
 * whatever goes wrong with one email — an attachment that stalls, a MIME or adapter bug — becomes that email's own
 * decision and never rejects the rest of the batch.
 *
 * Lease discipline: a call starts only while the attempt's lease still covers its worst case (attachment downloads,
 * the provider's timeout, and LEASE_MARGIN_MS to record the outcome). An attempt that would outlive its lease gives
 * the row back without calling, so no call is ever in flight after its lease expired and the recover cron can never
 * act on a row whose send is still running.
 */
import { LEASE_MARGIN_MS } from "../../config";
import type { EmailRow } from "../../db/schema";
import { mapWithConcurrency } from "../../lib/concurrency";
import { errorFields, log } from "../../lib/log";
import { buildOutboundEmail } from "../../services/outbound";
import { decideOnError } from "./decide";
import type { Attempt, Decision, SendConsumerDeps } from "./types";

/** Workers allow six simultaneous outgoing connections per invocation. */
export const SEND_CONCURRENCY = 6;

/** Why an attempt gave its row back without calling: its lease no longer covers the call's worst case. */
export const LEASE_TOO_SHORT = "lease would not cover the call";

export async function sendAttempts(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	const ready = attempts.filter((a) => a.decision === null && a.provider !== null);
	await mapWithConcurrency(ready, SEND_CONCURRENCY, async (a) => {
		a.decision = await sendOne(a, deps);
	});
}

/** The longest one attempt can take from here to its recorded outcome. */
export function worstCaseMs(row: EmailRow, config: SendConsumerDeps["config"]): number {
	const downloads = (row.attachments ?? []).some((x) => x.path !== null) ? config.attachmentTimeoutMs : 0;
	return downloads + config.providerTimeoutMs + LEASE_MARGIN_MS;
}

async function sendOne(a: Attempt, deps: SendConsumerDeps): Promise<Decision> {
	const provider = a.provider;
	if (provider === null) return { kind: "deferred", delaySeconds: 1, reason: "no provider assigned" };
	if (deps.now() + worstCaseMs(a.row, deps.config) > (a.row.leaseUntil ?? 0)) {
		return { kind: "deferred", delaySeconds: 0, reason: LEASE_TOO_SHORT };
	}
	try {
		const outbound = await buildOutboundEmail(
			a.row,
			{
				bucket: deps.attachments,
				maxBytes: deps.config.maxAttachmentBytes,
				timeoutMs: deps.config.attachmentTimeoutMs,
				policy: { allowInsecure: deps.config.allowHttpWebhooks },
			},
			// Decided per attempt: a failover to a provider that tracks itself sends the html untouched.
			{ provider: provider.name, secret: deps.config.trackingSecret },
		);
		if (!outbound.ok) return decideOnError(a, provider.name, outbound.error, deps);
		if (deps.now() + deps.config.providerTimeoutMs + LEASE_MARGIN_MS > (a.row.leaseUntil ?? 0)) {
			return { kind: "deferred", delaySeconds: 0, reason: LEASE_TOO_SHORT };
		}
		a.called = true;
		const outcome = await provider.send(outbound.value, { attempt: a.row.attempts });
		if (!outcome.ok) return decideOnError(a, provider.name, outcome.error, deps);
		return {
			kind: "sent",
			provider: provider.name,
			providerMessageId: outcome.value.providerMessageId,
			followUps: outcome.value.followUps ?? [],
			ends: provider.lookup === undefined,
		};
	} catch (e) {
		// A bug, not an expected failure. Thrown before the call it is this email's transient failure; thrown by the
		// adapter, the request may have left, so it is an unknown outcome.
		const message = `${a.called ? "provider adapter" : "preparing the email"} threw: ${e instanceof Error ? e.message : String(e)}`;
		log.error(a.called ? "provider_threw" : "send_preparation_threw", { provider: provider.name, emailId: a.row.id, ...errorFields(e) });
		return decideOnError(a, provider.name, a.called ? { kind: "uncertain", message } : { kind: "transient", message }, deps);
	}
}
