/**
 * `POST /provider-webhooks/:provider`: delivery events from providers (docs/architecture.md, "Provider events").
 *
 * The raw body is verified exactly as the provider documents (src/webhooks/inbound/*), then each event is matched
 * to an email by our id (metadata we sent) or the provider's message id, and recorded through the same event
 * service as everything else: deduplicated, forward-only, suppressing, fanned out to tenant webhooks. Events for
 * emails we cannot find are stored for inspection and still answered 200, so the provider does not retry forever.
 * Bad signature or credentials → 401, unreadable body → 400, unknown provider → 404; nothing is written for any.
 *
 * Replays: an adapter that can name what makes one delivery unique (`ParsedWebhook.replay`: Mailgun's signature token,
 * an SNS MessageId) has it claimed in `webhook_nonces`. The first round trip reads whether it was seen (with the email
 * lookups); a repeat is refused with 401 or answered 200 and ignored, as the adapter says, before anything is written.
 * The claim itself (INSERT … ON CONFLICT DO NOTHING RETURNING) is the first statement of the batch that records the
 * events, so it is kept only if they are: a failed write leaves the key free for the provider's retry. Two copies
 * racing past the read both run that batch; the events' dedupe keys make the loser's writes no-ops, and its empty
 * RETURNING gives it the repeat's answer. A subscription confirmation (`confirmUrl`) is fetched after the read.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, inArray } from "drizzle-orm";
import { chunk, type Db, getDb, runBatch, type Statement } from "../db/client";
import { emails, unmatchedProviderEvents, webhookNonces } from "../db/schema";
import { ApiError } from "../errors";
import { sha256Hex } from "../lib/crypto";
import { isUuid } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { eventStatements, type ProviderEvent } from "../lifecycle/provider-events";
import { PROVIDERS, settingsOf, webhookOf } from "../providers/registry";
import type { InboundError, InboundEvent, ReplayKey } from "../providers/types";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { createRouter, jsonResponse } from "./router";

export const providerWebhookRoutes = createRouter();

const Received = z
	.object({
		received: z.number().int(),
		matched: z.number().int(),
		unmatched: z.number().int(),
		ignored: z.number().int(),
		repeated: z.boolean().optional().openapi({ description: "A delivery seen before, ignored (SNS retries)" }),
	})
	.openapi("ProviderWebhookReceived");

/** How long a subscription confirmation may take before the provider is asked to retry. */
const CONFIRM_TIMEOUT_MS = 10_000;

providerWebhookRoutes.openapi(
	createRoute({
		method: "post",
		path: "/provider-webhooks/{provider}",
		summary: `Receive a provider's delivery events (${PROVIDERS.filter((p) => "webhook" in p)
			.map((p) => p.name)
			.join(", ")}); authenticated as each provider documents`,
		tags: ["Provider webhooks"],
		security: [],
		request: { params: z.object({ provider: z.string().openapi({ param: { name: "provider", in: "path" } }) }) },
		responses: { 200: jsonResponse(Received, "Recorded (events for unknown emails are kept for inspection)") },
	}),
	async (c) => {
		const provider = c.req.valid("param").provider;
		const adapter = webhookOf(provider);
		if (!adapter) throw new ApiError("not_found", `Unknown provider ${JSON.stringify(provider)}`);
		const request = { rawBody: await c.req.text(), headers: c.req.raw.headers, now: Date.now() };
		const verified = await adapter.verify(request, settingsOf(c.env));
		if (!verified.ok) throw inboundError(verified.error);
		const parsed = adapter.parse(request);
		if (!parsed.ok) throw inboundError(parsed.error);
		const { events, ignored, replay, confirmUrl } = parsed.value;
		const repeated = () => {
			if (replay?.repeat === "refuse") throw new ApiError("invalid_api_key", "This webhook delivery was seen before (replayed)", 401);
			return c.json({ received: events.length, matched: 0, unmatched: 0, ignored: events.length + ignored, repeated: true }, 200);
		};

		const db = getDb(c.env.DB);
		const ours = [...new Set(events.flatMap((e) => (e.emailId && isUuid(e.emailId) ? [e.emailId] : [])))];
		const theirs = [...new Set(events.flatMap((e) => (e.providerMessageId ? [e.providerMessageId] : [])))];
		const found = new Map<string, { id: string; tenantId: string }>();
		const reads = [
			...chunk(ours, 99).map((ids) => inArray(emails.id, ids)),
			...chunk(theirs, 99).map((ids) => inArray(emails.providerMessageId, ids)),
		].map((condition) =>
			db.select({ id: emails.id, tenantId: emails.tenantId, providerMessageId: emails.providerMessageId }).from(emails).where(condition),
		);
		const seen = replay ? [seenStatement(db, provider, replay)] : [];
		const read = await runBatch(db, [...seen, ...reads]);
		if (replay && (read[0] as unknown[]).length > 0) return repeated();
		for (const rows of read.slice(seen.length) as { id: string; tenantId: string; providerMessageId: string | null }[][]) {
			for (const row of rows) {
				found.set(row.id, row);
				if (row.providerMessageId) found.set(`pm:${row.providerMessageId}`, row);
			}
		}
		if (confirmUrl) await confirmSubscription(provider, confirmUrl);

		const now = Date.now();
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
		const claim = replay ? [claimStatement(db, provider, replay)] : [];
		const results = await runBatch(db, [...claim, ...eventStatements(db, matched, now), ...statements]);
		if (replay && (results[0] as unknown[]).length === 0) return repeated();
		await enqueueDeliveries(c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, deliveryIdsOf(results.slice(claim.length)));
		return c.json({ received: events.length, matched: matched.length, unmatched: events.length - matched.length, ignored }, 200);
	},
);

function inboundError(error: InboundError): ApiError {
	switch (error.status) {
		case 401:
			return new ApiError("invalid_api_key", error.message, 401);
		case 503:
			return new ApiError("internal_server_error", error.message, 503);
		default:
			return new ApiError("validation_error", error.message, error.status);
	}
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
 * GETs the URL that confirms the provider's subscription (the adapter checked its host). Nothing is recorded when it
 * fails: the answer is 502, and the subscription can be confirmed again from the provider's console.
 */
async function confirmSubscription(provider: string, url: string): Promise<void> {
	let status: number;
	try {
		const response = await fetch(url, { method: "GET", signal: AbortSignal.timeout(CONFIRM_TIMEOUT_MS) });
		status = response.status;
		await response.body?.cancel();
	} catch (e) {
		log.error("provider_webhook_confirm_failed", { provider, ...errorFields(e) });
		throw new ApiError("internal_server_error", "Could not confirm the subscription: no answer", 502);
	}
	if (status < 200 || status >= 300) {
		log.error("provider_webhook_confirm_failed", { provider, status });
		throw new ApiError("internal_server_error", `Could not confirm the subscription: HTTP ${status}`, 502);
	}
	log.info("provider_webhook_confirmed", { provider });
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
