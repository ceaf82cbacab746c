import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { QUEUE_MAX_DELAY_SECONDS } from "../../src/config";
import { RECOVER_GRACE_MS } from "../../src/cron/recover";
import { call, email, failNthBatch, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { consume, depsWith, emailRow, eventTypes, fakeProvider, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const MINUTE = "* * * * *";

/** Holds the send queue and returns the ids each cron run enqueued, with their delays. */
function captureEnqueues() {
	const spy = vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
	return () =>
		spy.mock.calls.flatMap((c) =>
			(c[0] as { body: { id: string }; delaySeconds?: number }[]).map((m) => ({ id: m.body.id, delay: m.delaySeconds ?? 0 })),
		);
}

describe("recover", () => {
	it("re-enqueues an accepted email whose queue send failed, and it is sent once", async () => {
		const t = await seedTenant();
		vi.spyOn(env.SEND_QUEUE, "send").mockRejectedValue(new Error("queue unavailable"));
		const accepted = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t) });
		expect(accepted.status).toBe(200);
		vi.restoreAllMocks();
		const enqueued = captureEnqueues();
		await runCron(MINUTE, Date.now());
		expect(enqueued()).toEqual([]);
		await runCron(MINUTE, Date.now() + RECOVER_GRACE_MS + 1000);
		expect(enqueued()).toEqual([{ id: accepted.body.id, delay: 0 }]);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		const resend = { PROVIDERS: "resend", RESEND_API_KEY: "re", RESEND_BASE_URL: "https://resend.test" };
		await consume(t, [accepted.body.id], depsWith(resend));
		await consume(t, [accepted.body.id], depsWith(resend));
		expect(provider.requests).toHaveLength(1);
		expect((await emailRow(accepted.body.id)).status).toBe("sent");
	});

	it("does not touch an email waiting for its retry backoff", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(503, { message: "down" }));
		await consume(
			t,
			[id],
			depsWith({ PROVIDERS: "resend", RESEND_API_KEY: "re", RESEND_BASE_URL: "https://resend.test", RETRY_BASE_SECONDS: "600" }),
		);
		vi.restoreAllMocks();
		const enqueued = captureEnqueues();
		await runCron(MINUTE, Date.now() + RECOVER_GRACE_MS + 60_000);
		expect(enqueued().map((e) => e.id)).not.toContain(id);
	});

	it("re-enqueues each lost email once when two runs overlap", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const enqueued = captureEnqueues();
		const later = Date.now() + RECOVER_GRACE_MS + 1000;
		await Promise.all([runCron(MINUTE, later), runCron(MINUTE, later)]);
		expect(enqueued().filter((e) => e.id === id)).toHaveLength(1);
	});

	async function crashMidSend(settings: Record<string, string>, accepted: Response) {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(accepted);
		const batch = failNthBatch(2, "crash while recording");
		await consume(t, [id], depsWith(settings));
		batch.mockRestore();
		return { t, id, provider };
	}

	it("returns an expired lease to the queue where the provider deduplicates: one accepted send", async () => {
		const resend = { PROVIDERS: "resend", RESEND_API_KEY: "re", RESEND_BASE_URL: "https://resend.test" };
		const { t, id, provider } = await crashMidSend(resend, json(200, { id: "re_1" }));
		expect((await emailRow(id)).status).toBe("sending");
		// The cron chooses with the Worker's own settings: the tenant's list names Resend there too.
		await env.DB.prepare("UPDATE tenants SET providers = '[\"resend\"]' WHERE id = ?").bind(t.tenantId).run();
		const enqueued = captureEnqueues();
		await runCron(MINUTE, Date.now() + 121_000);
		expect(enqueued().map((e) => e.id)).toContain(id);
		expect(await emailRow(id)).toMatchObject({ status: "queued", pinned_provider: "resend" });
		await consume(t, [id], depsWith(resend));
		expect((await emailRow(id)).status).toBe("sent");
		const keys = provider.requests.map((r) => new Headers(r.init?.headers).get("idempotency-key"));
		expect(keys).toEqual([id, id]);
	});

	it("marks an expired lease uncertain where the provider cannot deduplicate, without calling it again", async () => {
		const sendgrid = { PROVIDERS: "sendgrid", SENDGRID_API_KEY: "sg", SENDGRID_BASE_URL: "https://sendgrid.test" };
		const { id, provider } = await crashMidSend(sendgrid, new Response(null, { status: 202, headers: { "x-message-id": "sg1" } }));
		// The cron runs with the Worker's own settings, so the tenant's provider list must name SendGrid there too.
		await env.DB.prepare("UPDATE tenants SET providers = '[\"sendgrid\"]' WHERE id = (SELECT tenant_id FROM emails WHERE id = ?)")
			.bind(id)
			.run();
		const enqueued = captureEnqueues();
		await runCron(MINUTE, Date.now() + 121_000);
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "sendgrid" });
		expect(await eventTypes(id)).toContain("uncertain");
		expect(enqueued().map((e) => e.id)).not.toContain(id);
		expect(provider.requests).toHaveLength(1);
	});

	it("re-enqueues a tenant webhook delivery whose message was lost", async () => {
		const t = await seedTenant();
		await call("POST", "/webhooks", { key: t.key, body: { endpoint: "https://hooks.example.org/x", events: ["email.sent"] } });
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockRejectedValue(new Error("queue unavailable"));
		const id = await seedEmail(t);
		await consume(t, [id], depsWith());
		vi.restoreAllMocks();
		const spy = vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		await runCron(MINUTE, Date.now() + RECOVER_GRACE_MS + 1000);
		expect(spy.mock.calls.flatMap((c) => c[0] as unknown[])).toHaveLength(1);
	});
});

