import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createSendGridProvider } from "../../../src/providers/sendgrid/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, prism, sentRequest } from "../../helpers/providers";

const EMAIL = outboundEmail({
	id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f02",
	replyTo: ["support@acme.example.com", "Billing <billing@acme.example.com>"],
	tags: [
		{ name: "category", value: "receipt" },
		{ name: "plan", value: "pro" },
	],
});
const EMAIL_ID = EMAIL.id;

function fullEmail(overrides: Partial<OutboundEmail> = {}): OutboundEmail {
	return { ...EMAIL, ...overrides };
}

function minimalEmail(): OutboundEmail {
	return minimalOf(EMAIL);
}

function provider(options: { baseUrl?: string; timeoutMs?: number; fetch?: typeof fetch } = {}) {
	return createSendGridProvider({
		apiKey: "SG.test_key",
		baseUrl: options.baseUrl ?? "https://api.sendgrid.test",
		timeoutMs: options.timeoutMs ?? 5_000,
		fetch: options.fetch,
	});
}

function sendGridError(status: number, message: string, headers: Record<string, string> = {}) {
	return answer(status, { errors: [{ message, field: null, help: null }] }, headers);
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("SendGrid adapter against the Mail Send v3 OpenAPI spec (Prism)", () => {
	// The spec declares no X-Message-Id header, so Prism's 202 carries none and the adapter records our fallback id.
	it("sends a full email the spec accepts", async () => {
		const mock = prism("prismSendGridUrl");
		const outcome = await provider(mock).send(fullEmail(), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: `sendgrid:${EMAIL_ID}` }));
	});

	it("sends an email with a single reply-to the spec accepts", async () => {
		const mock = prism("prismSendGridUrl");
		const outcome = await provider(mock).send(fullEmail({ replyTo: ["support@acme.example.com"] }), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: `sendgrid:${EMAIL_ID}` }));
	});

	it("sends a minimal text-only email the spec accepts", async () => {
		const mock = prism("prismSendGridUrl");
		const outcome = await provider(mock).send(minimalEmail(), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: `sendgrid:${EMAIL_ID}` }));
	});

	// The spec defines a 400 example, so Prism answers with it and puts the validator's reason in sl-violations.
	it("harness: Prism rejects a request without from", async () => {
		const mock = prism("prismSendGridUrl");
		const response = await mock.fetch(`${mock.baseUrl}/v3/mail/send`, {
			method: "POST",
			headers: { Authorization: "Bearer SG.test_key", "Content-Type": "application/json" },
			body: JSON.stringify({
				personalizations: [{ to: [{ email: "ann@example.com" }] }],
				subject: "Hi",
				content: [{ type: "text/plain", value: "x" }],
			}),
		});
		expect(response.status).toBe(400);
		expect(mock.violations.join()).toContain("must have required property 'from'");
	});
});

