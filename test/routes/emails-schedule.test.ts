import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { QUEUE_MAX_DELAY_SECONDS } from "../../src/config";
import { call, email, type Seeded, seedTenant } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

type EmailObject = { id: string; last_event: string; scheduled_at: string | null };
type ErrorBody = { statusCode: number; name: string; message: string };

async function send(t: Seeded, overrides: Record<string, unknown> = {}): Promise<string> {
	const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, overrides) });
	if (res.status !== 200) throw new Error(JSON.stringify(res.body));
	return res.body.id;
}

const get = (t: Seeded, id: string) => call<EmailObject>("GET", `/emails/${id}`, { key: t.key });
const events = async (t: Seeded, id: string) =>
	(await call<{ data: { type: string; detail: Record<string, unknown> | null }[] }>("GET", `/emails/${id}/events`, { key: t.key })).body
		.data;

describe("scheduled_at", () => {
	it("enqueues a schedule within the queue's delay limit with the remaining delay", async () => {
		const t = await seedTenant();
		const sendSpy = vi.spyOn(env.SEND_QUEUE, "send");
		const id = await send(t, { scheduled_at: "in 2 hours" });
		const delay = (sendSpy.mock.calls[0]?.[1] as { delaySeconds: number } | undefined)?.delaySeconds;
		expect(delay).toBeGreaterThanOrEqual(7199);
		expect(delay).toBeLessThanOrEqual(7200);
		const res = await get(t, id);
		expect(res.body.last_event).toBe("scheduled");
		expect(Date.parse(res.body.scheduled_at ?? "") - Date.now()).toBeGreaterThan(7_100_000);
	});

	it("keeps a schedule beyond the delay limit in D1 for the release cron, without enqueueing", async () => {
		const t = await seedTenant();
		const sendSpy = vi.spyOn(env.SEND_QUEUE, "send");
		const id = await send(t, { scheduled_at: "in 3 days" });
		expect(sendSpy).not.toHaveBeenCalled();
		expect((await get(t, id)).body.last_event).toBe("scheduled");
		expect(QUEUE_MAX_DELAY_SECONDS).toBeLessThan(3 * 86_400);
	});

	it("accepts an ISO 8601 time with an offset", async () => {
		const t = await seedTenant();
		const at = new Date(Date.now() + 3_600_000);
		const offset = `${at.toISOString().slice(0, 19)}+00:00`;
		const id = await send(t, { scheduled_at: offset });
		expect((await get(t, id)).body.scheduled_at).toBe(`${at.toISOString().slice(0, 19)}.000Z`);
	});

	it("sends at once when scheduled_at is now", async () => {
		const t = await seedTenant();
		const id = await send(t, { scheduled_at: new Date().toISOString() });
		expect((await get(t, id)).body.last_event).toBe("queued");
	});
});

describe("PATCH /emails/:id (reschedule)", () => {
	it("moves a scheduled email to a new time and enqueues for it", async () => {
		const t = await seedTenant();
		const id = await send(t, { scheduled_at: "in 2 hours" });
		const sendSpy = vi.spyOn(env.SEND_QUEUE, "send");
		const at = new Date(Date.now() + 5 * 3_600_000).toISOString();
		const res = await call("PATCH", `/emails/${id}`, { key: t.key, body: { scheduled_at: at } });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "email", id });
		expect((await get(t, id)).body.scheduled_at).toBe(at);
		expect(sendSpy).toHaveBeenCalledWith({ v: 1, id, tenantId: t.tenantId }, { delaySeconds: expect.any(Number) });
		expect((await events(t, id)).map((e) => e.type)).toEqual(["scheduled", "scheduled"]);
	});

	it("refuses to reschedule an email that is no longer scheduled, with 409", async () => {
		const t = await seedTenant();
		const id = await send(t);
		const res = await call<ErrorBody>("PATCH", `/emails/${id}`, { key: t.key, body: { scheduled_at: "in 1 hour" } });
		expect(res.status).toBe(409);
		expect(res.body.name).toBe("invalid_state");
		expect(res.body.message).toContain("queued");
		expect((await get(t, id)).body.scheduled_at).toBeNull();
	});

	it.each([
		[{ scheduled_at: "whenever" }, 422],
		[{ scheduled_at: "2020-01-01T00:00:00Z" }, 422],
		[{}, 422],
		[{ scheduled_at: 5 }, 422],
	])("rejects %j", async (body, status) => {
		const t = await seedTenant();
		const id = await send(t, { scheduled_at: "in 2 hours" });
		const before = (await get(t, id)).body.scheduled_at;
		const res = await call<ErrorBody>("PATCH", `/emails/${id}`, { key: t.key, body });
		expect(res.status).toBe(status);
		expect((await get(t, id)).body.scheduled_at).toBe(before);
	});
});

