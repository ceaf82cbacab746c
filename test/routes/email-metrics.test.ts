import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newEmailId } from "../../src/lib/ids";
import { call, seedTenant } from "../helpers/api";

type Metrics = {
	object: string;
	start_date: string;
	end_date: string;
	metrics: string[];
	dimensions: string[];
	granularity: string;
	totals: Record<string, number>;
	data?: Record<string, string | number>[];
};
type ErrorBody = { name: string; message: string };

const DAY = Date.parse("2026-03-02T00:00:00Z"); // a Monday

type Seeded = { at: number; sent?: number; events?: { type: string; at: number; detail?: Record<string, unknown> }[] };

/**
 * Emails of the tenant accepted at `at` (their ids carry that time), sent at `sent`, with further events as rows:
 * what the lifecycle writes, minus the work of getting there.
 */
async function seedEmails(tenantId: string, emails: Seeded[]): Promise<string[]> {
	const ids = emails.map((e) => newEmailId(e.at));
	await env.DB.batch(
		emails.flatMap((e, i) => [
			env.DB.prepare(
				`INSERT INTO emails (id, tenant_id, status, last_event, from_address, to_addresses, cc_addresses, bcc_addresses, reply_to, subject, tags, sent_at, created_at, updated_at)
				 VALUES (?, ?, 'sent', 'sent', 'a@example.com', '["u@example.org"]', '[]', '[]', '[]', 's', '[]', ?, ?, ?)`,
			).bind(ids[i], tenantId, e.sent ?? null, e.at, e.at),
			...(e.events ?? []).map((ev, j) =>
				env.DB.prepare(
					"INSERT INTO email_events (email_id, key, tenant_id, type, at, detail, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				).bind(ids[i], `o:${j}`, tenantId, ev.type, ev.at, ev.detail ? JSON.stringify(ev.detail) : null, ev.at),
			),
		]),
	);
	return ids;
}

/** Four emails on two days: delivered and opened twice by one, a hard and a soft bounce, a complaint, a suppressed failure. */
async function seeded() {
	const t = await seedTenant();
	const h = 3_600_000;
	await seedEmails(t.tenantId, [
		{
			at: DAY + h,
			sent: DAY + h,
			events: [
				{ type: "delivered", at: DAY + 2 * h },
				{ type: "opened", at: DAY + 3 * h },
				{ type: "opened", at: DAY + 4 * h },
				{ type: "clicked", at: DAY + 4 * h },
			],
		},
		{ at: DAY + h, sent: DAY + h, events: [{ type: "bounced", at: DAY + 2 * h, detail: { bounce_type: "hard" } }] },
		{
			at: DAY + 25 * h,
			sent: DAY + 25 * h,
			events: [
				{ type: "bounced", at: DAY + 26 * h, detail: { bounce_type: "soft" } },
				{ type: "delivered", at: DAY + 27 * h },
				{ type: "complained", at: DAY + 28 * h },
			],
		},
		{ at: DAY + 25 * h, events: [{ type: "failed", at: DAY + 25 * h, detail: { reason: "suppressed recipient: x@example.org" } }] },
	]);
	return t;
}

const get = (key: string, query: string) => call<Metrics>("GET", `/emails/metrics?${query}`, { key });

describe("GET /emails/metrics", () => {
	it("totals every metric over the range in Resend's shape", async () => {
		const t = await seeded();
		const res = await get(t.key, "start_date=2026-03-02&end_date=2026-03-03");
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({
			object: "metrics",
			start_date: "2026-03-02T00:00:00.000Z",
			end_date: "2026-03-04T00:00:00.000Z",
			dimensions: [],
			granularity: "daily",
		});
		expect(res.body.data).toBeUndefined();
		expect(res.body.metrics).toHaveLength(23);
		expect(res.body.totals).toEqual({
			received: 0,
			delivered: 2,
			complained: 1,
			suppressed: 1,
			bounced: 2,
			bounced_transient: 1,
			bounced_permanent: 1,
			bounced_undetermined: 0,
			opened: 2,
			clicked: 1,
			unsubscribed: 0,
			delivery_delayed: 0,
			failed: 0,
			sent: 3,
			unique_opened: 1,
			unique_clicked: 1,
			unique_human_opened: 1,
			delivery_rate: 66.67,
			open_rate: 50,
			click_rate: 50,
			bounce_rate: 66.67,
			complaint_rate: 50,
			unsubscribe_rate: 0,
		});
	});

	it("breaks the chosen metrics down per day, empty days included", async () => {
		const t = await seeded();
		const res = await get(t.key, "start_date=2026-03-01&end_date=2026-03-03&dimensions=period&metrics=sent,delivered&metrics=opened");
		expect(res.body.metrics).toEqual(["sent", "delivered", "opened"]);
		expect(res.body.totals).toEqual({ sent: 3, delivered: 2, opened: 2 });
		expect(res.body.data).toEqual([
			{ period: "2026-03-01T00:00:00.000Z", sent: 0, delivered: 0, opened: 0 },
			{ period: "2026-03-02T00:00:00.000Z", sent: 2, delivered: 1, opened: 2 },
			{ period: "2026-03-03T00:00:00.000Z", sent: 1, delivered: 1, opened: 0 },
		]);
	});

	it.each([
		[
			"hourly",
			"start_date=2026-03-02T01:00:00Z&end_date=2026-03-02T03:00:00Z",
			["2026-03-02T01:00:00.000Z", "2026-03-02T02:00:00.000Z"],
			[2, 0],
		],
		["weekly", "start_date=2026-03-01&end_date=2026-03-03", ["2026-02-23T00:00:00.000Z", "2026-03-02T00:00:00.000Z"], [0, 3]],
		["monthly", "start_date=2026-02-15&end_date=2026-03-03", ["2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"], [0, 3]],
	])("buckets %s periods in UTC (weeks start on Monday)", async (granularity, range, periods, sent) => {
		const t = await seeded();
		const res = await get(t.key, `${range}&dimensions=period&granularity=${granularity}&metrics=sent`);
		expect(res.body.data?.map((row) => row.period)).toEqual(periods);
		expect(res.body.data?.map((row) => row.sent)).toEqual(sent);
	});

	it("counts only the listed emails with email_id", async () => {
		const t = await seeded();
		const events = await env.DB.prepare("SELECT email_id FROM email_events WHERE tenant_id = ? AND type = 'complained'")
			.bind(t.tenantId)
			.first<string>("email_id");
		const res = await get(t.key, `start_date=2026-03-02&end_date=2026-03-03&metrics=sent,complained&email_id=${events}`);
		expect(res.body.totals).toEqual({ sent: 1, complained: 1 });
	});

	it("counts only the tenant's own events", async () => {
		await seeded();
		const other = await seedTenant();
		const res = await get(other.key, "start_date=2026-03-02&end_date=2026-03-03&metrics=sent");
		expect(res.body.totals).toEqual({ sent: 0 });
	});

	it("defaults to the last seven days up to now", async () => {
		const t = await seedTenant();
		const before = Date.now();
		const res = await get(t.key, "");
		const end = Date.parse(res.body.end_date);
		expect(end).toBeGreaterThanOrEqual(before);
		expect(end - Date.parse(res.body.start_date)).toBe(6 * 86_400_000);
	});

	it.each([
		["a time zone other than UTC", "timezone=America/New_York", "is not offered: periods are in UTC"],
		["the domain dimension", "dimensions=domain", "The domain dimension is not offered"],
		["a broadcast filter", `broadcast_id=${"0".repeat(8)}-0000-4000-8000-000000000000`, "no broadcasts"],
		["a domain filter", `domain_id=${"0".repeat(8)}-0000-4000-8000-000000000000`, "domain_id is not offered"],
		["a start after the end", "start_date=2026-03-05&end_date=2026-03-01", "on or before"],
		["an email_id that is no id", "email_id=nope", "is not an email id"],
		["too many hourly periods", "start_date=2024-01-01&end_date=2026-01-01&dimensions=period&granularity=hourly", "more than 10000"],
	])("refuses %s with 422", async (_label, query, message) => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("GET", `/emails/metrics?${query}`, { key: t.key });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_parameter");
		expect(res.body.message).toContain(message);
	});

	it("refuses an unknown metric with 422", async () => {
		const t = await seedTenant();
		expect((await call<ErrorBody>("GET", "/emails/metrics?metrics=sent,hugs", { key: t.key })).status).toBe(422);
	});
});
