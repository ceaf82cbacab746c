import { env } from "cloudflare:workers";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PREVIOUS_SECRET_GRACE_MS } from "../../src/webhooks/outbound/sign";
import { call, seedTenant } from "../helpers/api";
import { consume, depsWith, seedEmail } from "../helpers/send";
import { consumeDeliveries, createWebhook, deliveriesOf, fakeEndpoint, holdWebhookQueue } from "../helpers/webhooks";

afterEach(() => {
	vi.restoreAllMocks();
	vi.useRealTimers();
});

type ErrorBody = { name: string; message: string };
type EventLog = { id: string; type: string; created_at: string; status: string; email_id: string; attempts: number };

/** A tenant, an endpoint subscribed to delivered events, and one pending delivery to it. */
async function pendingDelivery() {
	const t = await seedTenant();
	const hook = await createWebhook(t, ["email.delivered"]);
	holdWebhookQueue();
	const emailId = await seedEmail(t, { to: "delivered@example.org" });
	await consume(t, [emailId], depsWith());
	const [delivery] = await deliveriesOf(hook.id);
	if (!delivery) throw new Error("no delivery");
	vi.restoreAllMocks();
	return { t, hook, emailId, delivery };
}

describe("PATCH /webhooks/:id", () => {
	it("changes the endpoint and events, and disables and re-enables it", async () => {
		const t = await seedTenant();
		const hook = await createWebhook(t, ["email.sent"]);
		const res = await call("PATCH", `/webhooks/${hook.id}`, {
			key: t.key,
			body: { endpoint: "https://new.example.org/hook", events: ["email.bounced", "email.bounced", "email.complained"] },
		});
		expect(res.body).toEqual({ object: "webhook", id: hook.id });
		const read = async () => (await call<Record<string, unknown>>("GET", `/webhooks/${hook.id}`, { key: t.key })).body;
		expect(await read()).toMatchObject({
			endpoint: "https://new.example.org/hook",
			events: ["email.bounced", "email.complained"],
			status: "enabled",
		});
		await call("PATCH", `/webhooks/${hook.id}`, { key: t.key, body: { status: "disabled" } });
		expect(await read()).toMatchObject({ status: "disabled" });
		await call("PATCH", `/webhooks/${hook.id}`, { key: t.key, body: { status: "enabled" } });
		expect(await read()).toMatchObject({ status: "enabled" });
	});

	it("stops deliveries to a disabled endpoint: a pending one is canceled, not sent", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		await call("PATCH", `/webhooks/${hook.id}`, { key: t.key, body: { status: "disabled" } });
		const endpoint = fakeEndpoint(new Response("ok"));
		await consumeDeliveries([delivery.id], { fetch: endpoint.fetch });
		expect(endpoint.received).toEqual([]);
		expect((await deliveriesOf(hook.id)).map((d) => d.status)).toEqual(["canceled"]);
	});

	it.each([
		["an endpoint the URL policy refuses", { endpoint: "https://10.0.0.1/hook" }, "invalid_parameter"],
		["an unknown event", { events: ["email.exploded"] }, "validation_error"],
		["nothing to change", {}, "validation_error"],
		["an unknown status", { status: "paused" }, "validation_error"],
	])("refuses %s with 422 and changes nothing", async (_label, body, name) => {
		const t = await seedTenant();
		const hook = await createWebhook(t, ["email.sent"]);
		const res = await call<ErrorBody>("PATCH", `/webhooks/${hook.id}`, { key: t.key, body });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe(name);
		expect((await call("GET", `/webhooks/${hook.id}`, { key: t.key })).body).toMatchObject({
			endpoint: "https://hooks.example.org/mailroom",
			events: ["email.sent"],
			status: "enabled",
		});
	});

	it("answers 404 for another tenant's endpoint", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		const hook = await createWebhook(a, ["email.sent"]);
		expect((await call("PATCH", `/webhooks/${hook.id}`, { key: b.key, body: { status: "disabled" } })).status).toBe(404);
		expect((await call("GET", `/webhooks/${hook.id}`, { key: a.key })).body).toMatchObject({ status: "enabled" });
	});
});

