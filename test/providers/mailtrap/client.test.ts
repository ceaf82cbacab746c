import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createMailtrapProvider } from "../../../src/providers/mailtrap/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, prism, sentRequest } from "../../helpers/providers";

const EMAIL = outboundEmail({
	id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f31",
	replyTo: ["Support <support@acme.example.com>", "billing@acme.example.com"],
	tags: [
		{ name: "category", value: "receipt" },
		{ name: "plan", value: "pro" },
	],
});
const EMAIL_ID = EMAIL.id;
const MESSAGE_ID = "0c7fd939-02cf-11ed-88c2-0a58a9feac02";
/** Prism answers with the spec's example. */
const SPEC_EXAMPLE_ID = "0c7fd939-02cf-11ed-88c2-0a58a9feac02";

function fullEmail(overrides: Partial<OutboundEmail> = {}): OutboundEmail {
	return { ...EMAIL, ...overrides };
}

function provider(options: { baseUrl?: string; fetch?: typeof fetch } = {}) {
	return createMailtrapProvider({
		apiToken: "mt-test-token",
		baseUrl: options.baseUrl ?? "https://send.mailtrap.test",
		accountBaseUrl: "https://mailtrap.test",
		timeoutMs: 5_000,
		fetch: options.fetch,
	});
}

function mailtrapErrors(status: number, ...errors: string[]) {
	return answer(status, { success: false, errors });
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Mailtrap adapter against the Mailtrap sending spec (Prism)", () => {
	it("sends a full HTML email the spec accepts", async () => {
		const mock = prism("prismMailtrapUrl");
		const outcome = await provider(mock).send(fullEmail({ text: null }), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: SPEC_EXAMPLE_ID }));
	});

	it("sends a full text email the spec accepts", async () => {
		const mock = prism("prismMailtrapUrl");
		const outcome = await provider(mock).send(fullEmail({ html: null }), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: SPEC_EXAMPLE_ID }));
	});

	it("sends a minimal text-only email the spec accepts", async () => {
		const mock = prism("prismMailtrapUrl");
		const outcome = await provider(mock).send(minimalOf(EMAIL), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: SPEC_EXAMPLE_ID }));
	});

	// The spec's request body is `oneOf` text-only, HTML-only, text-and-HTML and template schemas that do not
	// exclude one another, so a body with both text and HTML matches three of them and fails `oneOf` (Mailtrap's
	// API documents and accepts it). The only violation Prism reports is that ambiguity: every field is valid.
	it("sends text and HTML together, which the spec rejects only because its oneOf branches overlap", async () => {
		const mock = prism("prismMailtrapUrl");
		const outcome = await provider(mock).send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", status: 400 } });
		expect(mock.violations.map((v) => JSON.parse(v))).toEqual([
			[{ location: ["request", "body"], severity: "Error", code: "oneOf", message: "Request body must match exactly one schema in oneOf" }],
		]);
	});

	it("harness: Prism rejects an email without from, with the spec's 400 body", async () => {
		const mock = prism("prismMailtrapUrl");
		const response = await mock.fetch(`${mock.baseUrl}/api/send`, {
			method: "POST",
			headers: { Authorization: "Bearer mt-test-token", "Content-Type": "application/json" },
			body: JSON.stringify({ to: [{ email: "ann@example.com" }], subject: "Hi", text: "x" }),
		});
		expect(response.status).toBe(400);
		expect(await response.json()).toMatchObject({ success: false });
		expect(mock.violations.join("\n")).toContain("must have required property 'from'");
	});
});

