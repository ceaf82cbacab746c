import { evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type RateLimiter, utcDay } from "../../src/durable-objects/rate-limiter";

const rate = { per_second: 1, burst: 3 };
const policy = { rate: { per_second: 10, burst: 10 }, failureThreshold: 3, coolDownMs: 30_000 };

/** Moves a stored clock back by `ms` and evicts the object, so it reloads as if that time had passed. */
async function rewind(stub: DurableObjectStub<RateLimiter>, table: "buckets" | "circuits", ms: number) {
	await runInDurableObject(stub, (_i: RateLimiter, state) => {
		if (table === "buckets") state.storage.sql.exec("UPDATE buckets SET updated_at = updated_at - ?", ms);
		else state.storage.sql.exec("UPDATE circuits SET opened_at = opened_at - ?", ms);
	});
	await evictDurableObject(stub);
}

describe("token buckets", () => {
	it("allows a burst, then refuses with a retry-after", async () => {
		const stub = env.RATE_LIMITER.getByName("t:burst");
		const results = [];
		for (let i = 0; i < 4; i++) results.push(await stub.take("api", rate));
		expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
		expect(results[2]?.remaining).toBe(0);
		expect(results[3]?.retryAfterMs).toBeGreaterThan(0);
		expect(results[3]?.retryAfterMs).toBeLessThanOrEqual(1000);
		expect(results[3]?.limit).toBe(3);
	});

	it("refills continuously at the rate, up to the burst", async () => {
		const stub = env.RATE_LIMITER.getByName("t:refill");
		for (let i = 0; i < 3; i++) await stub.take("api", rate);
		await rewind(stub, "buckets", 2_000);
		const after = await stub.take("api", rate);
		expect(after).toMatchObject({ allowed: true, remaining: 1 });
		await rewind(stub, "buckets", 3_600_000);
		expect((await stub.take("api", rate)).remaining).toBe(2);
	});

	it("takes n tokens at once or none", async () => {
		const stub = env.RATE_LIMITER.getByName("t:n");
		expect((await stub.take("k", { per_second: 10, burst: 100 }, 60)).allowed).toBe(true);
		const refused = await stub.take("k", { per_second: 10, burst: 100 }, 60);
		expect(refused.allowed).toBe(false);
		expect(refused.remaining).toBe(40);
		expect((await stub.take("k", { per_second: 10, burst: 100 }, 40)).allowed).toBe(true);
	});

	it("grants part of a request when the bucket has part of it", async () => {
		const stub = env.RATE_LIMITER.getByName("t:grant");
		const first = await stub.grant("send", { per_second: 1, burst: 5 }, 8);
		expect(first.granted).toBe(5);
		expect(first.retryAfterMs).toBeGreaterThan(0);
		expect((await stub.grant("send", { per_second: 1, burst: 5 }, 8)).granted).toBe(0);
	});

	it("keeps buckets apart by key", async () => {
		const stub = env.RATE_LIMITER.getByName("t:keys");
		for (let i = 0; i < 3; i++) await stub.take("a", rate);
		expect((await stub.take("a", rate)).allowed).toBe(false);
		expect((await stub.take("b", rate)).allowed).toBe(true);
	});

	it("persists tokens across eviction", async () => {
		const stub = env.RATE_LIMITER.getByName("t:evict");
		for (let i = 0; i < 3; i++) await stub.take("k", { per_second: 0.001, burst: 3 });
		await evictDurableObject(stub);
		expect((await stub.take("k", { per_second: 0.001, burst: 3 })).allowed).toBe(false);
	});
});

