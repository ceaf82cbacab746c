/**
 * `POST /provider-webhooks/:provider`: delivery events from providers (docs/architecture.md, "Provider events").
 *
 * The raw body is verified exactly as the provider documents (src/webhooks/inbound/*), then each event is matched
 * to an email by our id (metadata we sent) or the provider's message id, and recorded through the same event
 * service as everything else: deduplicated, forward-only, suppressing, fanned out to tenant webhooks. Events for
 * emails we cannot find are stored for inspection and still answered 200, so the provider does not retry forever.
 * Bad signature or credentials → 401, unreadable body → 400, unknown provider → 404; nothing is written for any.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { inArray } from "drizzle-orm";
import { chunk, getDb, runBatch, type Statement } from "../db/client";
import { emails, unmatchedProviderEvents } from "../db/schema";
import { ApiError } from "../errors";
import { sha256Hex } from "../lib/crypto";
import { isUuid } from "../lib/ids";
import { eventStatements, type ProviderEvent } from "../lifecycle/provider-events";
import { PROVIDERS, settingsOf, webhookOf } from "../providers/registry";
import type { InboundEvent } from "../providers/types";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
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
		for (const rows of (await runBatch(db, reads)) as { id: string; tenantId: string; providerMessageId: string | null }[][]) {
			for (const row of rows) {
				found.set(row.id, row);
				if (row.providerMessageId) found.set(`pm:${row.providerMessageId}`, row);
			}
		}

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
		const results = await runBatch(db, [...eventStatements(db, matched, now), ...statements]);
		await enqueueDeliveries(c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>, deliveryIdsOf(results));
		return c.json({ received: events.length, matched: matched.length, unmatched: events.length - matched.length, ignored }, 200);
	},
);

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
