import { afterEach, describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, call, seedTenant } from "../helpers/api";
import { consume, depsWith, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

type Stats = {
	emails: Record<string, number>;
	pending: { count: number; oldest_age_seconds: number | null };
	providers: Record<string, Record<string, unknown>>;
};

describe("GET /stats", () => {
	it("counts the tenant's emails by status, what is pending, and provider error rates", async () => {
		const t = await seedTenant({ providers: ["sandbox"] });
		const other = await seedTenant();
		await seedEmail(other);
		const delivered = await seedEmail(t);
		await seedEmail(t);
		await seedEmail(t, { scheduled_at: "in 1 day" });
		await consume(t, [delivered], depsWith());
		const flaky = await seedEmail(t, { to: "flaky@example.org" });
		await consume(t, [flaky], depsWith());
		const res = await call<Stats>("GET", "/stats", { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body.emails).toMatchObject({ delivered: 1, queued: 2, scheduled: 1, sent: 0 });
		expect(res.body.pending.count).toBe(2);
		expect(res.body.pending.oldest_age_seconds).toBeGreaterThanOrEqual(0);
		// Only the tenant's own figures: circuits and adaptive rates reflect other tenants' traffic.
		expect(res.body.providers.sandbox).toEqual({ attempts_1h: 2, error_rate_1h: 0.5, reconcilable: true });
	});
});

describe("GET /analytics", () => {
	it("buckets status counts by hour, with empty buckets, filtered by tag", async () => {
		const t = await seedTenant();
		const tagged = await seedEmail(t, { tags: [{ name: "campaign", value: "spring" }] });
		const plain = await seedEmail(t);
		await consume(t, [tagged, plain], depsWith());
		// Three whole hours, the current one last.
		const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
		const from = new Date(hour - 2 * 3_600_000).toISOString();
		const to = new Date(hour + 3_600_000).toISOString();
		const all = await call<{ data: { start: string; counts: Record<string, number> }[] }>(
			"GET",
			`/analytics?from=${from}&to=${to}&group_by=hour`,
			{ key: t.key },
		);
		expect(all.status).toBe(200);
		expect(all.body.data).toHaveLength(3);
		const sum = (rows: { counts: Record<string, number> }[], s: string) => rows.reduce((n, r) => n + (r.counts[s] ?? 0), 0);
		expect(sum(all.body.data, "delivered")).toBe(2);
		expect(sum(all.body.data, "queued")).toBe(2);
		expect(all.body.data[0]?.counts.delivered).toBe(0);
		expect(all.body.data[2]?.counts.delivered).toBe(2);
		const spring = await call<{ data: { counts: Record<string, number> }[] }>(
			"GET",
			`/analytics?from=${from}&to=${to}&group_by=hour&tag=campaign:spring`,
			{
				key: t.key,
			},
		);
		expect(sum(spring.body.data, "delivered")).toBe(1);
	});

	it.each([
		["from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"],
		["from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&group_by=hour"],
		["from=yesterday&to=today"],
		["from=2026-01-01T00:00:00Z"],
	])("answers 422 for %s", async (query) => {
		const t = await seedTenant();
		const res = await call<{ name: string }>("GET", `/analytics?${query}`, { key: t.key });
		expect(res.status).toBe(422);
	});
});

describe("GET /metrics", () => {
	it("serves Prometheus text to the admin token only", async () => {
		const t = await seedTenant();
		await seedEmail(t);
		expect((await call("GET", "/metrics", { key: t.key })).status).toBe(403);
		const res = await call<string>("GET", "/metrics", { key: ADMIN_TOKEN });
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("text/plain");
		expect(res.body).toContain("# TYPE mailroom_open_emails gauge");
		expect(res.body).toMatch(/^mailroom_open_emails\{status="queued"\} [1-9]\d*$/m);
		expect(res.body).toMatch(/^mailroom_provider_circuit_open\{provider="sandbox"\} 0$/m);
	});
});
