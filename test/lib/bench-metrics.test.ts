import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDb } from "../../src/db/client";
import { tenants } from "../../src/db/schema";
import { benchSnapshot, instrumented } from "../../src/lib/bench-metrics";
import { ADMIN_TOKEN, call } from "../helpers/api";

describe("bench metrics", () => {
	it("counts D1 queries, round trips, rows and RateLimiter RPCs per phase", async () => {
		const before = benchSnapshot().other ?? { d1_queries: 0, d1_round_trips: 0, rows_read: 0, rows_written: 0, do_rpcs: 0 };
		const wrapped = instrumented(Object.assign(Object.create(null), env, { BENCH_METRICS: "on" }) as Env, "other");
		const db = getDb(wrapped.DB);
		await db.select().from(tenants).limit(1);
		await db.batch([db.select().from(tenants).limit(1), db.select().from(tenants).limit(2)]);
		await wrapped.RATE_LIMITER.getByName("bench").take("k", { per_second: 1, burst: 1 });
		const after = benchSnapshot().other;
		expect(after?.d1_queries).toBe(before.d1_queries + 3);
		expect(after?.d1_round_trips).toBe(before.d1_round_trips + 2);
		expect(after?.do_rpcs).toBe(before.do_rpcs + 1);
		expect(after?.rows_read).toBeGreaterThanOrEqual(before.rows_read);
	});

	it("keeps /admin/bench-metrics dark unless BENCH_METRICS is on", async () => {
		const res = await call<{ name: string }>("GET", "/admin/bench-metrics", { key: ADMIN_TOKEN });
		expect(res.status).toBe(404);
	});
});