describe("POST /webhooks/:id/signing-secret/rotate", () => {
	it("signs a delivery pending across the rotation with both secrets, each verifying alone", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		const rotated = await call<{ object: string; id: string; signing_secret: string }>(
			"POST",
			`/webhooks/${hook.id}/signing-secret/rotate`,
			{
				key: t.key,
			},
		);
		expect(rotated.status).toBe(200);
		expect(rotated.body).toEqual({ object: "webhook", id: hook.id, signing_secret: expect.stringMatching(/^whsec_/) });
		expect(rotated.body.signing_secret).not.toBe(hook.secret);

		const endpoint = fakeEndpoint(new Response("ok"));
		await consumeDeliveries([delivery.id], { fetch: endpoint.fetch });
		const [request] = endpoint.received;
		if (!request) throw new Error("nothing delivered");
		const headers = Object.fromEntries(request.headers.entries());
		expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
		for (const secret of [rotated.body.signing_secret, hook.secret]) {
			expect(() => new StandardWebhook(secret).verify(request.body, headers)).not.toThrow();
			expect(() => new SvixWebhook(secret).verify(request.body, headers)).not.toThrow();
		}
		expect((await deliveriesOf(hook.id)).map((d) => d.status)).toEqual(["delivered"]);
	});

	it("stops signing with the previous secret after 24 hours", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		const rotated = await call<{ signing_secret: string }>("POST", `/webhooks/${hook.id}/signing-secret/rotate`, { key: t.key });
		const later = Date.now() + PREVIOUS_SECRET_GRACE_MS + 1000;
		const endpoint = fakeEndpoint(new Response("ok"));
		await consumeDeliveries([delivery.id], { fetch: endpoint.fetch, now: () => later });
		const [request] = endpoint.received;
		if (!request) throw new Error("nothing delivered");
		const headers = Object.fromEntries(request.headers.entries());
		expect(headers["webhook-signature"]?.split(" ")).toHaveLength(1);
		const verify = (secret: string) =>
			new StandardWebhook(secret).verify(request.body, { ...headers, "webhook-timestamp": String(Math.floor(later / 1000)) });
		vi.useFakeTimers({ now: later, toFake: ["Date"] });
		expect(() => verify(rotated.body.signing_secret)).not.toThrow();
		expect(() => verify(hook.secret)).toThrow();
	});

	it("refuses a second rotation while the previous secret still verifies, keeping both secrets", async () => {
		const t = await seedTenant();
		const hook = await createWebhook(t, ["email.sent"]);
		const first = await call<{ signing_secret: string }>("POST", `/webhooks/${hook.id}/signing-secret/rotate`, { key: t.key });
		const second = await call<ErrorBody>("POST", `/webhooks/${hook.id}/signing-secret/rotate`, { key: t.key });
		expect(second.status).toBe(409);
		expect(second.body.name).toBe("invalid_state");
		expect(second.body.message).toContain("previous signing secret still verifies until");
		const row = await env.DB.prepare("SELECT signing_secret, previous_signing_secret FROM webhooks WHERE id = ?").bind(hook.id).first();
		expect(row).toEqual({ signing_secret: first.body.signing_secret, previous_signing_secret: hook.secret });
	});

	it("answers 404 for another tenant's endpoint and leaves its secret alone", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		const hook = await createWebhook(a, ["email.sent"]);
		expect((await call("POST", `/webhooks/${hook.id}/signing-secret/rotate`, { key: b.key })).status).toBe(404);
		const row = await env.DB.prepare("SELECT signing_secret FROM webhooks WHERE id = ?").bind(hook.id).first<string>("signing_secret");
		expect(row).toBe(hook.secret);
	});
});

