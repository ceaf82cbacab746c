import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RateLimiter } from "../../src/durable-objects/rate-limiter";

afterEach(() => vi.useRealTimers());

const rate = { per_second: 1, burst: 3 };

describe("RateLimiter token buckets", () => {
	it("allows a burst, then refuses with a retry-after", async () => {
		const stub = env.RATE_LIMITER.getByName("tenant:burst");
		const results = [];
		for (let i = 0; i < 4; i++) results.push(await stub.take("tenant:burst:api", rate));
		expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
		expect(results[2]?.remaining).toBe(0);
		expect(results[3]?.retryAfterMs).toBeGreaterThan(0);
		expect(results[3]?.retryAfterMs).toBeLessThanOrEqual(1000);
		expect(results[3]?.limit).toBe(3);
	});

	it("takes n tokens at once or none", async () => {
		const stub = env.RATE_LIMITER.getByName("tenant:n");
		expect((await stub.take("k", { per_second: 10, burst: 100 }, 60)).allowed).toBe(true);
		const refused = await stub.take("k", { per_second: 10, burst: 100 }, 60);
		expect(refused.allowed).toBe(false);
		expect(refused.remaining).toBe(40);
		expect((await stub.take("k", { per_second: 10, burst: 100 }, 40)).allowed).toBe(true);
	});

	it("keeps buckets apart by key", async () => {
		const stub = env.RATE_LIMITER.getByName("tenant:keys");
		for (let i = 0; i < 3; i++) await stub.take("a", rate);
		expect((await stub.take("a", rate)).allowed).toBe(false);
		expect((await stub.take("b", rate)).allowed).toBe(true);
	});

	it("persists tokens across eviction", async () => {
		const stub = env.RATE_LIMITER.getByName("tenant:evict");
		for (let i = 0; i < 3; i++) await stub.take("k", { per_second: 0.001, burst: 3 });
		await evictDurableObject(stub);
		expect((await stub.take("k", { per_second: 0.001, burst: 3 })).allowed).toBe(false);
		const stored = await runInDurableObject(stub, (_instance: RateLimiter, state) =>
			state.storage.sql.exec<{ tokens: number }>("SELECT tokens FROM buckets WHERE key = 'k'").one(),
		);
		expect(stored.tokens).toBeLessThan(1);
	});
});
