/** Tenant webhook endpoints for tests, and running the webhook consumer on queued deliveries. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { consumeWebhookBatch, type WebhookConsumerDeps, webhookConsumerDeps } from "../../src/queue/webhook-consumer";
import { call, type Seeded } from "./api";

export async function createWebhook(
	t: Seeded,
	events: string[],
	endpoint = "https://hooks.example.org/mailroom",
): Promise<{ id: string; secret: string }> {
	const res = await call<{ id: string; signing_secret: string }>("POST", "/webhooks", { key: t.key, body: { endpoint, events } });
	if (res.status !== 201) throw new Error(`create webhook failed: ${res.status} ${JSON.stringify(res.body)}`);
	return { id: res.body.id, secret: res.body.signing_secret };
}

export async function deliveriesOf(webhookId: string): Promise<{ id: string; event_type: string; status: string; attempts: number }[]> {
	const { results } = await env.DB.prepare(
		"SELECT id, event_type, status, attempts FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at, id",
	)
		.bind(webhookId)
		.all<{ id: string; event_type: string; status: string; attempts: number }>();
	return results;
}

/** Keeps the live webhook consumer from delivering; returns the spy whose calls hold the enqueued delivery ids. */
export function holdWebhookQueue() {
	return vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
}

let seq = 0;

export async function consumeDeliveries(ids: string[], deps: Partial<WebhookConsumerDeps> = {}) {
	const batch = createMessageBatch(
		"mailroom-webhooks",
		ids.map((id) => ({ id: `w${++seq}`, timestamp: new Date(), attempts: 1, body: { v: 1, id } })),
	);
	const retries = batch.messages.map((m) => vi.spyOn(m, "retry"));
	const ctx = createExecutionContext();
	await consumeWebhookBatch(batch, { ...webhookConsumerDeps(env), ...deps });
	const result = await getQueueResult(batch, ctx);
	return {
		acked: result.explicitAcks.length,
		delays: retries.flatMap((r) => r.mock.calls.map((c) => (c[0] as { delaySeconds: number }).delaySeconds)),
	};
}

/** A tenant endpoint answering `responses` in turn (last one repeats), recording what it received. */
export function fakeEndpoint(...responses: (Response | "hang")[]) {
	const received: { url: string; headers: Headers; body: string }[] = [];
	let i = 0;
	const fetcher: typeof fetch = async (input, init) => {
		received.push({ url: String(input), headers: new Headers(init?.headers), body: String(init?.body) });
		const next = responses[Math.min(i++, responses.length - 1)];
		if (next === "hang") {
			return new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
		}
		return (next as Response).clone();
	};
	return { fetch: fetcher, received };
}
