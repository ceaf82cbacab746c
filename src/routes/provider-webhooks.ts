/**
 * `POST /provider-webhooks/:provider`: delivery events from providers (docs/architecture.md, "Provider events").
 *
 * The raw body is verified exactly as the provider documents (src/providers/<name>/webhook.ts), then recorded by
 * src/services/provider-inbound.ts (matched by our id or the provider's, deduplicated, forward-only, suppressing,
 * fanned out). Events for emails we cannot find are stored for inspection and still answered 200, so the provider
 * does not retry forever.
 * Bad signature or credentials → 401, unreadable body → 400, unknown provider → 404; nothing is written for any.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { ApiError } from "../errors";
import { PROVIDERS, settingsOf, webhookOf } from "../providers/registry";
import { recordInboundEvents } from "../services/provider-inbound";
import { enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import { createRouter, jsonResponse } from "./router";

export const providerWebhookRoutes = createRouter();

const Received = z
	.object({ received: z.number().int(), matched: z.number().int(), unmatched: z.number().int(), ignored: z.number().int() })
	.openapi("ProviderWebhookReceived");

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
		if (!verified.ok) throw new ApiError("invalid_api_key", verified.error.message, 401);
		const parsed = adapter.parse(request);
		if (!parsed.ok) throw new ApiError("validation_error", parsed.error.message, parsed.error.status);
		const { events, ignored } = parsed.value;

		const recorded = await recordInboundEvents(getDb(c.env.DB), provider, events, Date.now());
		await enqueueDeliveries(c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, recorded.deliveryIds);
		return c.json({ received: events.length, matched: recorded.matched, unmatched: recorded.unmatched, ignored }, 200);
	},
);
