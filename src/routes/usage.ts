/**
 * `GET /usage` in the `resend` SDK's shape (`resend.usage.get()`; Resend's OpenAPI document does not describe it yet):
 * today's emails against the daily quota, as the RateLimiter counts them (the counter that decides a 429), this
 * month's emails from D1 (ids are UUIDv7, so "created this month" is a range of the `(tenant_id, id)` index), the
 * tenant's domains and its request rate. Resources Mailroom does not offer (contacts, segments, broadcasts, AI
 * credits, automation runs) are reported with nothing used and a limit of 0 (null where Resend has none).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, gte } from "drizzle-orm";
import { getDb } from "../db/client";
import { domains as domainsTable, emails } from "../db/schema";
import { nextUtcMidnight } from "../durable-objects/rate-limiter";
import { emailIdLowerBound } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { iso } from "../lib/time";
import { requireFullAccess } from "../middleware/auth";
import { dailyQuotaKey, limiterUnavailable, tenantLimiterName } from "../middleware/rate-limit";
import { DOMAIN_LIMITS } from "../services/domains";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const usageRoutes = createRouter();

const Count = z.object({ used: z.number().int(), limit: z.number().int().nullable() });
const Rate = z.object({ per_second: z.number(), burst: z.number().int() });

const Usage = z
	.object({
		object: z.literal("usage"),
		emails: z.object({
			daily: Count.extend({ sent: z.number().int(), received: z.number().int(), resets_at: z.string() }),
			monthly: Count.extend({ sent: z.number().int(), received: z.number().int(), resets_at: z.string() }),
		}),
		contacts: Count,
		segments: Count,
		broadcasts: Count,
		ai_credits: Count.extend({ next_increase_at: z.string().nullable() }),
		automation_runs: Count.extend({ resets_at: z.string() }),
		domains: Count,
		rate_limit: z.object({ limit: z.number(), duration: z.string() }),
		api_rate: Rate.openapi({ description: "API requests per second and burst (Mailroom extension)" }),
		send_rate: Rate.openapi({ description: "Emails handed to providers per second and burst (Mailroom extension)" }),
	})
	.openapi("Usage");

const nextMonth = (now: Date) => Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);

usageRoutes.openapi(
	createRoute({
		method: "get",
		path: "/usage",
		summary: "Today's and this month's emails against the quota, domains and rate limits",
		tags: ["Stats"],
		middleware: [requireFullAccess] as const,
		responses: { 200: jsonResponse(Usage, "Usage"), ...commonErrors },
	}),
	async (c) => {
		const { tenant } = c.get("auth");
		const now = new Date();
		const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
		const db = getDb(c.env.DB);
		const dailyUsage = async () => {
			try {
				return await c.env.RATE_LIMITER.getByName(tenantLimiterName(tenant.id)).dailyUsage(dailyQuotaKey(tenant.id), tenant.dailyQuota);
			} catch (e) {
				log.error("rate_limiter_unavailable", { scope: "usage", tenantId: tenant.id, ...errorFields(e) });
				throw limiterUnavailable();
			}
		};
		const [today, [month, domainCount]] = await Promise.all([
			dailyUsage(),
			db.batch([
				db
					.select({ n: count() })
					.from(emails)
					.where(and(eq(emails.tenantId, tenant.id), gte(emails.id, emailIdLowerBound(monthStart)))),
				db.select({ n: count() }).from(domainsTable).where(eq(domainsTable.tenantId, tenant.id)),
			]),
		]);
		const monthly = month[0]?.n ?? 0;
		const domains = domainCount[0]?.n ?? 0;
		const monthResets = iso(nextMonth(now));
		return c.json(
			{
				object: "usage" as const,
				emails: {
					daily: {
						used: today.used,
						limit: tenant.dailyQuota,
						sent: today.used,
						received: 0,
						resets_at: iso(nextUtcMidnight(now.getTime())),
					},
					monthly: { used: monthly, limit: null, sent: monthly, received: 0, resets_at: monthResets },
				},
				contacts: { used: 0, limit: 0 },
				segments: { used: 0, limit: 0 },
				broadcasts: { used: 0, limit: null },
				ai_credits: { used: 0, limit: 0, next_increase_at: null },
				automation_runs: { used: 0, limit: 0, resets_at: monthResets },
				domains: { used: domains, limit: DOMAIN_LIMITS.perTenant },
				rate_limit: { limit: tenant.apiRate.per_second, duration: "1s" },
				api_rate: tenant.apiRate,
				send_rate: tenant.sendRate,
			},
			200,
		);
	},
);
