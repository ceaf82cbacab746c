import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { QUEUE_MAX_DELAY_SECONDS } from "../../src/config";
import { reconcile } from "../../src/cron/reconcile";
import { RECOVER_GRACE_MS } from "../../src/cron/recover";
import worker from "../../src/index";
import { providerFactory } from "../../src/providers/registry";
import { QUEUE_NAMES } from "../../src/queue/names";
import { unlimitedPacer } from "../../src/services/pacing";
import { call, email, failNthBatch, type Seeded, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { holdLanes } from "../helpers/lanes";
import { realPacer } from "../helpers/pacer";
import { consume, depsWith, emailRow, fakeProvider, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const MINUTE = "* * * * *";
const RESEND = { PROVIDERS: "resend", RESEND_API_KEY: "re", RESEND_BASE_URL: "https://resend.test" };
const BULK = QUEUE_NAMES.sendBulk;

/** The email ids the fake provider was asked to send, in call order. */
const calledIds = (provider: ReturnType<typeof fakeProvider>) =>
	provider.requests.map((r) => new Headers(r.init?.headers).get("idempotency-key"));

describe("the bulk lane's consumer", () => {
	it.each([BULK, `${BULK}-staging`])("takes %s batches into the same lifecycle as the transactional lane", async (queue) => {
		const t = await seedTenant();
		const id = await seedEmail(t, { priority: "bulk" });
		const batch = createMessageBatch(queue, [{ id: "m1", timestamp: new Date(), attempts: 1, body: { v: 1, id, tenantId: t.tenantId } }]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env, ctx);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", attempts: 1, priority: "bulk" });
	});
});

describe("every re-enqueue keeps the email's lane", () => {
	it("retries a failed bulk send in place, on the queue it came from", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { priority: "bulk" });
		const lanes = holdLanes();
		fakeProvider(json(503, { message: "down" }));
		const result = await consume(t, [id], depsWith(RESEND), BULK);
		expect(result).toMatchObject({ acked: 0, retried: 1 });
		expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 1 });
		expect([...lanes.ids("send"), ...lanes.ids("sendBulk")]).toEqual([]);
	});

	it("requeues a deferred email on its own lane", async () => {
		const t = await seedTenant({ send_rate: { per_second: 0.001, burst: 1 } });
		const first = await seedEmail(t, { priority: "bulk" });
		const second = await seedEmail(t, { priority: "bulk" });
		const lanes = holdLanes();
		await consume(t, [first, second], depsWith({}, { pacer: realPacer().pacer }), BULK);
		expect((await emailRow(first)).status).toBe("delivered");
		expect(await emailRow(second)).toMatchObject({ status: "queued", attempts: 0 });
		expect(lanes.ids("sendBulk")).toEqual([second]);
		expect(lanes.ids("send")).toEqual([]);
	});

	it("recovers a bulk email whose enqueue failed onto the bulk lane", async () => {
		const t = await seedTenant();
		vi.spyOn(env.SEND_BULK_QUEUE, "send").mockRejectedValue(new Error("queue unavailable"));
		const accepted = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { priority: "bulk" }) });
		expect(accepted.status).toBe(200);
		vi.restoreAllMocks();
		const lanes = holdLanes();
		await runCron(MINUTE, Date.now() + RECOVER_GRACE_MS + 1000);
		expect(lanes.ids("sendBulk")).toContain(accepted.body.id);
		expect(lanes.ids("send")).not.toContain(accepted.body.id);
	});

	it("requeues a bulk email whose lease expired (at a provider that deduplicates) onto the bulk lane", async () => {
		const t = await seedTenant({ providers: ["resend"] });
		const id = await seedEmail(t, { priority: "bulk" });
		fakeProvider(json(200, { id: "re_1" }));
		const crash = failNthBatch(2, "crash while recording");
		await consume(t, [id], depsWith(RESEND), BULK);
		crash.mockRestore();
		expect((await emailRow(id)).status).toBe("sending");
		const lanes = holdLanes();
		await runCron(MINUTE, Date.now() + 121_000);
		expect(await emailRow(id)).toMatchObject({ status: "queued", pinned_provider: "resend" });
		expect(lanes.ids("sendBulk")).toContain(id);
		expect(lanes.ids("send")).not.toContain(id);
	});

	it("releases far-future schedules each onto its own lane", async () => {
		const t = await seedTenant();
		const high = await seedEmail(t, { scheduled_at: "in 3 days", priority: "high" });
		const bulk = await seedEmail(t, { scheduled_at: "in 3 days", priority: "bulk" });
		const lanes = holdLanes();
		const at = Number((await emailRow(bulk)).scheduled_at);
		await runCron(MINUTE, at - QUEUE_MAX_DELAY_SECONDS * 1000 + 60_000);
		expect(lanes.ids("send")).toContain(high);
		expect(lanes.ids("send")).not.toContain(bulk);
		expect(lanes.ids("sendBulk")).toContain(bulk);
		expect(lanes.ids("sendBulk")).not.toContain(high);
	});

	it("enqueues a rescheduled bulk email on the bulk lane", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { scheduled_at: "in 3 days", priority: "bulk" });
		const lanes = holdLanes();
		expect((await call("PATCH", `/emails/${id}`, { key: t.key, body: { scheduled_at: "in 2 hours" } })).status).toBe(200);
		expect(lanes.ids("sendBulk")).toEqual([id]);
		expect(lanes.sent.sendBulk[0]?.delaySeconds).toBeGreaterThan(7000);
		expect(lanes.ids("send")).toEqual([]);
	});

	it("sends an uncertain bulk email that its provider twice has no trace of again on the bulk lane", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { priority: "bulk" });
		// The sandbox finds an email only by its provider message id: this one never got one.
		await env.DB.prepare("UPDATE emails SET status = 'uncertain', provider = 'sandbox', updated_at = ? WHERE id = ?")
			.bind(Date.now() - 20 * 60_000, id)
			.run();
		const lanes = holdLanes();
		const deps = { providers: providerFactory(env), pacer: unlimitedPacer };
		await reconcile(env, Date.now(), deps);
		await reconcile(env, Date.now() + 5 * 60_000, deps);
		expect((await emailRow(id)).status).toBe("queued");
		expect(lanes.ids("sendBulk")).toEqual([id]);
		expect(lanes.ids("send")).toEqual([]);
	});

	it("replays a dead-lettered bulk email onto the bulk lane", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { priority: "bulk" });
		fakeProvider(json(503, { message: "down" }));
		await consume(t, [id], depsWith({ ...RESEND, MAX_ATTEMPTS: "1" }), BULK);
		vi.restoreAllMocks();
		const letters = await call<{ data: { id: string; email_id: string }[] }>("GET", "/dead-letters", { key: t.key });
		const letter = letters.body.data.find((l) => l.email_id === id);
		if (!letter) throw new Error("no dead letter");
		const lanes = holdLanes();
		expect((await call("POST", `/dead-letters/${letter.id}/replay`, { key: t.key })).status).toBe(200);
		expect(lanes.ids("sendBulk")).toEqual([id]);
		expect(lanes.ids("send")).toEqual([]);
	});
});

