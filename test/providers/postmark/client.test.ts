import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createPostmarkProvider } from "../../../src/providers/postmark/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, sentRequest } from "../../helpers/providers";

const EMAIL = outboundEmail({
	id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f03",
	from: '"Acme, Inc." <hello@acme.example.com>',
	fromMailbox: { name: "Acme, Inc.", address: "hello@acme.example.com" },
	to: ["Ann <ann@example.com>", "Bob@Example.com"],
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

function provider(options: { timeoutMs?: number; messageStream?: string } = {}) {
	return createPostmarkProvider({
		serverToken: "pm-server-token",
		baseUrl: "https://api.postmark.test",
		timeoutMs: options.timeoutMs ?? 5_000,
		...(options.messageStream !== undefined && { messageStream: options.messageStream }),
	});
}

function postmarkError(status: number, errorCode: number, headers: Record<string, string> = {}) {
	return answer(status, { ErrorCode: errorCode, Message: `error ${errorCode}` }, headers);
}

const SENT = {
	To: "ann@example.com",
	SubmittedAt: "2026-11-22T09:00:00.0000000-05:00",
	MessageID: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
	ErrorCode: 0,
	Message: "OK",
};

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Postmark request", () => {
	it("posts a full email in Postmark's documented shape", async () => {
		const spy = answer(200, SENT);
		await provider({ messageStream: "outbound" }).send(fullEmail(), CONTEXT);
		const request = sentRequest(spy);
		expect(request.url).toBe("https://api.postmark.test/email");
		expect(request.method).toBe("POST");
		expect(request.headers.get("x-postmark-server-token")).toBe("pm-server-token");
		expect(request.headers.get("accept")).toBe("application/json");
		expect(request.headers.get("content-type")).toBe("application/json");
		expect(request.body).toEqual({
			From: '"Acme, Inc." <hello@acme.example.com>',
			To: "Ann <ann@example.com>, Bob@Example.com",
			Cc: "carol@example.com",
			Bcc: "dave@example.com",
			Subject: "Your receipt",
			HtmlBody: '<p>Thanks</p><img src="cid:logo">',
			TextBody: "Thanks",
			ReplyTo: "support@acme.example.com, Billing <billing@acme.example.com>",
			Headers: [{ Name: "X-Entity-Ref-ID", Value: "order-42" }],
			Metadata: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
			Tag: "receipt",
			Attachments: [
				{ Name: "receipt.pdf", Content: btoa("%PDF-1.4 receipt"), ContentType: "application/pdf" },
				{ Name: "logo.png", Content: btoa("\x89PNG logo"), ContentType: "image/png", ContentID: "logo" },
			],
			MessageStream: "outbound",
		});
	});

	it("leaves out empty optional fields and the message stream when none is configured", async () => {
		const spy = answer(200, SENT);
		await provider().send(minimalEmail(), CONTEXT);
		expect(sentRequest(spy).body).toEqual({
			From: '"Acme, Inc." <hello@acme.example.com>',
			To: "Ann <ann@example.com>, Bob@Example.com",
			Subject: "Your receipt",
			TextBody: "Thanks",
			Metadata: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
		});
	});

	it("quotes a recipient display name that contains a comma", async () => {
		const spy = answer(200, SENT);
		await provider().send(fullEmail({ to: ["Doe, Jane <jane@example.com>"] }), CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({ To: '"Doe, Jane" <jane@example.com>' });
	});

	it("sends our email and tenant ids as Metadata", async () => {
		const spy = answer(200, SENT);
		await provider().send(fullEmail(), CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({ Metadata: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" } });
	});
});

describe("Postmark outcomes", () => {
	it("returns Postmark's MessageID on 200 with ErrorCode 0", async () => {
		answer(200, SENT);
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: SENT.MessageID }));
	});

	it("treats a 200 without a MessageID as uncertain", async () => {
		answer(200, { ErrorCode: 0, Message: "OK" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats a 200 with a non-JSON body as uncertain", async () => {
		answer(200, "<html>ok</html>");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats HTTP 503 as transient: the service refused the work", async () => {
		const status = 503;
		answer(status, "Service Unavailable");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status } });
	});

	it.each([500, 502, 504])("treats HTTP %i as uncertain: a gateway may answer after the provider accepted", async (status) => {
		answer(status, "Service Unavailable");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status } });
	});

	it("treats HTTP 429 with Retry-After as rate limited for that many seconds", async () => {
		postmarkError(429, 429, { "Retry-After": "7" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "rate_limited", status: 429, retryAfterSeconds: 7 },
		});
	});

	it("treats HTTP 429 without Retry-After as rate limited with no delay given", async () => {
		answer(429, "Too Many Requests");
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429 } });
		expect(outcome.ok ? undefined : outcome.error).not.toHaveProperty("retryAfterSeconds");
	});

	it("treats ErrorCode 429 on a 422 as rate limited", async () => {
		postmarkError(422, 429);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 422 } });
	});

	it("treats ErrorCode 406 as a permanent error of this email that suppresses its recipients", async () => {
		postmarkError(422, 406);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: {
				kind: "permanent",
				scope: "message",
				code: "406",
				suppress: ["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"],
			},
		});
	});

	it.each([10, 400, 401, 405, 412, 413])("treats ErrorCode %i as a provider-level permanent error", async (code) => {
		postmarkError(422, code);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", code: String(code) },
		});
	});

	it("treats another ErrorCode on a 422 as a permanent error of this email", async () => {
		postmarkError(422, 300);
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message", code: "300", status: 422 } });
		expect(outcome.ok ? undefined : outcome.error).not.toHaveProperty("suppress");
	});

	it("treats an unparseable 400 body as a permanent error of this email", async () => {
		answer(400, "Bad Request");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", status: 400 },
		});
	});

	it("treats HTTP 401 without a Postmark body as a provider-level permanent error", async () => {
		answer(401, "Unauthorized");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", status: 401 },
		});
	});
});
