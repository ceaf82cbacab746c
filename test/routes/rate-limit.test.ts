import { describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, call, counts, email, seedTenant } from "../helpers/api";

type ErrorBody = { statusCode: number; name: string; message: string };

describe("API rate limits", () => {
	it("puts ratelimit headers on every response", async () => {
		const t = await seedTenant({ api_rate: { per_second: 1, burst: 5 } });
		const res = await call("GET", "/emails", { key: t.key });
		expect(res.headers.get("ratelimit-limit")).toBe("5");
		expect(res.headers.get("ratelimit-remaining")).toBe("4");
		expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
		const missing = await call("GET", "/emails/00000000-0000-7000-8000-000000000000", { key: t.key });
		expect(missing.status).toBe(404);
		expect(missing.headers.get("ratelimit-remaining")).toBe("3");
	});

	it("answers 429 rate_limit_exceeded with retry-after over the limit, writing nothing", async () => {
		const t = await seedTenant({ api_rate: { per_second: 0.01, burst: 2 } });
		await call("GET", "/emails", { key: t.key });
		await call("GET", "/emails", { key: t.key });
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t) });
		expect(res.status).toBe(429);
		expect(res.body.name).toBe("rate_limit_exceeded");
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(res.headers.get("ratelimit-remaining")).toBe("0");
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	it("does not let one tenant at its limit affect another", async () => {
		const busy = await seedTenant({ api_rate: { per_second: 0.01, burst: 1 } });
		const calm = await seedTenant({ api_rate: { per_second: 0.01, burst: 1 } });
		await call("GET", "/emails", { key: busy.key });
		expect((await call("GET", "/emails", { key: busy.key })).status).toBe(429);
		expect((await call("GET", "/emails", { key: calm.key })).status).toBe(200);
	});

	it("applies limits changed through the admin API", async () => {
		const t = await seedTenant({ api_rate: { per_second: 0.01, burst: 1 } });
		await call("GET", "/emails", { key: t.key });
		expect((await call("GET", "/emails", { key: t.key })).status).toBe(429);
		await call("PATCH", `/admin/tenants/${t.tenantId}`, { key: ADMIN_TOKEN, body: { api_rate: { per_second: 100, burst: 100 } } });
		// A higher limit grows the bucket and its refill; the tokens themselves come back at the new rate (10 ms).
		await vi.waitFor(async () => {
			const res = await call("GET", "/emails", { key: t.key });
			expect(res.status).toBe(200);
			expect(res.headers.get("ratelimit-limit")).toBe("100");
		});
	});
});

describe("daily quota", () => {
	it("counts emails, not requests, and answers 429 daily_quota_exceeded until midnight", async () => {
		const t = await seedTenant({ daily_quota: 3 });
		expect((await call("POST", "/emails/batch", { key: t.key, body: [email(t), email(t)] })).status).toBe(200);
		const tooMany = await call<ErrorBody>("POST", "/emails/batch", { key: t.key, body: [email(t), email(t)] });
		expect(tooMany.status).toBe(429);
		expect(tooMany.body.name).toBe("daily_quota_exceeded");
		const seconds = Number(tooMany.headers.get("retry-after"));
		expect(seconds).toBeGreaterThan(0);
		expect(seconds).toBeLessThanOrEqual(86_400);
		expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200);
		expect((await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t) })).body.name).toBe("daily_quota_exceeded");
		expect((await counts(t.tenantId)).emails).toBe(3);
	});

	it("does not spend quota on rejected sends", async () => {
		const t = await seedTenant({ daily_quota: 1 });
		expect((await call("POST", "/emails", { key: t.key, body: email(t, { to: "nope" }) })).status).toBe(422);
		// The refund runs after the response (waitUntil).
		await vi.waitFor(async () => expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200));
	});

	it("still answers an idempotent replay when the quota is spent, but refuses a new send", async () => {
		const t = await seedTenant({ daily_quota: 1 });
		const sent = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "q1" } });
		expect(sent.status).toBe(200);
		const replay = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "q1" } });
		expect(replay.status).toBe(200);
		expect(replay.body.id).toBe(sent.body.id);
		expect(replay.headers.get("idempotent-replayed")).toBe("true");
		const fresh = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "q2" } });
		expect(fresh.status).toBe(429);
		expect(fresh.body.name).toBe("daily_quota_exceeded");
		expect((await counts(t.tenantId)).emails).toBe(1);
		// The refused request did not keep its key: it can be used once the quota allows.
		expect((await counts(t.tenantId)).idempotency).toBe(1);
	});

	it("does not charge reads against the quota", async () => {
		const t = await seedTenant({ daily_quota: 1 });
		for (let i = 0; i < 3; i++) await call("GET", "/emails", { key: t.key });
		expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200);
	});
});