describe("Mailtrap request", () => {
	it("maps every field of the email to the Email Sending API body", async () => {
		const spy = answer(200, { success: true, message_ids: [MESSAGE_ID] });
		await provider().send(fullEmail(), CONTEXT);
		const request = sentRequest(spy);
		expect(request.url).toBe("https://send.mailtrap.test/api/send");
		expect(request.method).toBe("POST");
		expect(request.headers.get("authorization")).toBe("Bearer mt-test-token");
		expect(request.headers.get("content-type")).toBe("application/json");
		expect(request.headers.get("user-agent")).toBe("Mailroom/1");
		expect(request.body).toEqual({
			from: { email: "hello@acme.example.com", name: "Acme" },
			to: [{ email: "ann@example.com", name: "Ann" }, { email: "bob@example.com" }],
			cc: [{ email: "carol@example.com" }],
			bcc: [{ email: "dave@example.com" }],
			reply_to: { email: "support@acme.example.com", name: "Support" },
			subject: "Your receipt",
			text: "Thanks",
			html: '<p>Thanks</p><img src="cid:logo">',
			attachments: [
				{ content: btoa("%PDF-1.4 receipt"), filename: "receipt.pdf", type: "application/pdf", disposition: "attachment" },
				{ content: btoa("\x89PNG logo"), filename: "logo.png", type: "image/png", disposition: "inline", content_id: "logo" },
			],
			headers: { "X-Entity-Ref-ID": "order-42" },
			custom_variables: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
			category: "receipt",
		});
	});

	it("leaves out empty optional fields", async () => {
		const spy = answer(200, { success: true, message_ids: [MESSAGE_ID] });
		await provider().send(minimalOf(EMAIL), CONTEXT);
		expect(sentRequest(spy).body).toEqual({
			from: { email: "hello@acme.example.com", name: "Acme" },
			to: [{ email: "ann@example.com", name: "Ann" }, { email: "bob@example.com" }],
			subject: "Your receipt",
			text: "Thanks",
			custom_variables: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
		});
	});

	it("leaves out an empty HTML part (the spec wants at least one character)", async () => {
		const spy = answer(200, { success: true, message_ids: [MESSAGE_ID] });
		await provider().send(fullEmail({ html: "" }), CONTEXT);
		expect(sentRequest(spy).body).not.toHaveProperty("html");
	});

	it("uses no category longer than Mailtrap's 255 characters", async () => {
		const spy = answer(200, { success: true, message_ids: [MESSAGE_ID] });
		await provider().send(fullEmail({ tags: [{ name: "long", value: "x".repeat(256) }] }), CONTEXT);
		expect(sentRequest(spy).body).not.toHaveProperty("category");
	});
});

describe("Mailtrap outcomes", () => {
	it("returns the first message id (one per recipient)", async () => {
		answer(200, { success: true, message_ids: [MESSAGE_ID, "1d8fe04a-02cf-11ed-88c2-0a58a9feac02"] });
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: MESSAGE_ID }));
	});

	it.each([
		["an empty body", null],
		["HTML", "<html>ok</html>"],
		["no message ids", { success: true, message_ids: [] }],
		["success false", { success: false, errors: ["?"] }],
	])("treats a 200 with %s as uncertain: it may have been sent", async (_label, body) => {
		answer(200, body);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats a 400 as a refusal of this email, with Mailtrap's errors in the message", async () => {
		mailtrapErrors(400, "'from' address is invalid", "'subject' is required");
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message", status: 400 } });
		expect(outcome.ok ? "" : outcome.error.message).toContain("'from' address is invalid; 'subject' is required");
	});

	it.each([
		[401, "Unauthorized"],
		[403, "Forbidden"],
	])("treats %i (%s) as a provider-level permanent error", async (status, message) => {
		mailtrapErrors(status, message);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", status },
		});
	});

	it("treats 429 as rate limited after Retry-After", async () => {
		answer(429, { errors: "Rate limit exceeded" }, { "Retry-After": "9" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "rate_limited", status: 429, retryAfterSeconds: 9, message: "HTTP 429: Rate limit exceeded" },
		});
	});

	it("treats 503 as transient: nothing was sent", async () => {
		answer(503, "Service Unavailable");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status: 503 } });
	});

	it.each([500, 502, 504])("treats %i as uncertain: Mailtrap has no idempotency, so it is reconciled", async (status) => {
		mailtrapErrors(status, "Internal server error");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status } });
	});

	it("treats a truncated 400 as a refusal of this email", async () => {
		answer(400, '{"success":false,"errors":["');
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
	});
});
