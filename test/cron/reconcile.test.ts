import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { RECONCILE_LIMIT, reconcile } from "../../src/cron/reconcile";
import { providerFactory } from "../../src/providers/registry";
import { SandboxProvider } from "../../src/providers/sandbox/client";
import { limiterPacer, unlimitedPacer } from "../../src/services/pacing";
import { seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { markSent } from "../helpers/provider-webhooks";
import { consume, depsWith, emailRow, eventTypes, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const LONG_AGO = 20 * 60_000;
const SETTINGS = {
	PROVIDERS: "resend,postmark",
	RESEND_API_KEY: "re",
	RESEND_BASE_URL: "https://resend.test",
	POSTMARK_SERVER_TOKEN: "pm",
	POSTMARK_BASE_URL: "https://postmark.test",
};

function envWith(settings: Record<string, string>): Env {
	return Object.assign(Object.create(null), env, settings) as Env;
}

function deps(settings: Record<string, string> = SETTINGS) {
	return { providers: providerFactory(envWith(settings)), pacer: unlimitedPacer };
}

async function sentLongAgo(provider: string, providerMessageId: string, overrides: Record<string, unknown> = {}) {
	const t = await seedTenant();
	const id = await seedEmail(t, overrides);
	await markSent(id, provider, providerMessageId);
	await env.DB.prepare("UPDATE emails SET sent_at = ?, updated_at = ? WHERE id = ?")
		.bind(Date.now() - LONG_AGO, Date.now() - LONG_AGO, id)
		.run();
	return { t, id };
}

async function uncertainAt(provider: string) {
	const t = await seedTenant();
	const id = await seedEmail(t);
	await env.DB.prepare("UPDATE emails SET status = 'uncertain', provider = ?, updated_at = ? WHERE id = ?")
		.bind(provider, Date.now() - LONG_AGO, id)
		.run();
	return { t, id };
}

/** Postmark's search and details endpoints for one message, or none. */
function fakePostmark(message: { id: string; emailId: string } | null) {
	const urls: string[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = new URL(String(input instanceof Request ? input.url : input));
		urls.push(url.pathname + url.search);
		if (url.host === "postmark.test" && url.pathname === "/messages/outbound") {
			return json(200, {
				TotalCount: message ? 1 : 0,
				Messages: message ? [{ MessageID: message.id, Metadata: { mailroom_id: message.emailId } }] : [],
			});
		}
		if (url.host === "postmark.test" && message && url.pathname === `/messages/outbound/${message.id}/details`) {
			return json(200, {
				MessageID: message.id,
				Status: "Sent",
				Recipients: ["user@example.org"],
				MessageEvents: [{ Recipient: "user@example.org", Type: "Delivered", ReceivedAt: new Date().toISOString(), Details: {} }],
			});
		}
		if (url.host === "postmark.test" && url.pathname === "/email") return json(200, { MessageID: "pm-new", ErrorCode: 0, Message: "OK" });
		return json(200, { TotalCount: 0, Opens: [], Clicks: [] });
	});
	return urls;
}

describe("reconcile (every five minutes)", () => {
	it("records the delivery of a sandbox email whose outcome never arrived, through the real cron", async () => {
		const { id } = await sentLongAgo("sandbox", "");
		await env.DB.prepare("UPDATE emails SET provider_message_id = 'sandbox_' || id WHERE id = ?").bind(id).run();
		await runCron("*/5 * * * *", Date.now());
		expect((await emailRow(id)).status).toBe("delivered");
		expect(await eventTypes(id)).toContain("delivered");
	});

	it("asks Resend about a sent email without a final event and records what it says, once", async () => {
		const { id } = await sentLongAgo("resend", "re_123");
		const lookups = vi.spyOn(globalThis, "fetch").mockResolvedValue(
			json(200, {
				object: "email",
				id: "re_123",
				to: ["user@example.org"],
				last_event: "delivered",
				created_at: new Date().toISOString(),
			}),
		);
		const counts = await reconcile(envWith(SETTINGS), Date.now(), deps());
		expect(counts).toMatchObject({ looked_up: 1, updated: 1 });
		expect(String(lookups.mock.calls[0]?.[0])).toBe("https://resend.test/emails/re_123");
		expect((await emailRow(id)).status).toBe("delivered");
		const again = await reconcile(envWith(SETTINGS), Date.now(), deps());
		expect(again.looked_up).toBe(0);
		expect((await eventTypes(id)).filter((e) => e === "delivered")).toHaveLength(1);
	});

	it("finds an uncertain Postmark send by our id and records it as sent", async () => {
		const { id } = await uncertainAt("postmark");
		const urls = fakePostmark({ id: "pm-77", emailId: id });
		await reconcile(envWith(SETTINGS), Date.now(), deps());
		expect(urls[0]).toContain(`metadata_mailroom_id=${id}`);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", provider_message_id: "pm-77" });
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivered"]);
	});

	it("sends an uncertain email again, once, when the provider twice has no trace of it", async () => {
		const { t, id } = await uncertainAt("postmark");
		fakePostmark(null);
		const requeued = vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const first = await reconcile(envWith(SETTINGS), Date.now(), deps());
		expect(first).toMatchObject({ not_found: 1, requeued: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "uncertain" });
		expect(await eventTypes(id)).toContain("not_found_at_provider");
		const counts = await reconcile(envWith(SETTINGS), Date.now() + 5 * 60_000, deps());
		expect(counts).toMatchObject({ not_found: 1, requeued: 1 });
		expect(await emailRow(id)).toMatchObject({ status: "queued" });
		expect(requeued.mock.calls.flatMap((c) => (c[0] as { body: { id: string } }[]).map((m) => m.body.id))).toEqual([id]);
		const sends = fakePostmark(null);
		await consume(t, [id], depsWith({ ...SETTINGS, PROVIDERS: "postmark" }));
		await consume(t, [id], depsWith({ ...SETTINGS, PROVIDERS: "postmark" }));
		expect(sends.filter((u) => u === "/email")).toHaveLength(1);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("leaves sent emails at providers without a lookup out, so they never crowd out ones it can ask about", async () => {
		const t = await seedTenant();
		for (let i = 0; i < RECONCILE_LIMIT + 5; i++) await seedEmail(t, { to: `smtp${i}@example.org` });
		await env.DB.prepare(
			"UPDATE emails SET status = 'sent', provider = 'smtp', provider_message_id = NULL, sent_at = ?, updated_at = ? WHERE tenant_id = ?",
		)
			.bind(Date.now() - LONG_AGO - 1000, Date.now() - LONG_AGO - 1000, t.tenantId)
			.run();
		const { id } = await sentLongAgo("sandbox", "sandbox_lookup_me");
		const counts = await reconcile(envWith({}), Date.now(), { providers: providerFactory(envWith({})), pacer: unlimitedPacer });
		expect(counts).toMatchObject({ candidates: 1, looked_up: 1, skipped_no_lookup: 0 });
		expect((await emailRow(id)).status).toBe("delivered");
	});

	it("skips an uncertain email whose provider has no lookup, and counts it", async () => {
		await uncertainAt("sandbox");
		const noLookup = new SandboxProvider();
		const counts = await reconcile(envWith({}), Date.now(), {
			providers: () => ({ name: "sandbox", supportsIdempotency: true, send: noLookup.send.bind(noLookup) }),
			pacer: unlimitedPacer,
		});
		expect(counts.skipped_no_lookup).toBeGreaterThan(0);
		expect(counts.looked_up).toBe(0);
	});

	it("paces lookups through the provider's bucket", async () => {
		for (let i = 0; i < 3; i++) await sentLongAgo("resend", `re_paced_${i}`);
		vi.spyOn(globalThis, "fetch").mockResolvedValue(
			json(200, { object: "email", id: "x", last_event: "sent", created_at: new Date().toISOString() }),
		);
		const slow = { ...SETTINGS, PROVIDER_RATES: JSON.stringify({ resend: { per_second: 0.001, burst: 1 } }) };
		const counts = await reconcile(envWith(slow), Date.now(), {
			providers: providerFactory(envWith(slow)),
			pacer: limiterPacer(env.RATE_LIMITER, getConfig(envWith(slow))),
		});
		expect(counts.looked_up).toBe(1);
		expect(counts.paced).toBeGreaterThanOrEqual(2);
	});

	it("handles more candidates than one statement can bind", async () => {
		const t = await seedTenant();
		const ids: string[] = [];
		for (let i = 0; i < 95; i++) ids.push(await seedEmail(t, { to: `u${i}@example.org` }));
		await env.DB.prepare(
			"UPDATE emails SET status = 'sent', provider = 'sandbox', provider_message_id = 'sandbox_' || id, sent_at = ?, updated_at = ? WHERE tenant_id = ?",
		)
			.bind(Date.now() - LONG_AGO, Date.now() - LONG_AGO, t.tenantId)
			.run();
		const counts = await reconcile(envWith({}), Date.now(), { providers: providerFactory(envWith({})), pacer: unlimitedPacer });
		expect(counts.looked_up).toBeGreaterThanOrEqual(95);
		expect((await emailRow(ids[94] ?? "")).status).toBe("delivered");
	});
});
