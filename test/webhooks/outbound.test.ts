import { env } from "cloudflare:workers";
import { Resend } from "resend";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_SCHEDULE_SECONDS } from "../../src/queue/webhook-consumer";
import { call, seedTenant } from "../helpers/api";
import { consume, depsWith, seedEmail } from "../helpers/send";
import { consumeDeliveries, createWebhook, deliveriesOf, fakeEndpoint, holdWebhookQueue } from "../helpers/webhooks";

afterEach(() => vi.restoreAllMocks());

describe("/webhooks endpoints", () => {
	it("shows the whsec_ signing secret once and never in listings", async () => {
		const t = await seedTenant();
		const created = await createWebhook(t, ["email.delivered"]);
		expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
		const list = await call<{ data: Record<string, unknown>[] }>("GET", "/webhooks", { key: t.key });
		expect(list.body.data).toEqual([
			{
				object: "webhook",
				id: created.id,
				endpoint: "https://hooks.example.org/mailroom",
				events: ["email.delivered"],
				status: "enabled",
				created_at: expect.any(String),
			},
		]);
		expect(JSON.stringify(list.body)).not.toContain(created.secret);
		expect((await call("GET", `/webhooks/${created.id}`, { key: t.key })).body).not.toHaveProperty("signing_secret");
	});

	it.each([
		[{ endpoint: "ftp://hooks.example.org", events: ["email.sent"] }],
		[{ endpoint: "https://10.0.0.5/hook", events: ["email.sent"] }],
		[{ endpoint: "https://192.168.1.2/hook", events: ["email.sent"] }],
		[{ endpoint: "https://user:pw@hooks.example.org", events: ["email.sent"] }],
		[{ endpoint: "not a url", events: ["email.sent"] }],
		[{ endpoint: "https://hooks.example.org", events: [] }],
		[{ endpoint: "https://hooks.example.org", events: ["email.exploded"] }],
	])("refuses %j with 422 and creates nothing", async (body) => {
		const t = await seedTenant();
		const res = await call<{ name: string }>("POST", "/webhooks", { key: t.key, body });
		expect(res.status).toBe(422);
		expect((await call<{ data: unknown[] }>("GET", "/webhooks", { key: t.key })).body.data).toEqual([]);
	});

	it("deletes an endpoint, cancels its pending deliveries, and answers 404 for another tenant's", async () => {
		const t = await seedTenant();
		const other = await seedTenant();
		const hook = await createWebhook(t, ["email.delivered"]);
		expect((await call("DELETE", `/webhooks/${hook.id}`, { key: other.key })).status).toBe(404);
		holdWebhookQueue();
		const id = await seedEmail(t);
		await consume(t, [id], depsWith());
		const res = await call("DELETE", `/webhooks/${hook.id}`, { key: t.key });
		expect(res.body).toEqual({ object: "webhook", id: hook.id, deleted: true });
		expect((await deliveriesOf(hook.id)).map((d) => d.status)).toEqual(["canceled"]);
		expect((await call("GET", `/webhooks/${hook.id}`, { key: t.key })).status).toBe(404);
	});
});

describe("fan-out of email events", () => {
	it("creates one delivery per subscribed event and enqueues it with the outcome", async () => {
		const t = await seedTenant();
		const all = await createWebhook(t, ["email.sent", "email.delivered"]);
		const onlyBounces = await createWebhook(t, ["email.bounced"]);
		const queued = holdWebhookQueue();
		const id = await seedEmail(t, { to: "delivered@example.org" });
		await consume(t, [id], depsWith());
		expect((await deliveriesOf(all.id)).map((d) => d.event_type)).toEqual(["email.sent", "email.delivered"]);
		expect(await deliveriesOf(onlyBounces.id)).toEqual([]);
		const enqueued = queued.mock.calls.flatMap((c) => (c[0] as { body: { id: string } }[]).map((m) => m.body.id));
		expect(enqueued.sort()).toEqual((await deliveriesOf(all.id)).map((d) => d.id).sort());
	});

	it("announces scheduling and cancellation", async () => {
		const t = await seedTenant();
		const hook = await createWebhook(t, ["email.scheduled", "email.canceled"]);
		holdWebhookQueue();
		const id = await seedEmail(t, { scheduled_at: "in 1 day" });
		await call("POST", `/emails/${id}/cancel`, { key: t.key });
		expect((await deliveriesOf(hook.id)).map((d) => d.event_type)).toEqual(["email.scheduled", "email.canceled"]);
	});

	it("tells a tenant only about its own emails", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		const hook = await createWebhook(b, ["email.sent"]);
		holdWebhookQueue();
		const id = await seedEmail(a);
		await consume(a, [id], depsWith());
		expect(await deliveriesOf(hook.id)).toEqual([]);
	});
});