describe("ordering under load", () => {
	/** Accepts `batches` full batches (bulk by their size), then one high-priority single send; all held on their lanes. */
	async function backlogThenHigh(t: Seeded, batches: number) {
		const lanes = holdLanes();
		for (let b = 0; b < batches; b++) {
			const body = Array.from({ length: 100 }, (_, i) => email(t, { to: `bulk${b * 100 + i}@example.org` }));
			expect((await call("POST", "/emails/batch", { key: t.key, body })).status).toBe(200);
		}
		const high = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { priority: "high" }) });
		return { lanes, high: high.body.id };
	}

	/**
	 * Both lanes' consumers, as the platform runs them side by side: each takes batches of 100 off its own queue in
	 * order; a round gives each lane with messages waiting one batch, the bulk lane first (the high send's worst case).
	 */
	async function drive(t: Seeded, lanes: ReturnType<typeof holdLanes>, rounds: number, deps: ReturnType<typeof depsWith>) {
		const taken = { send: 0, sendBulk: 0 };
		for (let r = 0; r < rounds; r++) {
			for (const lane of ["sendBulk", "send"] as const) {
				const ids = lanes.ids(lane).slice(taken[lane], taken[lane] + 100);
				taken[lane] += ids.length;
				if (ids.length > 0) await consume(t, ids, deps, QUEUE_NAMES[lane]);
			}
		}
	}

	it("sends a high-priority email accepted after a 300-email bulk backlog before the backlog drains", async () => {
		const t = await seedTenant({ send_rate: { per_second: 100_000, burst: 100_000 } });
		const { lanes, high } = await backlogThenHigh(t, 3);
		expect(lanes.ids("sendBulk")).toHaveLength(300);
		expect(lanes.ids("send")).toEqual([high]);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		await drive(t, lanes, 1, depsWith(RESEND));
		const order = calledIds(provider);
		expect(order).toHaveLength(101);
		expect(order[100]).toBe(high);
		expect(await emailRow(high)).toMatchObject({ status: "sent", priority: "high" });
		// 200 bulk emails were still waiting when it went out.
		const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE tenant_id = ? AND status = 'queued'")
			.bind(t.tenantId)
			.first<{ n: number }>()) ?? { n: 0 };
		expect(n).toBe(200);
	});

	it("gets a high-priority email a send permit while the bulk backlog has spent the tenant's rate down to its reserve", async () => {
		// A burst of 50 and next to no refill: bulk may take 40, the reserve of 10 (BULK_RESERVE 0.2) is left to high.
		const t = await seedTenant({ send_rate: { per_second: 0.001, burst: 50 } });
		const { lanes, high } = await backlogThenHigh(t, 2);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		const { pacer } = realPacer({ PROVIDER_RATES: JSON.stringify({ resend: { per_second: 100_000, burst: 100_000 } }) });
		await drive(t, lanes, 2, depsWith(RESEND, { pacer }));
		const order = calledIds(provider);
		expect(order).toHaveLength(41);
		expect(order.indexOf(high)).toBe(40);
		expect((await emailRow(high)).status).toBe("sent");
		// The deferred bulk emails went back on the bulk lane, not spending an attempt.
		expect(lanes.ids("sendBulk").length).toBeGreaterThan(200);
		expect(lanes.ids("send")).toEqual([high]);
	});
});
