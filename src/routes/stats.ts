/** `GET /stats`: the tenant's sending at a glance: emails by status, what is waiting, and provider health. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, inArray, min } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { EMAIL_STATUSES, emails } from "../db/schema";
import { requireFullAccess } from "../middleware/auth";
import { providerOrder } from "../providers/registry";
import { limiterPacer } from "../services/pacing";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const statsRoutes = createRouter();

/** Statuses of emails still waiting for a provider (the "queue" as the tenant sees it). */
const PENDING = ["queued", "sending", "uncertain"] as const;

const Stats = z
	.object({
		object: z.literal("stats"),
		emails: z.record(z.string(), z.number().int()),
		pending: z.object({ count: z.number().int(), oldest_age_seconds: z.number().nullable() }),
		providers: z.record(z.string(), z.object({ circuit: z.enum(["closed", "open", "half_open"]), rate_per_second: z.number().nullable() })),
	})
	.openapi("Stats");

statsRoutes.openapi(
	createRoute({
		method: "get",
		path: "/stats",
		summary: "Counts by status, pending emails and their oldest age, provider circuits",
		tags: ["Stats"],
		middleware: [requireFullAccess] as const,
		responses: { 200: jsonResponse(Stats, "Current numbers"), ...commonErrors },
	}),
	async (c) => {
		const { tenant } = c.get("auth");
		const db = getDb(c.env.DB);
		const [byStatus, oldest] = await db.batch([
			db.select({ status: emails.status, n: count() }).from(emails).where(eq(emails.tenantId, tenant.id)).groupBy(emails.status),
			db
				.select({ at: min(emails.createdAt) })
				.from(emails)
				.where(and(eq(emails.tenantId, tenant.id), inArray(emails.status, [...PENDING]))),
		]);
		const counts = Object.fromEntries(EMAIL_STATUSES.map((s) => [s, 0])) as Record<string, number>;
		for (const row of byStatus) counts[row.status] = row.n;
		const config = getConfig(c.env);
		const pacer = limiterPacer(c.env.RATE_LIMITER, config);
		const providers: Record<string, { circuit: "closed" | "open" | "half_open"; rate_per_second: number | null }> = {};
		await Promise.all(
			providerOrder(config, tenant).map(async (name) => {
				const s = await pacer.status(name);
				providers[name] = { circuit: s.circuit, rate_per_second: Number.isFinite(s.ratePerSecond) ? s.ratePerSecond : null };
			}),
		);
		const oldestAt = oldest[0]?.at ?? null;
		return c.json(
			{
				object: "stats" as const,
				emails: counts,
				pending: {
					count: PENDING.reduce((sum, s) => sum + (counts[s] ?? 0), 0),
					oldest_age_seconds: oldestAt === null ? null : Math.round((Date.now() - oldestAt) / 1000),
				},
				providers,
			},
			200,
		);
	},
);
