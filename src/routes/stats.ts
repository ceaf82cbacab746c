/**
 * `GET /stats`: the tenant's sending at a glance: emails by status, what is waiting, and the tenant's own attempts and
 * error rates per provider. Shared figures (circuits, adaptive rates) reflect every tenant's traffic, so they are the
 * operator's: `/metrics` and `/health/ready` with the admin token.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, gte, inArray, isNotNull, sql } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { EMAIL_STATUSES, emailEvents, emails } from "../db/schema";
import { emailIdLowerBound } from "../lib/ids";
import { requireFullAccess } from "../middleware/auth";
import { providerFactory, providerOrder } from "../providers/registry";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const statsRoutes = createRouter();

/** Statuses of emails still waiting for a provider (the "queue" as the tenant sees it). */
const PENDING = ["queued", "sending", "uncertain"] as const;

const Stats = z
	.object({
		object: z.literal("stats"),
		/** The tenant's emails accepted in the last 24 hours, by their current status. */
		emails: z.record(z.string(), z.number().int()),
		/** Emails still waiting for a provider (queued, sending, uncertain), whenever accepted, and the oldest's age. */
		pending: z.object({ count: z.number().int(), oldest_age_seconds: z.number().nullable() }),
		/**
		 * `sent` (or `delivery_delayed`) for more than a day with no final event: a resting state, not a stuck one (the
		 * provider never reported back and lookups found nothing final). Counted so it is seen, not hidden.
		 */
		sent_without_final_event_over_1d: z.number().int(),
		providers: z.record(
			z.string(),
			z.object({
				/**
				 * Of the attempts at this provider for the tenant's emails accepted in the last hour, the share that failed
				 * (null without attempts).
				 */
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
		summary: "The last day's emails by status, what is pending and its oldest age, attempts per provider",
		tags: ["Stats"],
		middleware: [requireFullAccess] as const,
		responses: { 200: jsonResponse(Stats, "Current numbers"), ...commonErrors },
	}),
	async (c) => {
		const { tenant } = c.get("auth");
		const db = getDb(c.env.DB);
		const now = Date.now();
		const dayAgo = now - 86_400_000;
		// Every figure reads a bounded range through an index: the tenant's emails of the last day or hour
		// (`emails_tenant_id`, ids sort by creation time), or the tenant's part of the open set (`emails_open`).
		const lastDay = and(eq(emails.tenantId, tenant.id), gte(emails.id, emailIdLowerBound(dayAgo)));
		const lastHour = and(eq(emails.tenantId, tenant.id), gte(emails.id, emailIdLowerBound(now - 3_600_000)));
		const [[byStatus, attempts, failures], openByStatus] = await Promise.all([
			db.batch([
				db.select({ status: emails.status, n: count() }).from(emails).where(lastDay).groupBy(emails.status),
				db
					.select({ provider: emails.provider, n: count() })
					.from(emails)
					.where(and(lastHour, isNotNull(emails.sentAt)))
					.groupBy(emails.provider),
				db
					.select({ provider: emailEvents.provider, n: count() })
					.from(emails)
					.innerJoin(emailEvents, eq(emailEvents.emailId, emails.id))
					.where(and(lastHour, inArray(emailEvents.type, ["attempt_failed", "failed"])))
					.groupBy(emailEvents.provider),
			]),
			// INDEXED BY: with `tenant_id = ?` the planner would otherwise walk every email the tenant ever sent.
			db.all<{ status: string; n: number; oldest: number | null; resting: number | null }>(
				sql`SELECT status, count(*) AS n, min(created_at) AS oldest, SUM(CASE WHEN sent_at < ${dayAgo} THEN 1 ELSE 0 END) AS resting
					FROM emails INDEXED BY emails_open WHERE ended_at IS NULL AND tenant_id = ${tenant.id} GROUP BY status`,
			),
		]);
		const counts = Object.fromEntries(EMAIL_STATUSES.map((s) => [s, 0])) as Record<string, number>;
		for (const row of byStatus) counts[row.status] = row.n;
		const pendingRows = openByStatus.filter((r) => (PENDING as readonly string[]).includes(r.status));
		const oldestAt = pendingRows.reduce<number | null>((m, r) => (r.oldest !== null && (m === null || r.oldest < m) ? r.oldest : m), null);
		const resting = openByStatus
			.filter((r) => r.status === "sent" || r.status === "delivery_delayed")
			.reduce((n, r) => n + Number(r.resting ?? 0), 0);
		const config = getConfig(c.env);
		const factory = providerFactory(c.env);
		const providers: Record<string, { error_rate_1h: number | null; attempts_1h: number; reconcilable: boolean }> = {};
		for (const name of providerOrder(config, tenant)) {
			const sent = attempts.filter((a) => a.provider === name).reduce((n, a) => n + a.n, 0);
			const failed = failures.filter((a) => a.provider === name).reduce((n, a) => n + a.n, 0);
			const total = sent + failed;
			providers[name] = {
				error_rate_1h: total === 0 ? null : Number((failed / total).toFixed(4)),
				attempts_1h: total,
				reconcilable: factory(name)?.lookup !== undefined,
			};
		}
		return c.json(
			{
				object: "stats" as const,
				emails: counts,
				pending: {
					count: pendingRows.reduce((n, r) => n + r.n, 0),
					oldest_age_seconds: oldestAt === null ? null : Math.round((now - oldestAt) / 1000),
				},
				sent_without_final_event_over_1d: resting,
				providers,
			},
			200,
		);
	},
);