describe("POST /emails/:id/cancel", () => {
	it("cancels a scheduled email and records the event", async () => {
		const t = await seedTenant();
		const id = await send(t, { scheduled_at: "in 1 day" });
		const res = await call("POST", `/emails/${id}/cancel`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "email", id });
		expect((await get(t, id)).body.last_event).toBe("canceled");
		expect((await events(t, id)).map((e) => e.type)).toEqual(["scheduled", "canceled"]);
	});

	it("cancels a queued email that no consumer has claimed", async () => {
		const t = await seedTenant();
		const id = await send(t);
		const res = await call("POST", `/emails/${id}/cancel`, { key: t.key });
		expect(res.status).toBe(200);
		expect((await get(t, id)).body.last_event).toBe("canceled");
	});

	it("refuses to cancel an email the consumer already claimed, and writes no event", async () => {
		const t = await seedTenant();
		const id = await send(t);
		await env.DB.prepare("UPDATE emails SET status = 'sending', last_event = 'sending' WHERE id = ?").bind(id).run();
		const res = await call<ErrorBody>("POST", `/emails/${id}/cancel`, { key: t.key });
		expect(res.status).toBe(409);
		expect(res.body.message).toContain("sending");
		expect((await events(t, id)).map((e) => e.type)).toEqual(["queued"]);
	});

	it("lets exactly one of two concurrent cancels win, with one event", async () => {
		const t = await seedTenant();
		const id = await send(t, { scheduled_at: "in 1 day" });
		const results = await Promise.all([
			call("POST", `/emails/${id}/cancel`, { key: t.key }),
			call("POST", `/emails/${id}/cancel`, { key: t.key }),
		]);
		expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
		expect((await events(t, id)).map((e) => e.type)).toEqual(["scheduled", "canceled"]);
	});

	it("never leaves a canceled email rescheduled when cancel and reschedule race", async () => {
		const t = await seedTenant();
		const id = await send(t, { scheduled_at: "in 1 day" });
		const [cancel, patch] = await Promise.all([
			call("POST", `/emails/${id}/cancel`, { key: t.key }),
			call("PATCH", `/emails/${id}`, { key: t.key, body: { scheduled_at: "in 2 days" } }),
		]);
		expect(cancel.status).toBe(200);
		const final = await get(t, id);
		expect(final.body.last_event).toBe("canceled");
		const types = (await events(t, id)).map((e) => e.type);
		expect(types.at(-1)).toBe("canceled");
		expect(types.filter((e) => e === "canceled")).toHaveLength(1);
		expect([200, 409]).toContain(patch.status);
	});

	it("refuses to cancel twice", async () => {
		const t = await seedTenant();
		const id = await send(t);
		await call("POST", `/emails/${id}/cancel`, { key: t.key });
		const again = await call<ErrorBody>("POST", `/emails/${id}/cancel`, { key: t.key });
		expect(again.status).toBe(409);
		expect(again.body.message).toContain("canceled");
	});
});
