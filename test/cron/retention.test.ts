import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, email, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { consume, depsWith, emailRow, seedEmail } from "../helpers/send";
import { publishedTemplate } from "../helpers/templates";

const DAY = 86_400_000;

/** A time after every id made so far and before every one made next (UUIDv7 ids carry their millisecond). */
async function afterNow(): Promise<number> {
	const start = Date.now();
	while (Date.now() <= start) await new Promise((resolve) => setTimeout(resolve, 1));
	const boundary = Date.now();
	while (Date.now() <= boundary) await new Promise((resolve) => setTimeout(resolve, 1));
	return boundary;
}

describe("retention (daily)", () => {
	it("removes old bodies, attachment bytes, events and expired idempotency keys, keeping the email rows", async () => {
		const t = await seedTenant();
		const old = await seedEmail(t, { html: "<p>old</p>", attachments: [{ filename: "a.txt", content: btoa("old bytes") }] });
		const pending = await seedEmail(t, { html: "<p>pending</p>" });
		const boundary = await afterNow();
		const recent = await seedEmail(t, { html: "<p>recent</p>" });
		await consume(t, [old, recent], depsWith());
		// An opened event: a row of its own, unlike those the email row holds (queued, sent, delivered).
		await env.DB.prepare(
			"INSERT INTO email_events (email_id, key, tenant_id, type, at, provider, recorded_at) VALUES (?, 'sandbox:open', ?, 'opened', ?, 'sandbox', ?)",
		)
			.bind(old, t.tenantId, Date.now(), Date.now())
			.run();
		await call("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "old-key" } });
		await env.DB.prepare("UPDATE idempotency_keys SET expires_at = ? WHERE key = 'old-key'")
			.bind(Date.now() - 1)
			.run();
		expect(await env.ATTACHMENTS.head(`${old}/0`)).not.toBeNull();

		// RETENTION_DAYS (30) after `boundary`: `old` and `pending` were accepted before it, `recent` after.
		await runCron("0 3 * * *", boundary + 30 * DAY);

		expect(await emailRow(old)).toMatchObject({ status: "delivered", html: null, text_body: null, attachments: null });
		expect(await env.ATTACHMENTS.head(`${old}/0`)).toBeNull();
		const events = await call<{ data: { type: string; detail: unknown }[] }>("GET", `/emails/${old}/events`, { key: t.key });
		expect(events.body.data.map((e) => e.type)).toEqual(["queued", "sent", "delivered"]);
		expect(events.body.data.at(-1)?.detail).toBeNull();
		expect((await emailRow(recent)).html).toBe("<p>recent</p>");
		// Still on its way: kept, and purged by the first run after it ends.
		expect((await emailRow(pending)).html).toBe("<p>pending</p>");
		await consume(t, [pending], depsWith());
		await runCron("0 3 * * *", boundary + 30 * DAY + 1);
		expect((await emailRow(pending)).html).toBeNull();
		const keys = await env.DB.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE key = 'old-key'").first<number>("n");
		expect(keys).toBe(0);
		expect((await call("GET", `/emails/${old}`, { key: t.key })).status).toBe(200);
	});

	it("forgets an old templated email's variables with its body", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, { alias: "hi", html: "<p>Hi {{NAME}}</p>" });
		const id = await seedEmail(t, { text: undefined, template: { id: "hi", variables: { NAME: "Ada" } } });
		await consume(t, [id], depsWith());
		expect((await emailRow(id)).template_variables).toBe('{"NAME":"Ada"}');

		await runCron("0 3 * * *", (await afterNow()) + 30 * DAY);

		expect(await emailRow(id)).toMatchObject({ html: null, text_body: null, template_variables: null });
	});

	it("purges expired webhook replay keys and keeps the ones still in their window", async () => {
		const now = Date.now();
		await env.DB.batch([
			env.DB.prepare("INSERT INTO webhook_nonces (provider, nonce, expires_at) VALUES ('mailgun', 'expired-token', ?)").bind(now - 1),
			env.DB.prepare("INSERT INTO webhook_nonces (provider, nonce, expires_at) VALUES ('ses', 'live-message', ?)").bind(now + DAY),
		]);

		await runCron("0 3 * * *", now);

		const left = await env.DB.prepare("SELECT nonce FROM webhook_nonces WHERE nonce IN ('expired-token', 'live-message')").all<{
			nonce: string;
		}>();
		expect(left.results.map((r) => r.nonce)).toEqual(["live-message"]);
	});
});
