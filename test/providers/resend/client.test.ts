import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createResendProvider } from "../../../src/providers/resend/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, prism, sentRequest } from "../../helpers/providers";

const EMAIL = outboundEmail({
	id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01",
});
const EMAIL_ID = EMAIL.id;

function fullEmail(overrides: Partial<OutboundEmail> = {}): OutboundEmail {
	return { ...EMAIL, ...overrides };
}

function minimalEmail(): OutboundEmail {
	return minimalOf(EMAIL);
}

function provider(options: { baseUrl?: string; timeoutMs?: number; fetch?: typeof fetch } = {}) {
	return createResendProvider({
		apiKey: "re_test_key",
		baseUrl: options.baseUrl ?? "https://api.resend.test",
		timeoutMs: options.timeoutMs ?? 5_000,
		fetch: options.fetch,
	});
}

function resendError(status: number, name: string, headers: Record<string, string> = {}) {
	return answer(status, { statusCode: status, name, message: `${name} happened` }, headers);
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Resend adapter against the Resend OpenAPI spec (Prism)", () => {
	// Prism's static example for SendEmailResponse.id is the literal "string".
	it("sends a full email the spec accepts", async () => {
		const mock = prism("prismResendUrl");
		const outcome = await provider(mock).send(fullEmail(), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: "string" }));
	});

	it("sends a minimal text-only email the spec accepts", async () => {
		const mock = prism("prismResendUrl");
		const outcome = await provider(mock).send(minimalEmail(), CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: "string" }));
	});

	it("harness: Prism rejects a request without from", async () => {
		const mock = prism("prismResendUrl");
		const response = await mock.fetch(`${mock.baseUrl}/emails`, {
			method: "POST",
			headers: { Authorization: "Bearer re_test_key", "Content-Type": "application/json" },
			body: JSON.stringify({ to: ["ann@example.com"], subject: "Hi", text: "x" }),
		});
		// The spec defines no error responses, so Prism generates a 422 with the validator's reason in the body.
		expect(response.status).toBe(422);
		expect(await response.text()).toContain("must have required property 'from'");
	});
});

describe("Resend request", () => {
	it("maps every field of the email to SendEmailRequest", async () => {
		const spy = answer(200, { id: "re_1" });
		await provider().send(fullEmail(), CONTEXT);
		const request = sentRequest(spy);
		expect(request.url).toBe("https://api.resend.test/emails");
		expect(request.headers.get("authorization")).toBe("Bearer re_test_key");
		expect(request.headers.get("content-type")).toBe("application/json");
		expect(request.body).toEqual({
			from: "Acme <hello@acme.example.com>",
			to: ["Ann <ann@example.com>", "bob@example.com"],
			cc: ["carol@example.com"],
			bcc: ["dave@example.com"],
			reply_to: ["support@acme.example.com"],
			subject: "Your receipt",
			html: '<p>Thanks</p><img src="cid:logo">',
			text: "Thanks",
			headers: { "X-Entity-Ref-ID": "order-42" },
			attachments: [
				{ filename: "receipt.pdf", content: btoa("%PDF-1.4 receipt"), content_type: "application/pdf" },
				{ filename: "logo.png", content: btoa("\x89PNG logo"), content_type: "image/png", content_id: "logo" },
			],
			tags: [
				{ name: "category", value: "receipt" },
				{ name: "mailroom_id", value: EMAIL_ID },
			],
		});
	});

	it("leaves out empty optional fields", async () => {
		const spy = answer(200, { id: "re_1" });
		await provider().send(minimalEmail(), CONTEXT);
		expect(sentRequest(spy).body).toEqual({
			from: "Acme <hello@acme.example.com>",
			to: ["Ann <ann@example.com>", "bob@example.com"],
			subject: "Your receipt",
			text: "Thanks",
			tags: [{ name: "mailroom_id", value: EMAIL_ID }],
		});
	});

	it("sends our email id as the Idempotency-Key header", async () => {
		const spy = answer(200, { id: "re_1" });
		await provider().send(fullEmail(), CONTEXT);
		expect(sentRequest(spy).headers.get("idempotency-key")).toBe(EMAIL_ID);
	});

	it("replaces a client tag named mailroom_id with our email id", async () => {
		const spy = answer(200, { id: "re_1" });
		await provider().send(fullEmail({ tags: [{ name: "mailroom_id", value: "spoofed" }] }), CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({ tags: [{ name: "mailroom_id", value: EMAIL_ID }] });
	});

	it("accepts a base URL with a trailing slash", async () => {
		const spy = answer(200, { id: "re_1" });
		await provider({ baseUrl: "https://api.resend.test/" }).send(fullEmail(), CONTEXT);
		expect(sentRequest(spy).url).toBe("https://api.resend.test/emails");
	});
});

describe("Resend outcomes", () => {
	it("returns Resend's id on 200", async () => {
		answer(200, { id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794" });
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794" }));
	});

	it("treats a 200 without an id as uncertain", async () => {
		answer(200, { object: "email" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats a 200 with a non-JSON body as uncertain", async () => {
		answer(200, "<html>ok</html>");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats HTTP 503 as transient: the service refused the work", async () => {
		const status = 503;
		resendError(status, "internal_server_error");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status } });
	});

	it.each([500, 502, 504])("treats HTTP %i as uncertain: a gateway may answer after the provider accepted", async (status) => {
		resendError(status, "internal_server_error");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status } });
	});

	it("treats an unparseable 502 body as uncertain", async () => {
		answer(502, "<html>Bad Gateway</html>");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status: 502 } });
	});

	it("treats 429 rate_limit_exceeded as rate limited for Retry-After seconds", async () => {
		resendError(429, "rate_limit_exceeded", { "Retry-After": "7" });
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toEqual({ ok: false, error: expect.objectContaining({ kind: "rate_limited", status: 429, retryAfterSeconds: 7 }) });
	});

	it("treats 429 without Retry-After as rate limited with no delay given", async () => {
		resendError(429, "rate_limit_exceeded");
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429 } });
		expect(outcome.ok ? undefined : outcome.error).not.toHaveProperty("retryAfterSeconds");
	});

	it.each(["daily_quota_exceeded", "monthly_quota_exceeded"])("treats 429 %s as a provider-level permanent error", async (name) => {
		resendError(429, name, { "Retry-After": "3600" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", code: name, status: 429 },
		});
	});

	it("treats 409 concurrent_idempotent_requests as transient", async () => {
		resendError(409, "concurrent_idempotent_requests");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status: 409 } });
	});

	it("treats 409 invalid_idempotent_request as a permanent error of this email", async () => {
		resendError(409, "invalid_idempotent_request");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", code: "invalid_idempotent_request" },
		});
	});

	it.each([
		[400, "validation_error"],
		[422, "invalid_from_address"],
	])("treats HTTP %i %s as a permanent error of this email", async (status, name) => {
		resendError(status, name);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", code: name, status, message: expect.stringContaining(`${name} happened`) },
		});
	});

	it("treats 401 as a provider-level permanent error", async () => {
		resendError(401, "missing_api_key");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", code: "missing_api_key", status: 401 },
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
