/**
 * `POST /provider-webhooks/:provider`: delivery events from providers (docs/architecture.md, "Provider events").
 *
 * The raw body is verified exactly as the provider documents (src/providers/<name>/webhook.ts), then recorded by
 * src/services/provider-inbound.ts (matched by our id or the provider's, deduplicated, forward-only, suppressing,
 * fanned out). Events for emails we cannot find are stored for inspection and still answered 200, so the provider
 * does not retry forever.
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
import { getDb } from "../db/client";
import { ApiError } from "../errors";
import { errorFields, log } from "../lib/log";
import { PROVIDERS, settingsOf, webhookOf } from "../providers/registry";
import type { InboundError } from "../providers/types";
import { recordInboundDelivery } from "../services/provider-inbound";
import { enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
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

		const recorded = await recordInboundDelivery(getDb(c.env.DB), provider, events, Date.now(), {
			replay,
			beforeWrite: confirmUrl ? () => confirmSubscription(provider, confirmUrl) : undefined,
		});
		if (recorded.repeated) return repeated();
		await enqueueDeliveries(c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, recorded.deliveryIds);
		return c.json({ received: events.length, matched: recorded.matched, unmatched: recorded.unmatched, ignored }, 200);
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
