import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { bulkReserve, limiterPacer } from "../../src/services/pacing";
import { seedTenant } from "../helpers/api";
import { holdLanes } from "../helpers/lanes";
import { realPacer } from "../helpers/pacer";
import { consume, depsWith, emailRow, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const rate = { per_second: 0.001, burst: 10 };

describe("the limiter's reserve", () => {
	it("grants a request with a reserve only the tokens above it", async () => {
		const stub = env.RATE_LIMITER.getByName("t:reserve");
		expect(await stub.grant("send", rate, 20, 2)).toMatchObject({ granted: 8 });
		const refused = await stub.grant("send", rate, 1, 2);
		expect(refused.granted).toBe(0);
		expect(refused.retryAfterMs).toBeGreaterThan(0);
		expect(await stub.grant("send", rate, 5)).toMatchObject({ granted: 2 });
	});

	it("never holds back the whole bucket: a reserve is clamped below the burst", async () => {
		const stub = env.RATE_LIMITER.getByName("t:reserve-clamp");
		expect(await stub.grant("send", { per_second: 0.001, burst: 3 }, 5, 10)).toMatchObject({ granted: 1 });
	});

	it("applies the reserve to a provider's bucket too", async () => {
		const stub = env.RATE_LIMITER.getByName("p:reserve");
		const policy = { rate: { per_second: 0.001, burst: 10 }, failureThreshold: 3, coolDownMs: 30_000 };
		expect(await stub.acquireProvider("x", policy, 20, 3)).toMatchObject({ granted: 7, circuit: "closed" });
		expect(await stub.acquireProvider("x", policy, 20, 3)).toMatchObject({ granted: 0 });
		expect(await stub.acquireProvider("x", policy, 20)).toMatchObject({ granted: 3 });
	});
});

describe("bulkReserve", () => {
	it.each([
		[100, 0.2, 20],
		[10, 0.2, 2],
		[2, 0.2, 1],
		[1, 0.2, 0],
		[100, 0, 0],
		[100, 1, 99],
	])("keeps %d × %d → %d tokens", (burst, fraction, kept) => {
		expect(bulkReserve(burst, fraction)).toBe(kept);
	});
});

describe("priority-aware send pacing", () => {
	it("gives a high send a tenant permit while a bulk one is refused at low tokens", async () => {
		const pacer = limiterPacer(env.RATE_LIMITER, getConfig(env));
		const tenant = `lanes-${crypto.randomUUID()}`;
		// Bulk takes what is above the reserve (2 of a burst of 10), then is refused; high still gets both.
		expect((await pacer.tenantPermits(tenant, rate, 100, "bulk")).granted).toBe(8);
		expect((await pacer.tenantPermits(tenant, rate, 1, "bulk")).granted).toBe(0);
		expect((await pacer.tenantPermits(tenant, rate, 1, "high")).granted).toBe(1);
		expect((await pacer.tenantPermits(tenant, rate, 1, "normal")).granted).toBe(1);
		expect((await pacer.tenantPermits(tenant, rate, 1, "high")).granted).toBe(0);
	});

	it("spends a short tenant rate on the batch's high emails first, whatever their order in the batch", async () => {
		const t = await seedTenant({ send_rate: { per_second: 0.001, burst: 2 } });
		const normal = [await seedEmail(t), await seedEmail(t)];
		const high = [await seedEmail(t, { priority: "high" }), await seedEmail(t, { priority: "high" })];
		const lanes = holdLanes();
		await consume(t, [...normal, ...high], depsWith({}, { pacer: realPacer().pacer }));
		expect((await Promise.all(high.map(emailRow))).map((r) => r.status)).toEqual(["delivered", "delivered"]);
		expect((await Promise.all(normal.map(emailRow))).map((r) => r.status)).toEqual(["queued", "queued"]);
		expect(lanes.ids("send").sort()).toEqual([...normal].sort());
	});

	it("leaves a bulk batch the tenant's reserve, which a later normal email then gets", async () => {
		const t = await seedTenant({ send_rate: { per_second: 0.001, burst: 5 } });
		const bulk: string[] = [];
		for (let i = 0; i < 5; i++) bulk.push(await seedEmail(t, { priority: "bulk" }));
		const normal = await seedEmail(t);
		holdLanes();
		const { pacer } = realPacer();
		await consume(t, bulk, depsWith({}, { pacer }), "mailroom-send-bulk");
		const statuses = (await Promise.all(bulk.map(emailRow))).map((r) => r.status);
		expect(statuses.filter((s) => s === "delivered")).toHaveLength(4);
		await consume(t, [normal], depsWith({}, { pacer }));
		expect((await emailRow(normal)).status).toBe("delivered");
	});
});