describe("SendGrid request", () => {
	it("maps every field of the email to the Mail Send body", async () => {
		const spy = answer(202, null, { "X-Message-Id": "sg_1" });
		await provider().send(fullEmail(), CONTEXT);
		const request = sentRequest(spy);
		expect(request.url).toBe("https://api.sendgrid.test/v3/mail/send");
		expect(request.headers.get("authorization")).toBe("Bearer SG.test_key");
		expect(request.headers.get("content-type")).toBe("application/json");
		expect(request.body).toEqual({
			personalizations: [
				{
					to: [{ email: "ann@example.com", name: "Ann" }, { email: "bob@example.com" }],
					cc: [{ email: "carol@example.com" }],
					bcc: [{ email: "dave@example.com" }],
					custom_args: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
				},
			],
			from: { email: "hello@acme.example.com", name: "Acme" },
			reply_to_list: [{ email: "support@acme.example.com" }, { email: "billing@acme.example.com", name: "Billing" }],
			subject: "Your receipt",
			content: [
				{ type: "text/plain", value: "Thanks" },
				{ type: "text/html", value: '<p>Thanks</p><img src="cid:logo">' },
			],
			headers: { "X-Entity-Ref-ID": "order-42" },
			attachments: [
				{ content: btoa("%PDF-1.4 receipt"), filename: "receipt.pdf", type: "application/pdf", disposition: "attachment" },
				{ content: btoa("\x89PNG logo"), filename: "logo.png", type: "image/png", disposition: "inline", content_id: "logo" },
			],
			categories: ["receipt", "pro"],
		});
	});

	it("sends a single reply-to as reply_to", async () => {
		const spy = answer(202, null, { "X-Message-Id": "sg_1" });
		await provider().send(fullEmail({ replyTo: ["Support <support@acme.example.com>"] }), CONTEXT);
		const body = sentRequest(spy).body;
		expect(body).toMatchObject({ reply_to: { email: "support@acme.example.com", name: "Support" } });
		expect(body).not.toHaveProperty("reply_to_list");
	});

	it("leaves out empty optional fields", async () => {
		const spy = answer(202, null, { "X-Message-Id": "sg_1" });
		await provider().send(minimalEmail(), CONTEXT);
		expect(sentRequest(spy).body).toEqual({
			personalizations: [
				{
					to: [{ email: "ann@example.com", name: "Ann" }, { email: "bob@example.com" }],
					custom_args: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
				},
			],
			from: { email: "hello@acme.example.com", name: "Acme" },
			subject: "Your receipt",
			content: [{ type: "text/plain", value: "Thanks" }],
		});
	});

	it("sends our email and tenant ids as custom_args of the personalization", async () => {
		const spy = answer(202, null, { "X-Message-Id": "sg_1" });
		await provider().send(fullEmail(), CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({
			personalizations: [{ custom_args: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" } }],
		});
	});

	it("sends an address repeated across to, cc and bcc only once", async () => {
		const spy = answer(202, null, { "X-Message-Id": "sg_1" });
		await provider().send(
			fullEmail({ to: ["ann@example.com"], cc: ["ANN@example.com", "carol@example.com"], bcc: ["ann@example.com"] }),
			CONTEXT,
		);
		const [personalization] = (sentRequest(spy).body as { personalizations: unknown[] }).personalizations;
		expect(personalization).toEqual({
			to: [{ email: "ann@example.com" }],
			cc: [{ email: "carol@example.com" }],
			custom_args: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
		});
	});

	it("sends at most 10 distinct tag values as categories", async () => {
		const spy = answer(202, null, { "X-Message-Id": "sg_1" });
		const tags = Array.from({ length: 12 }, (_, i) => ({ name: `t${i}`, value: i < 2 ? "same" : `v${i}` }));
		await provider().send(fullEmail({ tags }), CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({ categories: ["same", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10"] });
	});
});

describe("SendGrid outcomes", () => {
	it("returns the X-Message-Id header on 202", async () => {
		answer(202, null, { "X-Message-Id": "W6A2PmKyR5uQ9l3fNvX0Bg" });
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: "W6A2PmKyR5uQ9l3fNvX0Bg" }));
	});

	it("treats a 202 without X-Message-Id as accepted under a sendgrid:-prefixed id of ours", async () => {
		answer(202, null);
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: `sendgrid:${EMAIL_ID}` }));
	});

	it("treats HTTP 503 as transient: the service refused the work", async () => {
		const status = 503;
		sendGridError(status, "internal error");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status } });
	});

	it.each([500, 502, 504])("treats HTTP %i as uncertain: a gateway may answer after the provider accepted", async (status) => {
		sendGridError(status, "internal error");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status } });
	});

	it("treats an unparseable 503 body as transient", async () => {
		answer(503, "<html>Service Unavailable</html>");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status: 503 } });
	});

	it("treats 429 with Retry-After as rate limited for that many seconds", async () => {
		sendGridError(429, "too many requests", { "Retry-After": "7" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "rate_limited", status: 429, retryAfterSeconds: 7 },
		});
	});

	it("treats 429 with X-RateLimit-Reset as rate limited until the reset time", async () => {
		const reset = Math.floor(Date.now() / 1000) + 30;
		sendGridError(429, "too many requests", { "X-RateLimit-Reset": String(reset) });
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429 } });
		const retry = outcome.ok || outcome.error.kind !== "rate_limited" ? undefined : outcome.error.retryAfterSeconds;
		expect(retry).toBeGreaterThanOrEqual(29);
		expect(retry).toBeLessThanOrEqual(31);
	});

	it("treats 429 without rate-limit headers as rate limited with no delay given", async () => {
		sendGridError(429, "too many requests");
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429 } });
		expect(outcome.ok ? undefined : outcome.error).not.toHaveProperty("retryAfterSeconds");
	});

	it.each([400, 422])("treats HTTP %i as a permanent error of this email carrying SendGrid's first message", async (status) => {
		answer(status, {
			errors: [
				{ message: "Does not contain a valid address.", field: "personalizations.0.to.0.email", help: null },
				{ message: "second problem", field: null },
			],
		});
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: {
				kind: "permanent",
				scope: "message",
				status,
				message: `HTTP ${status}: Does not contain a valid address. (personalizations.0.to.0.email)`,
			},
		});
	});

	it("treats 401 as a provider-level permanent error", async () => {
		sendGridError(401, "The provided authorization grant is invalid, expired, or revoked");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", status: 401 },
		});
	});

	it("treats an unparseable 400 body as a permanent error of this email", async () => {
		answer(400, "Bad Request");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", status: 400 },
		});
	});
});