describe("webhook delivery", () => {
	async function pendingDelivery(events = ["email.delivered"]) {
		const t = await seedTenant();
		const hook = await createWebhook(t, events);
		holdWebhookQueue();
		const emailId = await seedEmail(t, { to: "delivered@example.org", subject: "Welcome", tags: [{ name: "kind", value: "welcome" }] });
		await consume(t, [emailId], depsWith());
		const [delivery] = await deliveriesOf(hook.id);
		if (!delivery) throw new Error("no delivery");
		vi.restoreAllMocks();
		return { t, hook, emailId, delivery };
	}

	it("posts Resend's envelope, verifiable with standardwebhooks, svix and resend.webhooks.verify()", async () => {
		const { t, hook, emailId, delivery } = await pendingDelivery();
		const endpoint = fakeEndpoint(new Response("ok", { status: 200 }));
		const result = await consumeDeliveries([delivery.id], { fetch: endpoint.fetch });
		expect(result.acked).toBe(1);
		const [request] = endpoint.received;
		if (!request) throw new Error("nothing delivered");
		expect(request.url).toBe("https://hooks.example.org/mailroom");
		const h = Object.fromEntries(request.headers.entries());
		expect(h["webhook-id"]).toBe(delivery.id);
		expect(h["svix-id"]).toBe(delivery.id);
		expect(h["svix-signature"]).toBe(h["webhook-signature"]);

		const payload = new StandardWebhook(hook.secret).verify(request.body, h) as Record<string, unknown>;
		expect(payload).toEqual({
			type: "email.delivered",
			created_at: expect.any(String),
			data: {
				email_id: emailId,
				created_at: expect.any(String),
				from: `Acme <hello@${t.domain}>`,
				to: ["delivered@example.org"],
				subject: "Welcome",
				tags: { kind: "welcome" },
			},
		});
		// svix 2.5's verify returns nothing; it throws when the signature does not match.
		expect(() => new SvixWebhook(hook.secret).verify(request.body, h)).not.toThrow();
		expect(() => new SvixWebhook(hook.secret).verify(`${request.body} `, h)).toThrow();
		const viaResend = new Resend("re_unused").webhooks.verify({
			payload: request.body,
			headers: { id: h["svix-id"] ?? "", timestamp: h["svix-timestamp"] ?? "", signature: h["svix-signature"] ?? "" },
			webhookSecret: hook.secret,
		});
		expect(viaResend).toEqual(payload);
		expect(() => new StandardWebhook(hook.secret).verify(request.body.replace("Welcome", "Welc0me"), h)).toThrow();
		expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: "delivered", attempts: 1 });
	});

	it("retries a failing endpoint on the schedule, records each attempt, then gives up", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		const endpoint = fakeEndpoint(new Response("nope", { status: 500 }));
		const delays: number[] = [];
		for (let i = 0; i < WEBHOOK_MAX_ATTEMPTS; i++)
			delays.push(...(await consumeDeliveries([delivery.id], { fetch: endpoint.fetch })).delays);
		expect(delays).toEqual([...WEBHOOK_RETRY_SCHEDULE_SECONDS]);
		expect(endpoint.received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
		expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: "failed", attempts: WEBHOOK_MAX_ATTEMPTS });
		const log = await call<{
			data: { status: string; last_status_code: number; attempt_log: { attempt: number; status_code: number }[] }[];
		}>("GET", `/webhooks/${hook.id}/deliveries`, { key: t.key });
		expect(log.body.data[0]).toMatchObject({ status: "failed", last_status_code: 500 });
		expect(log.body.data[0]?.attempt_log.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		const again = await consumeDeliveries([delivery.id], { fetch: endpoint.fetch });
		expect(again.acked).toBe(1);
		expect(endpoint.received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
	});

	it("retries a timeout and a redirect, and honours Retry-After", async () => {
		const { hook, delivery } = await pendingDelivery();
		const timeout = await consumeDeliveries([delivery.id], { fetch: fakeEndpoint("hang").fetch, timeoutMs: 30 });
		expect(timeout.delays).toEqual([5]);
		const redirect = await consumeDeliveries([delivery.id], {
			fetch: fakeEndpoint(new Response(null, { status: 301, headers: { location: "https://x" } })).fetch,
		});
		expect(redirect.delays).toEqual([300]);
		const throttled = await consumeDeliveries([delivery.id], {
			fetch: fakeEndpoint(new Response(null, { status: 429, headers: { "retry-after": "7200" } })).fetch,
		});
		expect(throttled.delays).toEqual([7200]);
		expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: "pending", attempts: 3 });
	});

	it("disables an endpoint that answers 410 Gone", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		await consumeDeliveries([delivery.id], { fetch: fakeEndpoint(new Response(null, { status: 410 })).fetch });
		expect((await deliveriesOf(hook.id))[0]?.status).toBe("failed");
		expect((await call<{ status: string }>("GET", `/webhooks/${hook.id}`, { key: t.key })).body.status).toBe("disabled");
	});

	it("delivers a duplicate queue message once", async () => {
		const { delivery } = await pendingDelivery();
		const endpoint = fakeEndpoint(new Response("ok", { status: 200 }));
		await consumeDeliveries([delivery.id, delivery.id], { fetch: endpoint.fetch });
		await consumeDeliveries([delivery.id], { fetch: endpoint.fetch });
		expect(endpoint.received).toHaveLength(1);
	});

	it("retries the messages when the outcome cannot be recorded", async () => {
		const { delivery } = await pendingDelivery();
		// The consumer's only batch is the one recording outcomes.
		vi.spyOn(env.DB, "batch").mockRejectedValue(new Error("D1 down"));
		const result = await consumeDeliveries([delivery.id], { fetch: fakeEndpoint(new Response("ok", { status: 200 })).fetch });
		expect(result.delays).toEqual([30]);
	});
});
