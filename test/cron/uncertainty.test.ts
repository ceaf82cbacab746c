/**
 * Bounded uncertainty: the reconciler looks at `uncertain` emails first, counts "not found" within the current
 * episode only, gives up visibly when an email cannot be resolved, and never records a second `sent`.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { reconcile } from "../../src/cron/reconcile";
import { providerFactory } from "../../src/providers/registry";
import { unlimitedPacer } from "../../src/services/pacing";
import { call, seedTenant } from "../helpers/api";
import { consume, depsWith, emailRow, eventTypes, json, seedEmail, timeline } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const MINUTE = 60_000;
const SETTINGS = {
	PROVIDERS: "postmark",
	POSTMARK_SERVER_TOKEN: "pm",
	POSTMARK_BASE_URL: "https://postmark.test",
	RESEND_API_KEY: "re",
	RESEND_BASE_URL: "https://resend.test",
};

const envWith = (settings: Record<string, string>) => Object.assign(Object.create(null), env, settings) as Env;
const deps = () => ({ providers: providerFactory(envWith(SETTINGS)), pacer: unlimitedPacer });

/** Postmark's outbound search finding nothing, or `found` with a delivered message; counts searches. */
function postmarkSearch(found: { id: string; emailId: string } | null) {
	const searches: string[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = new URL(String(input instanceof Request ? input.url : input));
		if (url.pathname === "/messages/outbound") {
			searches.push(url.searchParams.get("metadata_mailroom_id") ?? "");
			return json(200, { TotalCount: found ? 1 : 0, Messages: found ? [{ MessageID: found.id }] : [] });
		}
		if (found && url.pathname === `/messages/outbound/${found.id}/details`) {
			return json(200, {
				MessageID: found.id,
				Status: "Sent",
				ReceivedAt: new Date().toISOString(),
				MessageEvents: [{ Recipient: "user@example.org", Type: "Delivered", ReceivedAt: new Date().toISOString(), Details: {} }],
			});
		}
		return json(200, { TotalCount: 0, Bounces: [] });
	});
	return searches;
}

async function uncertainSince(provider: string, since: number) {
	const t = await seedTenant();
	const id = await seedEmail(t);
	await env.DB.prepare(
		"UPDATE emails SET status = 'uncertain', last_event = 'uncertain', provider = ?, uncertain_since = ?, updated_at = ? WHERE id = ?",
	)
		.bind(provider, since, since, id)
		.run();
	return { t, id };
}

describe("reconcile: uncertain episodes", () => {
	it("needs two not-found answers in the current episode: one from an earlier episode does not count", async () => {
		const now = Date.now();
		const { id } = await uncertainSince("postmark", now - 10 * MINUTE);
		// A not-found answer from the email's first uncertain episode, an hour ago.
		await env.DB.prepare(
			"INSERT INTO email_events (email_id, key, tenant_id, type, at, provider, recorded_at) SELECT id, 'o:earlier', tenant_id, 'not_found_at_provider', ?, 'postmark', ? FROM emails WHERE id = ?",
		)
			.bind(now - 60 * MINUTE, now - 60 * MINUTE, id)
			.run();
		postmarkSearch(null);
		const first = await reconcile(envWith(SETTINGS), now, deps());
		expect(first).toMatchObject({ not_found: 1, requeued: 0 });
		expect((await emailRow(id)).status).toBe("uncertain");
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const second = await reconcile(envWith(SETTINGS), now + 5 * MINUTE, deps());
		expect(second).toMatchObject({ not_found: 1, requeued: 1 });
		expect(await emailRow(id)).toMatchObject({ status: "queued", pinned_provider: null, uncertain_since: null });
	});

	it("looks up uncertain emails ahead of a full page of sent ones", async () => {
		const now = Date.now();
		const t = await seedTenant();
		const template = await seedEmail(t);
		// 120 sent emails without a final event, more than one run's limit.
		await env.DB.prepare(
			`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
			 INSERT INTO emails (id, tenant_id, status, last_event, from_address, to_addresses, cc_addresses, bcc_addresses, reply_to, recipients,
			   subject, tags, provider, provider_message_id, sent_at, created_at, updated_at)
			 SELECT printf('00000000-0000-7000-8000-%012d', i), tenant_id, 'sent', 'sent', from_address, to_addresses, cc_addresses, bcc_addresses,
			   reply_to, recipients, subject, tags, 'postmark', printf('pm-%d', i), ?, created_at, ? FROM n, emails WHERE emails.id = ?`,
		)
			.bind(now - 60 * MINUTE, now - 60 * MINUTE, template)
			.run();
		// Created after them, so a shared limit in row order would never reach it.
		await uncertainSince("postmark", now - 10 * MINUTE);
		const searches = postmarkSearch(null);
		const counts = await reconcile(envWith(SETTINGS), now, deps());
		// Reconcile runs over every tenant: these rows must not reach the next tests' runs.
		await env.DB.prepare("DELETE FROM emails WHERE id LIKE '00000000-0000-7000-8000-%'").run();
		expect(counts.uncertain).toBe(1);
		expect(searches).toHaveLength(1);
	});

	it("ends an email still unresolved a day into its episode as failed, with a dead letter and a tenant webhook", async () => {
		const now = Date.now();
		const { t, id } = await uncertainSince("resend", now - 25 * 60 * MINUTE);
		await call("POST", "/webhooks", { key: t.key, body: { endpoint: "https://hooks.example.org/x", events: ["email.failed"] } });
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const counts = await reconcile(envWith(SETTINGS), now, deps());
		expect(counts.unresolved).toBe(1);
		const row = await emailRow(id);
		expect(row).toMatchObject({ status: "failed", last_event: "failed" });
		expect(String(row.last_error)).toContain("unresolved_at_provider");
		const letters = await call<{ data: { email_id: string; reason: string }[] }>("GET", "/dead-letters", { key: t.key });
		expect(letters.body.data).toEqual([expect.objectContaining({ email_id: id, reason: "unresolved_at_provider" })]);
		const deliveries = await env.DB.prepare("SELECT event_type FROM webhook_deliveries WHERE email_id = ?")
			.bind(id)
			.all<{ event_type: string }>();
		expect(deliveries.results.map((d) => d.event_type)).toEqual(["email.failed"]);
	});

	it("keeps an email whose lookups keep failing uncertain until that time, then ends it", async () => {
		const now = Date.now();
		const { id } = await uncertainSince("postmark", now - 2 * MINUTE);
		vi.spyOn(globalThis, "fetch").mockResolvedValue(json(500, { ErrorCode: 0, Message: "down" }));
		expect(await reconcile(envWith(SETTINGS), now, deps())).toMatchObject({ errors: 1, unresolved: 0 });
		expect((await emailRow(id)).status).toBe("uncertain");
		await reconcile(envWith(SETTINGS), now + 24 * 60 * MINUTE, deps());
		expect(await emailRow(id)).toMatchObject({ status: "failed", last_event: "failed" });
	});
});

