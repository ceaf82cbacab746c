/**
 * `GET /analytics?from&to&group_by=hour|day&tag&template_id`: of the emails accepted in each time bucket, how many
 * reached each status (and were opened, clicked), counted by cohort through the `(tenant_id, id)` index
 * (src/services/event-counts.ts, shared with `/emails/metrics`), and `unique_human_opens`: how many of them a person
 * opened, machine opens (Apple Mail Privacy Protection, scanners) left out. Every bucket of the range is present,
 * empty ones with zeros, so charts need no gap filling.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { ApiError } from "../errors";
import { iso } from "../lib/time";
import { requireFullAccess } from "../middleware/auth";
import { cohortEvents, UNIQUE_HUMAN_OPENS } from "../services/event-counts";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const analyticsRoutes = createRouter();

const COUNTED = [
	"queued",
	"scheduled",
	"sent",
	"delivery_delayed",
	"delivered",
	"bounced",
	"complained",
	"opened",
	"clicked",
	"failed",
	"canceled",
] as const;
const BUCKET_MS = { hour: 3_600_000, day: 86_400_000 } as const;
/** At most a month of hours or a year of days per request. */
const MAX_BUCKETS = 744;

const Query = z.object({
	from: z.iso.datetime({ offset: true }).openapi({ description: "ISO 8601 start (inclusive)" }),
	to: z.iso.datetime({ offset: true }).openapi({ description: "ISO 8601 end (exclusive)" }),
	group_by: z.enum(["hour", "day"]).default("day"),
	tag: z.string().max(513).optional().openapi({ description: "`name` or `name:value`" }),
	template_id: z.string().max(255).optional(),
});

const Analytics = z
	.object({
		object: z.literal("analytics"),
		group_by: z.enum(["hour", "day"]),
		from: z.string(),
		to: z.string(),
		data: z.array(z.object({ start: z.string(), counts: z.record(z.string(), z.number().int()) })),
	})
	.openapi("Analytics");

analyticsRoutes.openapi(
	createRoute({
		method: "get",
		path: "/analytics",
		summary: "Counts per status per hour or day",
		tags: ["Stats"],
		middleware: [requireFullAccess] as const,
		request: { query: Query },
		responses: { 200: jsonResponse(Analytics, "Buckets of counts"), ...commonErrors },
	}),
	async (c) => {
		const q = c.req.valid("query");
		const size = BUCKET_MS[q.group_by];
		const from = Math.floor(Date.parse(q.from) / size) * size;
		const to = Date.parse(q.to);
		if (!(to > from)) throw new ApiError("invalid_parameter", "`to` must be after `from`");
		const buckets = Math.ceil((to - from) / size);
		if (buckets > MAX_BUCKETS)
			throw new ApiError("invalid_parameter", `At most ${MAX_BUCKETS} buckets per request; use group_by=day or a shorter range`);

		const events = cohortEvents(c.get("auth").tenant.id, from, to, { types: COUNTED, tag: q.tag, templateId: q.template_id });
		// D1 binds numbers as floats: the cast keeps this an integer division, one value per bucket.
		const rows = await getDb(c.env.DB).all<{ bucket: number; type: string; n: number; human: number }>(
			sql`${events} SELECT CAST(at / ${size} AS INTEGER) * ${size} AS bucket, type, count(*) AS n, ${UNIQUE_HUMAN_OPENS} AS human FROM ev GROUP BY bucket, type`,
		);

		const data = Array.from({ length: buckets }, (_, i) => ({
			start: iso(from + i * size),
			counts: Object.fromEntries([...COUNTED, "unique_human_opens"].map((s) => [s, 0])) as Record<string, number>,
		}));
		for (const row of rows) {
			const slot = data[Math.floor((Number(row.bucket) - from) / size)];
			if (!slot) continue;
			slot.counts[row.type] = (slot.counts[row.type] ?? 0) + row.n;
			slot.counts.unique_human_opens = (slot.counts.unique_human_opens ?? 0) + row.human;
		}
		return c.json({ object: "analytics" as const, group_by: q.group_by, from: iso(from), to: iso(to), data }, 200);
	},
);