describe("/webhooks/:id/events", () => {
	it("lists events with Resend's statuses: pending, attempting, success, failed", async () => {
		const { t, hook, emailId, delivery } = await pendingDelivery();
		const list = async () =>
			(await call<{ object: string; has_more: boolean; data: EventLog[] }>("GET", `/webhooks/${hook.id}/events`, { key: t.key })).body;
		expect((await list()).data).toEqual([
			{ id: delivery.id, type: "email.delivered", created_at: expect.any(String), status: "pending", email_id: emailId, attempts: 0 },
		]);
		await consumeDeliveries([delivery.id], { fetch: fakeEndpoint(new Response("no", { status: 500 })).fetch });
		expect((await list()).data[0]).toMatchObject({ status: "attempting", attempts: 1 });
		await consumeDeliveries([delivery.id], { fetch: fakeEndpoint(new Response("ok")).fetch });
		expect((await list()).data[0]).toMatchObject({ status: "success", attempts: 2 });
		await env.DB.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ?").bind(delivery.id).run();
		expect((await list()).data[0]?.status).toBe("failed");
	});

	it("pages newest first with after", async () => {
		const t = await seedTenant();
		const hook = await createWebhook(t, ["email.scheduled"]);
		holdWebhookQueue();
		for (let i = 0; i < 3; i++) await seedEmail(t, { scheduled_at: "in 1 day" });
		const first = await call<{ has_more: boolean; data: EventLog[] }>("GET", `/webhooks/${hook.id}/events?limit=2`, { key: t.key });
		expect(first.body.has_more).toBe(true);
		const next = await call<{ has_more: boolean; data: EventLog[] }>(
			"GET",
			`/webhooks/${hook.id}/events?limit=2&after=${first.body.data[1]?.id}`,
			{
				key: t.key,
			},
		);
		expect(next.body.has_more).toBe(false);
		const ids = [...first.body.data, ...next.body.data].map((e) => e.id);
		expect(new Set(ids).size).toBe(3);
	});

	it("shows one event with the payload it carries, and its attempts", async () => {
		const { t, hook, emailId, delivery } = await pendingDelivery();
		await consumeDeliveries([delivery.id], { fetch: fakeEndpoint(new Response("no", { status: 503 })).fetch });
		const event = await call<Record<string, unknown>>("GET", `/webhooks/${hook.id}/events/${delivery.id}`, { key: t.key });
		expect(event.body).toMatchObject({
			object: "webhook_event",
			id: delivery.id,
			type: "email.delivered",
			status: "attempting",
			next_attempt_at: expect.any(String),
			payload: { type: "email.delivered", data: { email_id: emailId, to: ["delivered@example.org"] } },
		});
		const attempts = await call<{ data: unknown[] }>("GET", `/webhooks/${hook.id}/events/${delivery.id}/attempts`, { key: t.key });
		expect(attempts.body.data).toEqual([
			{
				id: expect.any(String),
				http_status_code: 503,
				response: "endpoint answered 503",
				sent_at: expect.any(String),
				duration_ms: expect.any(Number),
			},
		]);
	});

	it("replays an event as a new delivery with a new webhook-id, sent to the endpoint", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		await consumeDeliveries([delivery.id], { fetch: fakeEndpoint(new Response("ok")).fetch });
		const queued = holdWebhookQueue();
		const replay = await call<{ object: string; id: string }>("POST", `/webhooks/${hook.id}/events/${delivery.id}/replay`, { key: t.key });
		expect(replay.status).toBe(200);
		expect(replay.body).toEqual({ object: "webhook_event", id: expect.stringMatching(/^msg_[0-9a-f]{24}$/) });
		expect(replay.body.id).not.toBe(delivery.id);
		expect(queued.mock.calls.flatMap((c) => (c[0] as { body: { id: string } }[]).map((m) => m.body.id))).toEqual([replay.body.id]);
		const endpoint = fakeEndpoint(new Response("ok"));
		await consumeDeliveries([replay.body.id], { fetch: endpoint.fetch });
		expect(endpoint.received[0]?.headers.get("webhook-id")).toBe(replay.body.id);
		expect(JSON.parse(endpoint.received[0]?.body ?? "{}")).toMatchObject({ type: "email.delivered" });
		expect((await deliveriesOf(hook.id)).map((d) => d.status)).toEqual(["delivered", "delivered"]);
	});

	it("refuses to replay to a disabled endpoint with 409, creating nothing", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		await call("PATCH", `/webhooks/${hook.id}`, { key: t.key, body: { status: "disabled" } });
		const res = await call<ErrorBody>("POST", `/webhooks/${hook.id}/events/${delivery.id}/replay`, { key: t.key });
		expect(res.status).toBe(409);
		expect(await deliveriesOf(hook.id)).toHaveLength(1);
	});

	it("answers 404 for another tenant's endpoint or an event of another endpoint", async () => {
		const { t, hook, delivery } = await pendingDelivery();
		const other = await seedTenant();
		for (const path of [`/webhooks/${hook.id}/events`, `/webhooks/${hook.id}/events/${delivery.id}`]) {
			expect((await call("GET", path, { key: other.key })).status, path).toBe(404);
		}
		expect((await call("POST", `/webhooks/${hook.id}/events/${delivery.id}/replay`, { key: other.key })).status).toBe(404);
		const second = await createWebhook(t, ["email.sent"]);
		const res = await call<ErrorBody>("GET", `/webhooks/${second.id}/events/${delivery.id}`, { key: t.key });
		expect(res.status).toBe(404);
		expect(res.body.message).toBe("Webhook event not found");
		expect(await deliveriesOf(hook.id)).toHaveLength(1);
	});
});
