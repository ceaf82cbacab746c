import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, email, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { consume, depsWith, emailRow, seedEmail } from "../helpers/send";
import { publishedTemplate } from "../helpers/templates";

const DAY = 86_400_000;

describe("retention (daily)", () => {
	it("removes old bodies, attachment bytes, events and expired idempotency keys, keeping the email rows", async () => {
		const t = await seedTenant();
		const old = await seedEmail(t, { html: "<p>old</p>", attachments: [{ filename: "a.txt", content: btoa("old bytes") }] });
		const recent = await seedEmail(t, { html: "<p>recent</p>" });
		const pending = await seedEmail(t, { html: "<p>pending</p>" });
		await consume(t, [old, recent], depsWith());
		await call("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "old-key" } });
		const longAgo = Date.now() - 31 * DAY;
		await env.DB.batch([
			env.DB.prepare("UPDATE emails SET updated_at = ? WHERE id IN (?, ?)").bind(longAgo, old, pending),
			env.DB.prepare("UPDATE email_events SET at = ? WHERE email_id = ?").bind(longAgo, old),
			env.DB.prepare("UPDATE idempotency_keys SET expires_at = ? WHERE key = 'old-key'").bind(Date.now() - 1),
		]);
		expect(await env.ATTACHMENTS.head(`${old}/0`)).not.toBeNull();

		await runCron("0 3 * * *", Date.now());

		expect(await emailRow(old)).toMatchObject({ status: "delivered", html: null, text_body: null, attachments: null });
		expect(await env.ATTACHMENTS.head(`${old}/0`)).toBeNull();
		expect((await call<{ data: unknown[] }>("GET", `/emails/${old}/events`, { key: t.key })).body.data).toEqual([]);
		expect((await emailRow(recent)).html).toBe("<p>recent</p>");
		expect((await emailRow(pending)).html).toBe("<p>pending</p>");
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
		await env.DB.prepare("UPDATE emails SET updated_at = ? WHERE id = ?")
			.bind(Date.now() - 31 * DAY, id)
			.run();

		await runCron("0 3 * * *", Date.now());

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