describe("release", () => {
	it("releases a schedule 3 days out only once it is within the queue's delay limit, with the remaining delay", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { scheduled_at: "in 3 days" });
		expect((await emailRow(id)).next_attempt_at).toBeNull();
		const mine = captureEnqueues();
		const enqueued = () => mine().filter((e) => e.id === id);
		const at = Number((await emailRow(id)).scheduled_at);
		await runCron(MINUTE, at - 2 * 86_400_000);
		expect(enqueued()).toEqual([]);
		const releaseAt = at - QUEUE_MAX_DELAY_SECONDS * 1000 + 60_000;
		await runCron(MINUTE, releaseAt);
		expect(enqueued()).toEqual([{ id, delay: QUEUE_MAX_DELAY_SECONDS - 60 }]);
		expect(await emailRow(id)).toMatchObject({ status: "scheduled", next_attempt_at: at });
		await runCron(MINUTE, releaseAt + 60_000);
		expect(enqueued()).toHaveLength(1);
	});

	it("never releases a canceled schedule", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { scheduled_at: "in 3 days" });
		const enqueued = captureEnqueues();
		await call("POST", `/emails/${id}/cancel`, { key: t.key });
		await runCron(MINUTE, Date.now() + 3 * 86_400_000);
		expect(enqueued().map((e) => e.id)).not.toContain(id);
	});

	it("releases a schedule moved within the limit by the reschedule itself, and the cron leaves it", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { scheduled_at: "in 3 days" });
		const send = vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		const enqueued = captureEnqueues();
		await call("PATCH", `/emails/${id}`, { key: t.key, body: { scheduled_at: "in 2 hours" } });
		expect(send).toHaveBeenCalledWith({ v: 1, id, tenantId: t.tenantId }, { delaySeconds: expect.any(Number) });
		expect((await emailRow(id)).next_attempt_at).toBe((await emailRow(id)).scheduled_at);
		await runCron(MINUTE, Date.now());
		expect(enqueued().map((e) => e.id)).not.toContain(id);
	});
});
