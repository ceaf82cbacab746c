/**
 * `GET /emails/metrics` in Resend's shape, counted from the same events as `/analytics` (src/services/event-counts.ts):
 * by cohort, each email's events in the period the email was accepted.
 *
 * Counts: `sent`, `delivered`, `delivery_delayed`, `complained`, `opened`, `clicked` are events of those types;
 * `bounced` every bounce, split into `bounced_permanent` (hard), `bounced_transient` (soft) and `bounced_undetermined`
 * (the provider did not say); `suppressed` emails failed because a recipient was on the suppression list, `failed`
 * every other failure; `unique_opened`/`unique_clicked` emails opened/clicked at least once, and `unique_human_opened`
 * (Mailroom extension) emails a person opened, machine opens left out (src/services/event-counts.ts). Rates are
 * percentages: `delivery_rate` and `bounce_rate` of sent, `open_rate`, `click_rate` (unique) and `complaint_rate` of
 * delivered.
 * Mailroom receives no email and has no unsubscribe handling: `received`, `unsubscribed`, `unsubscribe_rate` are 0.
 * Periods are in UTC (`timezone` must be UTC); weeks start on Monday. Of the dimensions only `period` is offered, and
 * of the filters `email_id`: `domain`/`domain_id` and `email` are answered 422, `broadcast`/`broadcast_id` too (no
 * broadcasts here).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { ApiError } from "../errors";
import { isUuid } from "../lib/ids";
import { iso } from "../lib/time";
import { requireFullAccess } from "../middleware/auth";
import { cohortEvents, UNIQUE_HUMAN_OPENS } from "../services/event-counts";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const emailMetricsRoutes = createRouter();

const METRICS = [
	"received",
	"delivered",
	"complained",
	"suppressed",
	"bounced",
	"bounced_transient",
	"bounced_permanent",
	"bounced_undetermined",
	"opened",
	"clicked",
	"unsubscribed",
	"delivery_delayed",
	"failed",
	"sent",
	"unique_opened",
	"unique_clicked",
	"unique_human_opened",
	"delivery_rate",
	"open_rate",
	"click_rate",
	"bounce_rate",
	"complaint_rate",
	"unsubscribe_rate",
] as const;
type Metric = (typeof METRICS)[number];
const GRANULARITIES = ["hourly", "daily", "weekly", "monthly"] as const;
type Granularity = (typeof GRANULARITIES)[number];
const DIMENSIONS = ["period", "domain", "email", "broadcast"] as const;
const MAX_PERIODS = 10_000;
const DAY_MS = 86_400_000;

/** A list parameter: comma-separated, repeated, or both (Resend's rule). */
const listOf = <T extends z.ZodType>(item: T) =>
	z.preprocess(
		(v) =>
			(Array.isArray(v) ? v : v === undefined ? [] : [v])
				.flatMap((s) => String(s).split(","))
				.map((s) => s.trim())
				.filter((s) => s.length > 0),
		z.array(item).max(100),
	);

const DateParam = z
	.string()
	.regex(
		/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i,
		"Use an ISO 8601 date or date-time with a zone",
	)
	.optional();

const Query = z.object({
	start_date: DateParam.openapi({ description: "Default: 6 days before end_date" }),
	end_date: DateParam.openapi({ description: "Default: now; a later time is clamped to now; a date alone means its whole day" }),
	timezone: z.string().max(64).default("UTC").openapi({ description: "Only UTC" }),
	granularity: z.enum(GRANULARITIES).default("daily"),
	metrics: listOf(z.enum(METRICS)).openapi({ type: "string", description: "Comma-separated; default all" }),
	dimensions: listOf(z.enum(DIMENSIONS)).openapi({ type: "string", description: "Only `period` is offered" }),
	domain_id: listOf(z.string()).openapi({ type: "string", description: "Not offered (422)" }),
	email_id: listOf(z.string()).openapi({ type: "string", description: "Comma-separated email ids, up to 100" }),
	broadcast_id: listOf(z.string()).openapi({ type: "string", description: "Not offered (422): Mailroom has no broadcasts" }),
});

const Metrics = z
	.object({
		object: z.literal("metrics"),
		start_date: z.string(),
		end_date: z.string(),
		metrics: z.array(z.enum(METRICS)),
		dimensions: z.array(z.string()),
		granularity: z.enum(GRANULARITIES),
		totals: z.record(z.string(), z.number()),
		data: z.array(z.record(z.string(), z.union([z.string(), z.number()]))).optional(),
	})
	.openapi("GetEmailsMetricsResponse");

