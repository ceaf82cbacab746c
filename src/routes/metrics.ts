/** `GET /metrics`: Prometheus text for the operator (admin token): the whole deployment's state, all tenants. */
import { count, inArray, isNull, min } from "drizzle-orm";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { inFlight } from "../db/emails";
import {
	deadLetters,
	emails,
	OPEN_STATUSES,
	tenants,
	unmatchedProviderEvents,
	WEBHOOK_DELIVERY_STATUSES,
	webhookDeliveries,
} from "../db/schema";
import { requireAdmin } from "../middleware/admin";
import { limiterPacer } from "../services/pacing";
import { createRouter } from "./router";

export const metricsRoutes = createRouter();

metricsRoutes.get("/metrics", requireAdmin, async (c) => {
	const db = getDb(c.env.DB);
	const now = Date.now();
	const [byStatus, deliveries, letters, unmatched, tenantCount, oldest] = await db.batch([
		// The open set only (its partial index): counting every email ever sent would scan the whole table per scrape.
		db.select({ status: emails.status, n: count() }).from(emails).where(inFlight()).groupBy(emails.status),
		db.select({ status: webhookDeliveries.status, n: count() }).from(webhookDeliveries).groupBy(webhookDeliveries.status),
		db.select({ n: count() }).from(deadLetters).where(isNull(deadLetters.replayedAt)),
		db.select({ n: count() }).from(unmatchedProviderEvents),
		db.select({ n: count() }).from(tenants),
		db
			.select({ at: min(emails.createdAt) })
			.from(emails)
			.where(inFlight(inArray(emails.status, ["queued", "sending", "uncertain"]))),
	]);
	const config = getConfig(c.env);
	const pacer = limiterPacer(c.env.RATE_LIMITER, config);
	const circuits = await Promise.all(config.providers.map(async (name) => ({ name, ...(await pacer.status(name)) })));

	const lines: string[] = [];
	const metric = (name: string, help: string, type: "gauge" | "counter", samples: [Record<string, string>, number][]) => {
		lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
		for (const [labels, value] of samples) {
			const l = Object.entries(labels)
				.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`)
				.join(",");
			lines.push(`${name}${l ? `{${l}}` : ""} ${value}`);
		}
	};
	const emailCounts = new Map(byStatus.map((r) => [r.status, r.n]));
	metric(
		"mailroom_open_emails",
		"Emails not yet ended (on their way, or sent and awaiting a final event), by status.",
		"gauge",
		OPEN_STATUSES.map((s) => [{ status: s }, emailCounts.get(s) ?? 0]),
	);
	const deliveryCounts = new Map(deliveries.map((r) => [r.status, r.n]));
	metric(
		"mailroom_webhook_deliveries",
		"Tenant webhook deliveries by status.",
		"gauge",
		WEBHOOK_DELIVERY_STATUSES.map((s) => [{ status: s }, deliveryCounts.get(s) ?? 0]),
	);
	metric("mailroom_dead_letters", "Dead letters not replayed.", "gauge", [[{}, letters[0]?.n ?? 0]]);
	metric("mailroom_unmatched_provider_events", "Verified provider events for unknown emails.", "gauge", [[{}, unmatched[0]?.n ?? 0]]);
	metric("mailroom_tenants", "Tenants.", "gauge", [[{}, tenantCount[0]?.n ?? 0]]);
	const oldestAt = oldest[0]?.at ?? null;
	metric("mailroom_pending_oldest_age_seconds", "Age of the oldest email still waiting for a provider.", "gauge", [
		[{}, oldestAt === null ? 0 : Math.round((now - oldestAt) / 1000)],
	]);
	metric(
		"mailroom_provider_circuit_open",
		"1 while the provider's circuit is open (0.5 half open).",
		"gauge",
		circuits.map((p) => [{ provider: p.name }, p.circuit === "open" ? 1 : p.circuit === "half_open" ? 0.5 : 0]),
	);
	metric(
		"mailroom_provider_rate_per_second",
		"The provider's current (adaptive) send rate.",
		"gauge",
		circuits.map((p) => [{ provider: p.name }, Number.isFinite(p.ratePerSecond) ? p.ratePerSecond : 0]),
	);
	return c.body(`${lines.join("\n")}\n`, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});
