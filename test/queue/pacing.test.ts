import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, call, seedTenant } from "../helpers/api";
import { realPacer } from "../helpers/pacer";
import { consume, depsWith, emailRow, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

describe("send pacing", () => {
	it("defers emails over the tenant's send rate without spending attempts, requeueing them as new messages", async () => {
		const t = await seedTenant({ send_rate: { per_second: 0.001, burst: 1 } });
		const ids = [await seedEmail(t), await seedEmail(t), await seedEmail(t)];
		const requeue = vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const result = await consume(t, ids, depsWith({}, { pacer: realPacer().pacer }));
		expect(result).toMatchObject({ acked: 3, retried: 0 });
		const rows = await Promise.all(ids.map(emailRow));
		expect(rows.map((r) => r.status)).toEqual(["delivered", "queued", "queued"]);
		expect(rows.map((r) => r.attempts)).toEqual([1, 0, 0]);
		const requeued = requeue.mock.calls.flatMap((c) => c[0] as { body: { id: string }; delaySeconds: number }[]);
		expect(requeued.map((m) => m.body.id).sort()).toEqual(ids.slice(1).sort());
		expect(requeued.every((m) => m.delaySeconds >= 1)).toBe(true);
	});

	it("still delivers an email deferred 20 times, and never dead-letters it", async () => {
		const t = await seedTenant({ send_rate: { per_second: 0.001, burst: 1 } });
		const first = await seedEmail(t);
		const id = await seedEmail(t);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const deps = depsWith({ MAX_ATTEMPTS: "2" }, { pacer: realPacer().pacer });
		await consume(t, [first], deps);
		for (let i = 0; i < 20; i++) await consume(t, [id], deps);
		expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 0 });
		await call("PATCH", `/admin/tenants/${t.tenantId}`, { key: ADMIN_TOKEN, body: { send_rate: { per_second: 100, burst: 100 } } });
		// The emptied bucket refills at the new rate from now on: a consume a few milliseconds after the change may
		// still be deferred (spending no attempt), so consume until the permit comes.
		await vi.waitUntil(
			async () => {
				await consume(t, [id], deps);
				return (await emailRow(id)).status !== "queued";
			},
			{ timeout: 5_000, interval: 20 },
		);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", attempts: 1 });
		const letters = await call<{ data: unknown[] }>("GET", "/dead-letters", { key: t.key });
		expect(letters.body.data).toEqual([]);
	});

	it("lets another tenant's email through while a tenant floods at its own limit", async () => {
		const flood = await seedTenant({ send_rate: { per_second: 1, burst: 5 } });
		const other = await seedTenant();
		const floodIds: string[] = [];
		for (let i = 0; i < 30; i++) floodIds.push(await seedEmail(flood));
		const otherId = await seedEmail(other);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const { pacer } = realPacer();
		// One queue batch with the flood first: the other tenant's email must not wait behind it.
		await consume(flood, floodIds, depsWith({}, { pacer }));
		await consume(other, [otherId], depsWith({}, { pacer }));
		expect((await emailRow(otherId)).status).toBe("delivered");
		const statuses = await Promise.all(floodIds.map(async (id) => (await emailRow(id)).status));
		expect(statuses.filter((s) => s === "delivered")).toHaveLength(5);
	});

	it("asks the limiter once per tenant and once per provider for a whole batch", async () => {
		const t = await seedTenant({ send_rate: { per_second: 1000, burst: 1000 } });
		const ids: string[] = [];
		for (let i = 0; i < 100; i++) ids.push(await seedEmail(t, { to: `u${i}@example.org` }));
		const { pacer, calls } = realPacer();
		await consume(t, ids, depsWith({}, { pacer }));
		expect(calls).toEqual({ tenant: 1, provider: 1, report: 1 });
		console.log(`limiter RPCs for 100 consumed emails of one tenant: ${calls.tenant + calls.provider + calls.report}`);
	});
});