function parseDate(text: string, endOfDay: boolean): number {
	if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return Date.parse(`${text}T00:00:00Z`) + (endOfDay ? DAY_MS : 0);
	return Date.parse(text.replace(" ", "T"));
}

/** The SQL period key of an event and the start (epoch ms) of the period a key names. */
const PERIODS: Record<Granularity, { key: SQL<number>; start: (key: number) => number; next: (start: number) => number }> = {
	hourly: { key: sql<number>`CAST(at / 3600000 AS INTEGER)`, start: (k) => k * 3_600_000, next: (s) => s + 3_600_000 },
	daily: { key: sql<number>`CAST(at / 86400000 AS INTEGER)`, start: (k) => k * DAY_MS, next: (s) => s + DAY_MS },
	// Day 0 (1970-01-01) was a Thursday: +3 makes weeks start on Monday.
	weekly: {
		key: sql<number>`CAST((CAST(at / 86400000 AS INTEGER) + 3) / 7 AS INTEGER)`,
		start: (k) => (k * 7 - 3) * DAY_MS,
		next: (s) => s + 7 * DAY_MS,
	},
	monthly: {
		key: sql<number>`CAST(strftime('%Y', at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', at / 1000, 'unixepoch') AS INTEGER) - 1`,
		start: (k) => Date.UTC(Math.floor(k / 12), k % 12, 1),
		next: (s) => {
			const d = new Date(s);
			return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
		},
	},
};

/** Which metric an event counts for: bounces by type, failures caused by a suppressed recipient apart. */
const KIND = sql<string>`CASE
	WHEN type = 'bounced' THEN 'bounced_' || CASE json_extract(detail, '$.bounce_type') WHEN 'hard' THEN 'permanent' WHEN 'soft' THEN 'transient' ELSE 'undetermined' END
	WHEN type = 'failed' AND json_extract(detail, '$.reason') LIKE 'suppressed recipient%' THEN 'suppressed'
	ELSE type END`;

const COUNTED_TYPES = ["sent", "delivered", "delivery_delayed", "bounced", "complained", "opened", "clicked", "failed"];

/** Per kind: its events, the emails they are of, and (for `opened`) the emails a person opened. */
type Counts = { n: number; unique: number; human: number };
type KindCounts = Map<string, Counts>;

const percent = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100);

function metricValues(kinds: KindCounts): Record<Metric, number> {
	const n = (kind: string) => kinds.get(kind)?.n ?? 0;
	const bounced = n("bounced_permanent") + n("bounced_transient") + n("bounced_undetermined");
	const uniqueOpened = kinds.get("opened")?.unique ?? 0;
	const uniqueClicked = kinds.get("clicked")?.unique ?? 0;
	return {
		received: 0,
		delivered: n("delivered"),
		complained: n("complained"),
		suppressed: n("suppressed"),
		bounced,
		bounced_transient: n("bounced_transient"),
		bounced_permanent: n("bounced_permanent"),
		bounced_undetermined: n("bounced_undetermined"),
		opened: n("opened"),
		clicked: n("clicked"),
		unsubscribed: 0,
		delivery_delayed: n("delivery_delayed"),
		failed: n("failed"),
		sent: n("sent"),
		unique_opened: uniqueOpened,
		unique_clicked: uniqueClicked,
		unique_human_opened: kinds.get("opened")?.human ?? 0,
		delivery_rate: percent(n("delivered"), n("sent")),
		open_rate: percent(uniqueOpened, n("delivered")),
		click_rate: percent(uniqueClicked, n("delivered")),
		bounce_rate: percent(bounced, n("sent")),
		complaint_rate: percent(n("complained"), n("delivered")),
		unsubscribe_rate: 0,
	};
}

const pick = (values: Record<Metric, number>, metrics: readonly Metric[]) => Object.fromEntries(metrics.map((m) => [m, values[m]]));

emailMetricsRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails/metrics",
		summary: "Delivery and engagement metrics over a date range, in total or per period",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { query: Query },
		responses: { 200: jsonResponse(Metrics, "The metrics"), ...commonErrors },
	}),
	async (c) => {
		const q = c.req.valid("query");
		if (!["utc", "etc/utc", "z"].includes(q.timezone.toLowerCase())) {
			throw new ApiError("invalid_parameter", `timezone ${JSON.stringify(q.timezone)} is not offered: periods are in UTC`);
		}
		for (const dimension of q.dimensions) {
			if (dimension !== "period") throw new ApiError("invalid_parameter", `The ${dimension} dimension is not offered; use period`);
		}
		if (q.domain_id.length > 0) throw new ApiError("invalid_parameter", "domain_id is not offered; filter by email_id");
		if (q.broadcast_id.length > 0) throw new ApiError("invalid_parameter", "broadcast_id is not offered: Mailroom has no broadcasts");
		const badId = q.email_id.find((id) => !isUuid(id));
		if (badId !== undefined) throw new ApiError("invalid_parameter", `email_id ${JSON.stringify(badId)} is not an email id`);

		const now = Date.now();
		const end = Math.min(now, q.end_date !== undefined ? parseDate(q.end_date, true) : now);
		const start = q.start_date !== undefined ? parseDate(q.start_date, false) : end - 6 * DAY_MS;
		if (!Number.isFinite(start) || !Number.isFinite(end))
			throw new ApiError("invalid_parameter", "start_date and end_date must be valid dates");
		if (start > end) throw new ApiError("invalid_parameter", "start_date must be on or before end_date");
		const byPeriod = q.dimensions.includes("period");
		const period = PERIODS[q.granularity];
		const starts: number[] = [];
		if (byPeriod) {
			for (let s = period.start(firstKey(start, q.granularity)); s < end || starts.length === 0; s = period.next(s)) {
				starts.push(s);
				if (starts.length > MAX_PERIODS) {
					throw new ApiError(
						"invalid_parameter",
						`The range has more than ${MAX_PERIODS} ${q.granularity} periods; narrow it or use a larger granularity`,
					);
				}
			}
		}

		const db = getDb(c.env.DB);
		const events = cohortEvents(c.get("auth").tenant.id, start, end, {
			types: COUNTED_TYPES,
			...(q.email_id.length > 0 ? { emailIds: q.email_id } : {}),
		});
		type Row = { key: number; kind: string } & Counts;
		const counts = sql`count(*) AS n, count(DISTINCT email_id) AS "unique", ${UNIQUE_HUMAN_OPENS} AS human`;
		const periodRows = await db.all<Row>(
			sql`${events} SELECT ${byPeriod ? period.key : sql`0`} AS key, ${KIND} AS kind, ${counts} FROM ev GROUP BY 1, 2`,
		);
		// Unique counts do not add up across periods: the totals are counted over the whole range.
		const totalRows = byPeriod
			? await db.all<Row>(sql`${events} SELECT 0 AS key, ${KIND} AS kind, ${counts} FROM ev GROUP BY 2`)
			: periodRows;

		const metrics: Metric[] = q.metrics.length > 0 ? [...new Set(q.metrics)] : [...METRICS];
		const totals: KindCounts = new Map(totalRows.map((r) => [r.kind, { n: r.n, unique: r.unique, human: r.human }]));
		const perPeriod = new Map<number, KindCounts>();
		for (const row of periodRows) {
			const startOfPeriod = period.start(Number(row.key));
			const kinds = perPeriod.get(startOfPeriod) ?? new Map();
			kinds.set(row.kind, { n: row.n, unique: row.unique, human: row.human });
			perPeriod.set(startOfPeriod, kinds);
		}
		return c.json(
			{
				object: "metrics" as const,
				start_date: iso(start),
				end_date: iso(end),
				metrics,
				dimensions: q.dimensions,
				granularity: q.granularity,
				totals: pick(metricValues(totals), metrics),
				...(byPeriod
					? { data: starts.map((s) => ({ period: iso(s), ...pick(metricValues(perPeriod.get(s) ?? new Map()), metrics) })) }
					: {}),
			},
			200,
		);
	},
);

/** The key of the period that contains `at` (the same arithmetic as the SQL keys). */
function firstKey(at: number, granularity: Granularity): number {
	const day = Math.floor(at / DAY_MS);
	switch (granularity) {
		case "hourly":
			return Math.floor(at / 3_600_000);
		case "daily":
			return day;
		case "weekly":
			return Math.floor((day + 3) / 7);
		case "monthly": {
			const d = new Date(at);
			return d.getUTCFullYear() * 12 + d.getUTCMonth();
		}
	}
}
