/** `GET /stats`: the tenant's sending at a glance: emails by status, what is waiting, provider health and error rates. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, gte, inArray, lt, min } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { EMAIL_STATUSES, emailEvents, emails } from "../db/schema";
import { requireFullAccess } from "../middleware/auth";
import { providerFactory, providerOrder } from "../providers/registry";
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
		/**
		 * `sent` (or `delivery_delayed`) for more than a day with no final event: a resting state, not a stuck one (the
		 * provider never reported back and lookups found nothing final). Counted so it is seen, not hidden.
		 */
		sent_without_final_event_over_1d: z.number().int(),
		providers: z.record(
			z.string(),
			z.object({
				circuit: z.enum(["closed", "open", "half_open"]),
				rate_per_second: z.number().nullable(),
				/** Failed attempts over all attempts at this provider in the last hour (null without attempts). */
				error_rate_1h: z.number().nullable(),
				attempts_1h: z.number().int(),
				/** Whether the reconciler can look emails up at this provider (else they are skipped). */
				reconcilable: z.boolean(),
			}),
		),
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
		const hourAgo = Date.now() - 3_600_000;
		const dayAgo = Date.now() - 86_400_000;
		const [byStatus, oldest, attempts, resting] = await db.batch([
			db.select({ status: emails.status, n: count() }).from(emails).where(eq(emails.tenantId, tenant.id)).groupBy(emails.status),
			db
				.select({ at: min(emails.createdAt) })
				.from(emails)
				.where(and(eq(emails.tenantId, tenant.id), inArray(emails.status, [...PENDING]))),
			db
				.select({ provider: emailEvents.provider, type: emailEvents.type, n: count() })
				.from(emailEvents)
				.where(
					and(
						eq(emailEvents.tenantId, tenant.id),
						gte(emailEvents.at, hourAgo),
						inArray(emailEvents.type, ["sent", "attempt_failed", "failed"]),
					),
				)
				.groupBy(emailEvents.provider, emailEvents.type),
			db
				.select({ n: count() })
				.from(emails)
				.where(and(eq(emails.tenantId, tenant.id), inArray(emails.status, ["sent", "delivery_delayed"]), lt(emails.sentAt, dayAgo))),
		]);
		const counts = Object.fromEntries(EMAIL_STATUSES.map((s) => [s, 0])) as Record<string, number>;
		for (const row of byStatus) counts[row.status] = row.n;
		const config = getConfig(c.env);
		const pacer = limiterPacer(c.env.RATE_LIMITER, config);
		const factory = providerFactory(c.env);
		const providers: Record<
			string,
			{
				circuit: "closed" | "open" | "half_open";
				rate_per_second: number | null;
				error_rate_1h: number | null;
				attempts_1h: number;
				reconcilable: boolean;
			}
		> = {};
		await Promise.all(
			providerOrder(config, tenant).map(async (name) => {
				const s = await pacer.status(name);
				const mine = attempts.filter((a) => a.provider === name);
				const failed = mine.filter((a) => a.type !== "sent").reduce((n, a) => n + a.n, 0);
				const total = mine.reduce((n, a) => n + a.n, 0);
				providers[name] = {
					circuit: s.circuit,
					rate_per_second: Number.isFinite(s.ratePerSecond) ? s.ratePerSecond : null,
					error_rate_1h: total === 0 ? null : Number((failed / total).toFixed(4)),
					attempts_1h: total,
					reconcilable: factory(name)?.lookup !== undefined,
				};
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
				sent_without_final_event_over_1d: resting[0]?.n ?? 0,
				providers,
			},
			200,
		);
	},
);