describe("reconcile: one sent per email", () => {
	it("records what a lookup found about a sent email without a second sent event or email.sent webhook", async () => {
		const t = await seedTenant({ providers: ["postmark"] });
		await call("POST", "/webhooks", {
			key: t.key,
			body: { endpoint: "https://hooks.example.org/x", events: ["email.sent", "email.delivered"] },
		});
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const id = await seedEmail(t);
		vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(json(200, { MessageID: "pm-9", ErrorCode: 0, Message: "OK" }));
		await consume(t, [id], depsWith(SETTINGS));
		await env.DB.prepare("UPDATE emails SET sent_at = ? WHERE id = ?")
			.bind(Date.now() - 20 * MINUTE, id)
			.run();
		vi.restoreAllMocks();
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		postmarkSearch({ id: "pm-9", emailId: id });
		await reconcile(envWith(SETTINGS), Date.now(), deps());
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivered"]);
		const deliveries = await env.DB.prepare("SELECT event_type FROM webhook_deliveries WHERE email_id = ? ORDER BY created_at")
			.bind(id)
			.all<{ event_type: string }>();
		expect(deliveries.results.map((d) => d.event_type)).toEqual(["email.sent", "email.delivered"]);
	});
});

describe("the sandbox's simulated events", () => {
	it("are dated after the sent event they follow", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "complained@example.org" });
		await consume(t, [id], depsWith());
		const results = await timeline(id);
		expect(results.map((e) => e.type)).toEqual(["queued", "sent", "delivered", "complained"]);
		for (let i = 1; i < results.length; i++) expect(results[i]?.at).toBeGreaterThan(results[i - 1]?.at ?? Number.POSITIVE_INFINITY);
	});
});

describe("GET /stats: resting sent emails", () => {
	it("counts sent emails without a final event for more than a day", async () => {
		const t = await seedTenant();
		const old = await seedEmail(t);
		const recent = await seedEmail(t);
		await env.DB.prepare("UPDATE emails SET status = 'sent', sent_at = ? WHERE id = ?")
			.bind(Date.now() - 2 * 86_400_000, old)
			.run();
		await env.DB.prepare("UPDATE emails SET status = 'sent', sent_at = ? WHERE id = ?").bind(Date.now(), recent).run();
		const stats = await call<{ sent_without_final_event_over_1d: number }>("GET", "/stats", { key: t.key });
		expect(stats.body.sent_without_final_event_over_1d).toBe(1);
	});
});