describe("daily quota", () => {
	// A refill slower than any test run, so `remaining` cannot grow back between the calls on a busy machine.
	const api = { key: "api", rate: { per_second: 0.001, burst: 100 } };

	it("admits emails up to the quota, refuses beyond it without charging the API bucket", async () => {
		const stub = env.RATE_LIMITER.getByName("t:quota");
		const first = await stub.admit({ api, daily: { key: "daily", limit: 3, emails: 2 } });
		expect(first.daily).toMatchObject({ allowed: true, used: 2, remaining: 1 });
		const over = await stub.admit({ api, daily: { key: "daily", limit: 3, emails: 2 } });
		expect(over.daily).toMatchObject({ allowed: false, used: 2 });
		expect(over.api.remaining).toBe(99);
		expect(over.daily?.resetMs).toBeGreaterThan(0);
		expect(over.daily?.resetMs).toBeLessThanOrEqual(86_400_000);
		await stub.refundDaily("daily", 2);
		expect((await stub.admit({ api, daily: { key: "daily", limit: 3, emails: 3 } })).daily?.allowed).toBe(true);
	});

	it("forgets past days when the midnight alarm runs", async () => {
		const stub = env.RATE_LIMITER.getByName("t:alarm");
		await stub.admit({ api, daily: { key: "daily", limit: 10, emails: 1 } });
		await runInDurableObject(stub, (_i: RateLimiter, state) => {
			state.storage.sql.exec("INSERT INTO daily (key, day, used) VALUES ('daily', '2020-01-01', 5)");
		});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		const days = await runInDurableObject(stub, (_i: RateLimiter, state) =>
			state.storage.sql
				.exec<{ day: string }>("SELECT day FROM daily ORDER BY day")
				.toArray()
				.map((r) => r.day),
		);
		expect(days).toEqual([utcDay(Date.now())]);
	});
});

describe("provider circuit and adaptive rate", () => {
	it("opens after consecutive definite failures, refuses, half-opens for one probe, and closes on success", async () => {
		const stub = env.RATE_LIMITER.getByName("provider:circuit");
		await stub.reportProvider("p", policy, { successes: 0, failures: 2, rateLimited: 0 });
		expect((await stub.acquireProvider("p", policy, 5)).circuit).toBe("closed");
		const opened = await stub.reportProvider("p", policy, { successes: 0, failures: 1, rateLimited: 0 });
		expect(opened.circuit).toBe("open");
		expect(await stub.acquireProvider("p", policy, 5)).toMatchObject({ granted: 0, circuit: "open" });
		await rewind(stub, "circuits", 31_000);
		expect(await stub.acquireProvider("p", policy, 5)).toMatchObject({ granted: 1, circuit: "half_open" });
		expect(await stub.acquireProvider("p", policy, 5)).toMatchObject({ granted: 0, circuit: "half_open" });
		expect((await stub.reportProvider("p", policy, { successes: 1, failures: 0, rateLimited: 0 })).circuit).toBe("closed");
		// Closed again: the bucket grants what is left of it (10 − 5 earlier − 1 probe), plus whatever it refilled
		// while the test ran (a slow run on a loaded machine earns a token every 100 ms at 10/s).
		const closed = await stub.acquireProvider("p", policy, 5);
		expect(closed.circuit).toBe("closed");
		expect(closed.granted).toBeGreaterThanOrEqual(4);
	});

	it("opens again when the half-open probe fails", async () => {
		const stub = env.RATE_LIMITER.getByName("provider:probe-fails");
		await stub.reportProvider("p", policy, { successes: 0, failures: 3, rateLimited: 0 });
		await rewind(stub, "circuits", 31_000);
		await stub.acquireProvider("p", policy, 1);
		expect((await stub.reportProvider("p", policy, { successes: 0, failures: 1, rateLimited: 0 })).circuit).toBe("open");
	});

	it("halves the rate and empties the bucket on a 429, then recovers with successes", async () => {
		const stub = env.RATE_LIMITER.getByName("provider:adaptive");
		const slowed = await stub.reportProvider("p", policy, { successes: 0, failures: 0, rateLimited: 1 });
		expect(slowed.ratePerSecond).toBe(5);
		expect((await stub.acquireProvider("p", policy, 5)).granted).toBe(0);
		expect((await stub.reportProvider("p", policy, { successes: 0, failures: 0, rateLimited: 3 })).ratePerSecond).toBe(2.5);
		expect((await stub.reportProvider("p", policy, { successes: 4, failures: 0, rateLimited: 0 })).ratePerSecond).toBe(3.5);
		expect((await stub.providerStatus("p", policy)).ratePerSecond).toBe(3.5);
	});

	it("uses one object per tenant and per provider", async () => {
		await env.RATE_LIMITER.getByName("tenant:one").take("tenant:one:api", rate);
		const ids = await listDurableObjectIds(env.RATE_LIMITER);
		expect(ids.length).toBeGreaterThan(1);
	});
});
