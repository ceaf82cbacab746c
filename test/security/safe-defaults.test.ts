/** Issue "Safe by default": each hole, reproduced as it was found, and its fix. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildMime, parameterValue } from "../../src/lib/mime";
import { call, counts, email, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { markSent, postWebhook, resendWebhook } from "../helpers/provider-webhooks";
import { outboundEmail } from "../helpers/providers";
import { consume, depsWith, emailRow, eventTypes, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const DAY = 86_400_000;
type ErrorBody = { statusCode: number; name: string; message: string };

const bounced = (emailId: string, resendId: string, createdAt = new Date()) => ({
	type: "email.bounced",
	created_at: createdAt.toISOString(),
	data: { email_id: resendId, to: ["gone@example.org"], tags: { mailroom_id: emailId }, bounce: { type: "Permanent" } },
});

async function suppressed(key: string, address: string): Promise<boolean> {
	const res = await call<{ data: { email: string }[] }>("GET", "/suppressions", { key });
	return res.body.data.some((s) => s.email === address);
}

describe("provider webhooks", () => {
	it("does not re-add a suppression the tenant removed when the same bounce webhook is delivered again", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "gone@example.org" });
		const resendId = `re_${crypto.randomUUID()}`;
		await markSent(id, "resend", resendId);
		const request = resendWebhook(bounced(id, resendId));
		expect((await postWebhook("resend", request)).status).toBe(200);
		expect(await suppressed(t.key, "gone@example.org")).toBe(true);
		expect((await call("DELETE", "/suppressions/gone@example.org", { key: t.key })).status).toBe(200);

		expect((await postWebhook("resend", request)).status).toBe(200);
		expect(await suppressed(t.key, "gone@example.org")).toBe(false);
	});

	it("stamps the email's updated_at with our clock, so an event dated 40 days ago cannot make retention purge it", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "gone@example.org", html: "<p>keep me</p>" });
		const resendId = `re_${crypto.randomUUID()}`;
		await markSent(id, "resend", resendId);
		const before = Date.now();
		await postWebhook("resend", resendWebhook(bounced(id, resendId, new Date(Date.now() - 40 * DAY)), { at: new Date() }));
		const row = await emailRow(id);
		expect(row.status).toBe("bounced");
		expect(Number(row.updated_at)).toBeGreaterThanOrEqual(before);
		await runCron("0 3 * * *", Date.now());
		expect((await emailRow(id)).html).toBe("<p>keep me</p>");
	});
});

describe("retention and dead letters", () => {
	async function deadLettered() {
		const t = await seedTenant();
		const id = await seedEmail(t, { html: "<p>important</p>" });
		const deps = depsWith({ PROVIDERS: "resend", RESEND_API_KEY: "re", RESEND_BASE_URL: "https://resend.test", MAX_ATTEMPTS: "1" });
		vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response(JSON.stringify({ name: "service_unavailable" }), { status: 503 }));
		await consume(t, [id], deps);
		vi.restoreAllMocks();
		expect((await emailRow(id)).status).toBe("failed");
		const letters = await call<{ data: { id: string }[] }>("GET", "/dead-letters", { key: t.key });
		const letter = letters.body.data[0];
		if (!letter) throw new Error("no dead letter");
		return { t, id, letterId: letter.id };
	}

	it("keeps the body of an email with an unreplayed dead letter until the dead letter expires", async () => {
		const { id } = await deadLettered();
		// A retention period (30 days) after the email was accepted, its dead letter only a day old: kept.
		const later = Date.now() + 31 * DAY;
		await env.DB.prepare("UPDATE dead_letters SET created_at = ? WHERE email_id = ?")
			.bind(later - DAY, id)
			.run();
		await runCron("0 3 * * *", later);
		expect((await emailRow(id)).html).toBe("<p>important</p>");
		// Once the dead letter has expired too, the next run purges both.
		await runCron("0 3 * * *", later + 30 * DAY);
		expect((await emailRow(id)).html).toBeNull();
		const left = await env.DB.prepare("SELECT count(*) AS n FROM dead_letters WHERE email_id = ?").bind(id).first<number>("n");
		expect(left).toBe(0);
	});

	it("refuses to replay a dead letter whose email's body was purged, with 409 invalid_state, sending nothing", async () => {
		const { t, id, letterId } = await deadLettered();
		await env.DB.prepare("UPDATE emails SET html = NULL, text_body = NULL WHERE id = ?").bind(id).run();
		const send = vi.spyOn(env.SEND_QUEUE, "send");
		const res = await call<ErrorBody>("POST", `/dead-letters/${letterId}/replay`, { key: t.key });
		expect(res.status).toBe(409);
		expect(res.body).toMatchObject({ name: "invalid_state", message: expect.stringContaining("purged") });
		expect(send).not.toHaveBeenCalled();
		expect((await emailRow(id)).status).toBe("failed");
	});

	it("keeps the events of an email that has not ended, however old they are", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await env.DB.batch([
			env.DB.prepare("UPDATE emails SET status = 'uncertain', updated_at = ? WHERE id = ?").bind(Date.now(), id),
			env.DB.prepare(
				"INSERT INTO email_events (email_id, key, tenant_id, type, at, provider, recorded_at) VALUES (?, 'o:u', ?, 'uncertain', ?, 'resend', ?)",
			).bind(id, t.tenantId, Date.now(), Date.now()),
		]);
		await runCron("0 3 * * *", Date.now() + 40 * DAY);
		expect(await eventTypes(id)).toEqual(["queued", "uncertain"]);
		expect((await emailRow(id)).text_body).toBe("Hi there");
	});
});

describe("quotas and the RateLimiter", () => {
	it("answers 503 service_unavailable with retry-after when the RateLimiter is unavailable, writing nothing", async () => {
		const t = await seedTenant();
		vi.spyOn(env.RATE_LIMITER, "getByName").mockImplementation(() => {
			throw new Error("Durable Object unavailable");
		});
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t) });
		expect(res.status).toBe(503);
		expect(res.headers.get("retry-after")).toBe("5");
		expect(res.body).toMatchObject({ statusCode: 503, name: "service_unavailable" });
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("charges a permissive batch's quota only for the emails it accepted", async () => {
		const t = await seedTenant({ daily_quota: 3 });
		const batch = [email(t), { ...email(t), to: "not an address" }, email(t)];
		const res = await call<{ data: unknown[]; errors: unknown[] }>("POST", "/emails/batch", {
			key: t.key,
			body: batch,
			headers: { "x-batch-validation": "permissive" },
		});
		expect(res.body.data).toHaveLength(2);
		// The rejected item's unit was given back: one more email fits today.
		await vi.waitFor(async () => expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200));
		expect((await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t) })).body.name).toBe("daily_quota_exceeded");
	});
});

describe("MIME headers and parameters", () => {
	it("encodes a file name that tries to add a parameter of its own", () => {
		const evil = "report.pdf\"; filename*=UTF-8''evil.exe";
		const raw = buildMime(
			outboundEmail({
				attachments: [{ filename: evil, contentType: "application/pdf", content: btoa("%PDF"), contentId: null }],
				html: null,
			}),
			{ date: new Date(0), messageId: "<x@mailroom>" },
		);
		expect(raw).not.toContain("evil.exe");
		expect(raw).toContain(`filename="${parameterValue(evil)}"`);
		expect(parameterValue(evil)).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
	});

	it("encodes a non-ASCII file name and keeps a plain one as it is", () => {
		expect(parameterValue("résumé.pdf")).toBe(`=?UTF-8?B?${btoa(String.fromCharCode(...new TextEncoder().encode("résumé.pdf")))}?=`);
		expect(parameterValue("report 2026.pdf")).toBe("report 2026.pdf");
	});

	it.each([
		["a NUL in the subject", { subject: "Hi\u0000there" }],
		["a tab in the subject", { subject: "Hi\tthere" }],
		["a line separator in the subject", { subject: "Hi\u2028Bcc: x@example.org" }],
		["a paragraph separator in a header value", { headers: { "X-Note": "a\u2029b" } }],
		["a C1 control in a display name", { to: "Ann\u0085 <ann@example.org>" }],
		["a DEL in a file name", { attachments: [{ filename: "a\u007f.pdf", content: btoa("x") }] }],
		[
			"a parameter in a content type",
			{ attachments: [{ filename: "a.pdf", content: btoa("x"), content_type: 'application/pdf; name="x.exe"' }] },
		],
	])("refuses %s at accept with a 422, writing nothing", async (_what, overrides) => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, overrides) });
		expect(res.status).toBe(422);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});
});

describe("GET /emails/:id/raw", () => {
	it("shows a path attachment by its URL and never downloads it", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { attachments: [{ path: "https://files.example.org/big.pdf", content_type: "application/pdf" }] });
		const fetcher = vi.spyOn(globalThis, "fetch");
		const res = await call<string>("GET", `/emails/${id}/raw`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body).toContain('Content-Type: message/external-body; access-type=URL; URL="https://files.example.org/big.pdf"');
		expect(fetcher).not.toHaveBeenCalled();
	});
});
