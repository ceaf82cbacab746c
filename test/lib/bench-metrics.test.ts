import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../../src/db/client";
import { tenants } from "../../src/db/schema";
import { findActiveApiKey } from "../../src/db/tenants";
import {
	type BenchCounter,
	benchSnapshot,
	emptyCounter,
	instrumented,
	objectRowsKeepColumns,
	queuePhase,
} from "../../src/lib/bench-metrics";
import { sha256Hex } from "../../src/lib/crypto";
import { ADMIN_TOKEN, call, seedTenant } from "../helpers/api";

/** The "other" phase's counters now, and a measured environment (each call is one invocation). */
function measured() {
	const before = benchSnapshot().other ?? emptyCounter();
	const wrapped = instrumented(Object.assign(Object.create(null), env, { BENCH_METRICS: "on" }) as Env, "other");
	const delta = () => {
		const after = benchSnapshot().other ?? emptyCounter();
		return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof BenchCounter]])) as BenchCounter;
	};
	return { wrapped, delta };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("bench metrics", () => {
	it("counts D1 queries, round trips and RateLimiter RPCs per phase", async () => {
		const { wrapped, delta } = measured();
		const db = getDb(wrapped.DB);
		await db.select().from(tenants).limit(1);
		await db.batch([db.select().from(tenants).limit(1), db.select().from(tenants).limit(2)]);
		await wrapped.RATE_LIMITER.getByName("bench").take("k", { per_second: 1, burst: 1 });
		const d = delta();
		expect(d.invocations).toBe(1);
		expect(d.d1_queries).toBe(3);
		expect(d.d1_round_trips).toBe(2);
		expect(d.do_rpcs).toBe(1);
	});

	it("counts the rows of a single select that drizzle reads with raw(), and returns the same row", async () => {
		const t = await seedTenant();
		const { wrapped, delta } = measured();
		const [row] = await getDb(wrapped.DB).select().from(tenants).where(eq(tenants.id, t.tenantId));
		expect(row?.id).toBe(t.tenantId);
		expect(row?.allowedFromDomains).toEqual([t.domain]);
		const d = delta();
		expect(d.rows_read).toBeGreaterThanOrEqual(1);
		expect(d.d1_unmetered_reads).toBe(0);
	});

	it("leaves a JOIN to raw() and counts it as unmetered, with its columns intact", async () => {
		const t = await seedTenant();
		const { wrapped, delta } = measured();
		const found = await findActiveApiKey(getDb(wrapped.DB), await sha256Hex(t.key));
		expect(found?.id).toBe(t.keyId);
		expect(found?.tenant.id).toBe(t.tenantId);
		expect(delta().d1_unmetered_reads).toBe(1);
	});

	it("answers first() from all(), with its meta counted", async () => {
		const t = await seedTenant();
		const { wrapped, delta } = measured();
		const name = await wrapped.DB.prepare('select "name" from "tenants" where "id" = ?').bind(t.tenantId).first<string>("name");
		expect(name).toMatch(/^tenant /);
		const d = delta();
		expect(d.rows_read).toBeGreaterThanOrEqual(1);
		expect(d.d1_round_trips).toBe(1);
	});

	it("counts queue sends, the messages they carry and their bytes, on every queue the Worker sends to", async () => {
		vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		vi.spyOn(env.SEND_BULK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const { wrapped, delta } = measured();
		const message = { v: 1 as const, id: "a", tenantId: "t" };
		await wrapped.SEND_QUEUE.send(message);
		await wrapped.SEND_BULK_QUEUE.sendBatch([{ body: message }, { body: message }]);
		await wrapped.WEBHOOK_QUEUE.sendBatch([{ body: { id: "1" } }, { body: { id: "2" } }, { body: { id: "3" } }]);
		const d = delta();
		expect(d.queue_sends).toBe(3);
		expect(d.queue_messages).toBe(6);
		expect(d.queue_bytes).toBe(3 * JSON.stringify(message).length + 3 * JSON.stringify({ id: "1" }).length);
	});

	it("keeps /admin/bench-metrics dark unless BENCH_METRICS is on", async () => {
		const res = await call<{ name: string }>("GET", "/admin/bench-metrics", { key: ADMIN_TOKEN });
		expect(res.status).toBe(404);
	});
});

describe("queuePhase", () => {
	it("puts the send queue and its dead letters, in any environment, in the consume phase", () => {
		expect(queuePhase("mailroom-send")).toBe("consume");
		expect(queuePhase("mailroom-send-production")).toBe("consume");
		expect(queuePhase("mailroom-send-dlq-staging")).toBe("consume");
	});

	it("puts the bulk lane, in any environment, in the consume phase", () => {
		expect(queuePhase("mailroom-send-bulk")).toBe("consume");
		expect(queuePhase("mailroom-send-bulk-production")).toBe("consume");
	});

	it("puts webhook queues and Email Sending's events in the webhook phase", () => {
		expect(queuePhase("mailroom-webhooks")).toBe("webhook");
		expect(queuePhase("mailroom-webhooks-dlq-production")).toBe("webhook");
		expect(queuePhase("mailroom-email-events")).toBe("webhook");
	});
});

describe("objectRowsKeepColumns", () => {
	it("accepts a single-table select list of distinct columns", () => {
		expect(objectRowsKeepColumns('select "id", "name" from "tenants" where "id" = ?')).toBe(true);
	});

	it("accepts writes, and RETURNING lists of distinct columns", () => {
		expect(objectRowsKeepColumns('insert into "emails" ("id") values (?)')).toBe(true);
		expect(objectRowsKeepColumns('update "emails" set "status" = ? where "id" = ? returning "id", "status"')).toBe(true);
	});

	it("refuses joins, repeated names, expressions and lists it cannot read", () => {
		expect(objectRowsKeepColumns('select "a"."id", "b"."id" from "a" inner join "b" on "a"."id" = "b"."a_id"')).toBe(false);
		expect(objectRowsKeepColumns('select "emails"."id", "emails"."id" from "emails"')).toBe(false);
		expect(objectRowsKeepColumns('select count(*) from "emails"')).toBe(false);
		expect(objectRowsKeepColumns("SELECT 1")).toBe(false);
	});
});
