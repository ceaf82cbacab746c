import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, email, seedTenant } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

type Usage = {
	object: string;
	emails: { daily: Record<string, number | string | null>; monthly: Record<string, number | string | null> };
	domains: { used: number; limit: number };
	rate_limit: { limit: number; duration: string };
	api_rate: { per_second: number; burst: number };
	send_rate: { per_second: number; burst: number };
	contacts: { used: number; limit: number };
};

describe("GET /usage", () => {
	it("reports today's emails against the daily quota, this month's count, domains and rate limits", async () => {
		vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const t = await seedTenant({ daily_quota: 50, api_rate: { per_second: 25, burst: 100 } });
		await call("POST", "/emails", { key: t.key, body: email(t) });
		await call("POST", "/emails/batch", { key: t.key, body: [email(t), email(t)] });
		// Refused sends give their quota back and are no emails.
		await call("POST", "/emails", { key: t.key, body: email(t, { from: "a@elsewhere.example" }) });
		await call("POST", "/domains", { key: t.key, body: { name: `u-${crypto.randomUUID().slice(0, 8)}.example.com` } });
		const res = await call<Usage>("GET", "/usage", { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body.object).toBe("usage");
		expect(res.body.emails.daily).toEqual({ used: 3, limit: 50, sent: 3, received: 0, resets_at: expect.any(String) });
		expect(Date.parse(String(res.body.emails.daily.resets_at)) % 86_400_000).toBe(0);
		expect(res.body.emails.monthly).toEqual({ used: 3, limit: null, sent: 3, received: 0, resets_at: expect.any(String) });
		expect(res.body.domains).toEqual({ used: 1, limit: 100 });
		expect(res.body.rate_limit).toEqual({ limit: 25, duration: "1s" });
		expect(res.body.api_rate).toEqual({ per_second: 25, burst: 100 });
		expect(res.body.contacts).toEqual({ used: 0, limit: 0 });
	});

	it("counts only the tenant's own emails", async () => {
		vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		const a = await seedTenant();
		await call("POST", "/emails", { key: a.key, body: email(a) });
		const b = await seedTenant();
		const res = await call<Usage>("GET", "/usage", { key: b.key });
		expect(res.body.emails.daily.used).toBe(0);
		expect(res.body.emails.monthly.used).toBe(0);
	});

	it("answers 503 with retry-after when the RateLimiter cannot be asked", async () => {
		const t = await seedTenant();
		const real = env.RATE_LIMITER.getByName.bind(env.RATE_LIMITER);
		let calls = 0;
		vi.spyOn(env.RATE_LIMITER, "getByName").mockImplementation((name) => {
			calls += 1;
			// The middleware's admit goes through; the usage read fails.
			if (calls === 1) return real(name);
			throw new Error("limiter down");
		});
		const res = await call<{ name: string }>("GET", "/usage", { key: t.key });
		expect(res.status).toBe(503);
		expect(res.body.name).toBe("service_unavailable");
		expect(res.headers.get("retry-after")).toBe("5");
	});
});
