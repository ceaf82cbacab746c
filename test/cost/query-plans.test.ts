/**
 * Every statement the hot paths and the crons send to D1, asked for its query plan: none may walk the `emails` or
 * `email_events` tables (or an index of every email) row by row. Each read has the index it needs
 * (docs/architecture.md, "Cost", lists the plans). Statements are recorded at the D1 binding while the real code runs.
 * The hot paths include the tracking endpoints: every open and click of a tracked email reads and writes D1.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { handleScheduled } from "../../src/cron";
import { consumeSendBatch, sendConsumerDeps } from "../../src/queue/send";
import { unlimitedPacer } from "../../src/services/pacing";
import { MATCHED_BY_PROVIDER_ID } from "../../src/services/provider-inbound";
import { signToken } from "../../src/tracking/token";
import { email, seedTenant } from "../helpers/api";
import { resendWebhook } from "../helpers/provider-webhooks";
import { json } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const app = createApp();
const RESEND = { RESEND_API_KEY: "re_test", RESEND_BASE_URL: "https://resend.test", PROVIDERS: "resend" };

/** SQL text → the parameters it was last bound with. */
const recorded = new Map<string, unknown[]>();

function recordingD1(db: D1Database): D1Database {
	return new Proxy(db, {
		get(target, property) {
			if (property === "prepare") {
				return (query: string) => {
					const statement = target.prepare(query);
					recorded.set(query, []);
					return new Proxy(statement, {
						get(inner, p) {
							if (p === "bind") {
								return (...args: unknown[]) => {
									recorded.set(query, args);
									return inner.bind(...args);
								};
							}
							const value = Reflect.get(inner, p, inner);
							return typeof value === "function" ? value.bind(inner) : value;
						},
					});
				};
			}
			const value = Reflect.get(target, property, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

const recordingEnv = Object.assign(Object.create(null), env, RESEND, { DB: recordingD1(env.DB) }) as Env;

async function fetchApp(path: string, init: RequestInit = {}): Promise<Response> {
	const ctx = createExecutionContext();
	const res = await app.fetch(new Request(`http://mailroom.test${path}`, init), recordingEnv, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

async function cron(expression: string, at: number): Promise<void> {
	const ctx = createExecutionContext();
	await handleScheduled(createScheduledController({ scheduledTime: new Date(at), cron: expression }), recordingEnv, ctx);
	await waitOnExecutionContext(ctx);
}

describe("query plans", () => {
	it("send, consume, webhook, reads and crons never scan the email tables", async () => {
		const t = await seedTenant();
		const auth = { authorization: `Bearer ${t.key}`, "content-type": "application/json" };
		vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const sent = await fetchApp("/emails", { method: "POST", headers: auth, body: JSON.stringify(email(t)) });
		const { id } = (await sent.json()) as { id: string };
		await fetchApp("/emails/batch", {
			method: "POST",
			headers: auth,
			body: JSON.stringify([email(t), email(t, { scheduled_at: "in 2 days" })]),
		});
		const idempotent = { ...auth, "idempotency-key": "plans" };
		await fetchApp("/emails", { method: "POST", headers: idempotent, body: JSON.stringify(email(t)) });
		await fetchApp("/emails", { method: "POST", headers: idempotent, body: JSON.stringify(email(t)) });

		vi.spyOn(globalThis, "fetch").mockResolvedValue(json(200, { id: "re_plans" }));
		const batch = createMessageBatch("mailroom-send", [
			{ id: "m1", timestamp: new Date(), attempts: 1, body: { v: 1, id, tenantId: t.tenantId } },
		]);
		await consumeSendBatch(batch, { ...sendConsumerDeps(recordingEnv), pacer: unlimitedPacer });
		vi.restoreAllMocks();
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const hook = resendWebhook({
			type: "email.delivered",
			created_at: new Date().toISOString(),
			data: { email_id: "re_plans", to: ["user@example.org"], tags: { mailroom_id: id } },
		});
		await fetchApp("/provider-webhooks/resend", { method: "POST", headers: hook.headers, body: hook.rawBody });
		// Tracking hits record after answering (waitUntil, which fetchApp waits for); no TRACKING_SECRET: ADMIN_TOKEN signs.
		await fetchApp(`/t/o/${await signToken(env.ADMIN_TOKEN, { kind: "open", emailId: id })}`);
		await fetchApp(`/t/c/${await signToken(env.ADMIN_TOKEN, { kind: "click", emailId: id, linkIndex: 0, url: "https://example.org/" })}`);

		for (const path of [`/emails/${id}`, `/emails/${id}/events`, "/emails?limit=10", "/emails?status=failed", "/stats", "/usage"]) {
			await fetchApp(path, { headers: auth });
		}
		const day = new Date().toISOString().slice(0, 10);
		await fetchApp(`/analytics?from=${day}T00:00:00Z&to=${day}T23:00:00Z&group_by=hour`, { headers: auth });
		await fetchApp(`/emails/metrics?start_date=${day}&end_date=${day}&dimensions=period`, { headers: auth });
		await fetchApp("/metrics", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
		await cron("* * * * *", Date.now());
		await cron("*/5 * * * *", Date.now() + 2 * 3_600_000);
		await cron("0 3 * * *", Date.now() + 31 * 86_400_000);

		const plans: string[] = [];
		const scans: string[] = [];
		for (const [query, params] of recorded) {
			if (!/\b(emails|email_events)\b/.test(query)) continue;
			const rows = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`)
				.bind(...params)
				.all<{ detail: string }>();
			const details = rows.results.map((r) => r.detail);
			plans.push(`${query.replace(/\s+/g, " ").slice(0, 160)}\n    ${details.join("\n    ")}`);
			// `e` and `x` are the tables' aliases in the analytics query; its CTEs (c, every, ev) are bounded already.
			for (const d of details) if (/^SCAN (emails|email_events|e|x)\b/.test(d) && !/emails_open/.test(d)) scans.push(`${d} ← ${query}`);
		}
		console.log(plans.join("\n"));
		expect(scans).toEqual([]);
	});
});

describe("the schema the cost rests on", () => {
	it("keeps emails, email_events and the cron tables WITHOUT ROWID (drizzle-kit cannot say so: a regenerated table would lose it)", async () => {
		const { results } = await env.DB.prepare(
			"SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('emails', 'email_events', 'cron_cursors', 'retention_waiting')",
		).all<{ name: string; sql: string }>();
		expect(results.map((r) => r.name).sort()).toEqual(["cron_cursors", "email_events", "emails", "retention_waiting"]);
		for (const table of results) expect(table.sql, table.name).toMatch(/WITHOUT ROWID\s*$/);
	});

	it("indexes emails three ways, and by provider message id exactly the providers matched by it", async () => {
		const { results } = await env.DB.prepare(
			"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'emails' AND sql IS NOT NULL",
		).all<{
			name: string;
			sql: string;
		}>();
		expect(results.map((r) => r.name).sort()).toEqual(["emails_cloudflare_message", "emails_open", "emails_tenant_id"]);
		const byMessage = results.find((r) => r.name === "emails_cloudflare_message")?.sql ?? "";
		const named = [...byMessage.matchAll(/provider = '([a-z]+)'/g)].map((m) => m[1]);
		expect(named).toEqual([...MATCHED_BY_PROVIDER_ID]);
	});
});
