import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createBrevoProvider } from "../../../src/providers/brevo/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, sentRequest } from "../../helpers/providers";

const EMAIL = outboundEmail({
	id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f21",
	replyTo: ["Support <support@acme.example.com>", "billing@acme.example.com"],
	tags: [
		{ name: "category", value: "receipt" },
		{ name: "plan", value: "pro" },
	],
});
const EMAIL_ID = EMAIL.id;
const MESSAGE_ID = "<202611220900.12345678901@smtp-relay.mailin.fr>";
const RETRY = { attempt: 2 };

function fullEmail(overrides: Partial<OutboundEmail> = {}): OutboundEmail {
	return { ...EMAIL, ...overrides };
}

function provider(options: { timeoutMs?: number } = {}) {
	return createBrevoProvider({ apiKey: "xkeysib-test", baseUrl: "https://api.brevo.test", timeoutMs: options.timeoutMs ?? 5_000 });
}

function brevoError(status: number, code: string, headers: Record<string, string> = {}) {
	return answer(status, { code, message: `${code} happened` }, headers);
}

/** Brevo's transactional email list (`GET /v3/smtp/emails`) entry. */
function listed(messageId: string, tags: string[]) {
	return {
		email: "ann@example.com",
		subject: "Your receipt",
		messageId,
		uuid: "5b7a1a7c-8f3a-4c1e-9a71-0e2f3b4c5d6e",
		date: "2026-11-22T10:00:00.000+01:00",
		from: "hello@acme.example.com",
		tags,
	};
}

/** A Brevo answering the send with `send` and the email list with `list`; records every call. */
function brevo(send: () => Response, list: () => Response = () => new Response("{}", { status: 200 })) {
	return vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = new URL(String(input));
		return url.pathname === "/v3/smtp/email" ? send() : list();
	});
}

const json = (status: number, body: unknown) =>
	new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Brevo request", () => {
	it("maps every field of the email to Brevo's sendTransacEmail body", async () => {
		const spy = answer(201, { messageId: MESSAGE_ID });
		await provider().send(fullEmail(), CONTEXT);
		const request = sentRequest(spy);
		expect(request.url).toBe("https://api.brevo.test/v3/smtp/email");
		expect(request.method).toBe("POST");
		expect(request.headers.get("api-key")).toBe("xkeysib-test");
		expect(request.headers.get("content-type")).toBe("application/json");
		expect(request.headers.get("accept")).toBe("application/json");
		expect(request.body).toEqual({
			sender: { email: "hello@acme.example.com", name: "Acme" },
			to: [{ email: "ann@example.com", name: "Ann" }, { email: "bob@example.com" }],
			cc: [{ email: "carol@example.com" }],
			bcc: [{ email: "dave@example.com" }],
			replyTo: { email: "support@acme.example.com", name: "Support" },
			subject: "Your receipt",
			htmlContent: '<p>Thanks</p><img src="cid:logo">',
			textContent: "Thanks",
			attachment: [
				{ content: btoa("%PDF-1.4 receipt"), name: "receipt.pdf" },
				{ content: btoa("\x89PNG logo"), name: "logo.png" },
			],
			headers: {
				"X-Entity-Ref-ID": "order-42",
				"X-Mailin-custom": JSON.stringify({ mailroom_id: EMAIL_ID }),
				idempotencyKey: EMAIL_ID,
			},
			tags: ["receipt", "pro", `mailroom_id:${EMAIL_ID}`],
		});
	});

	it("leaves out empty optional fields", async () => {
		const spy = answer(201, { messageId: MESSAGE_ID });
		await provider().send(minimalOf(EMAIL), CONTEXT);
		expect(sentRequest(spy).body).toEqual({
			sender: { email: "hello@acme.example.com", name: "Acme" },
			to: [{ email: "ann@example.com", name: "Ann" }, { email: "bob@example.com" }],
			subject: "Your receipt",
			textContent: "Thanks",
			headers: { "X-Mailin-custom": JSON.stringify({ mailroom_id: EMAIL_ID }), idempotencyKey: EMAIL_ID },
			tags: [`mailroom_id:${EMAIL_ID}`],
		});
	});

	it("sends our id as the idempotency key on every attempt", async () => {
		const spy = answer(201, { messageId: MESSAGE_ID });
		await provider().send(fullEmail(), RETRY);
		expect(sentRequest(spy).body).toMatchObject({ headers: { idempotencyKey: EMAIL_ID } });
	});

	it("keeps our idempotency key and X-Mailin-custom over a client's headers of the same names", async () => {
		const spy = answer(201, { messageId: MESSAGE_ID });
		await provider().send(fullEmail({ headers: { IdempotencyKey: "theirs", "x-mailin-custom": "theirs", "X-Other": "1" } }), CONTEXT);
		expect((sentRequest(spy).body as { headers: unknown }).headers).toEqual({
			"X-Other": "1",
			"X-Mailin-custom": JSON.stringify({ mailroom_id: EMAIL_ID }),
			idempotencyKey: EMAIL_ID,
		});
	});

	it("sends an address repeated across to, cc and bcc once", async () => {
		const spy = answer(201, { messageId: MESSAGE_ID });
		await provider().send(
			fullEmail({ to: ["ann@example.com"], cc: ["Ann@Example.com"], bcc: ["dave@example.com", "ann@example.com"] }),
			CONTEXT,
		);
		expect(sentRequest(spy).body).toMatchObject({ to: [{ email: "ann@example.com" }], bcc: [{ email: "dave@example.com" }] });
		expect(sentRequest(spy).body).not.toHaveProperty("cc");
	});
});

describe("Brevo outcomes", () => {
	it("returns Brevo's messageId on 201", async () => {
		answer(201, { messageId: MESSAGE_ID });
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: MESSAGE_ID }));
	});

	it("returns the first of messageIds on 202", async () => {
		answer(202, { messageIds: [MESSAGE_ID, "<other@smtp-relay.mailin.fr>"] });
		expect(await provider().send(fullEmail(), CONTEXT)).toEqual(ok({ providerMessageId: MESSAGE_ID }));
	});

	it.each([
		["an empty body", null],
		["HTML", "<html>Created</html>"],
		["JSON without an id", { message: "ok" }],
	])("treats a 201 with %s as uncertain", async (_label, body) => {
		answer(201, body);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats 429 as rate limited until x-sib-ratelimit-reset", async () => {
		brevoError(429, "too_many_requests", { "x-sib-ratelimit-reset": "12" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "rate_limited", status: 429, retryAfterSeconds: 12 },
		});
	});

	it("prefers Retry-After to x-sib-ratelimit-reset", async () => {
		brevoError(429, "too_many_requests", { "retry-after": "3", "x-sib-ratelimit-reset": "12" });
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "rate_limited", retryAfterSeconds: 3 } });
	});

	it("treats a 429 without any reset header as rate limited with no delay given", async () => {
		answer(429, "Too Many Requests");
		const outcome = await provider().send(fullEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited" } });
		expect(outcome.ok ? undefined : outcome.error).not.toHaveProperty("retryAfterSeconds");
	});

	it("treats 503 as transient: nothing was sent", async () => {
		brevoError(503, "service_unavailable");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status: 503 } });
	});

	it.each([500, 502, 504])("treats %i as uncertain (retried at Brevo under the same key)", async (status) => {
		answer(status, "<html>error</html>");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status } });
	});

	it.each([
		[401, "unauthorized"],
		[402, "not_enough_credits"],
		[403, "permission_denied"],
		[400, "account_under_validation"],
		[400, "not_enough_credits"],
	])("treats %i %s as a provider-level permanent error", async (status, code) => {
		brevoError(status, code);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", status, code },
		});
	});

	it("treats a 402 without a body as provider-level (payment required)", async () => {
		answer(402, null);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it.each(["invalid_parameter", "missing_parameter", "out_of_range"])("treats 400 %s as a refusal of this email", async (code) => {
		brevoError(400, code);
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", status: 400, code },
		});
	});

	it("treats an unreadable 400 as a refusal of this email", async () => {
		answer(400, '{"code":"inval');
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
	});
});

describe("Brevo's answer to a repeated idempotency key", () => {
	it("is a refusal of the content on a first attempt (no earlier request carried our key)", async () => {
		const spy = brevoError(400, "duplicate_parameter");
		expect(await provider().send(fullEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", code: "duplicate_parameter" },
		});
		expect(spy).toHaveBeenCalledTimes(1);
	});

	it("on a later attempt is the earlier send, found by our tag in the first recipient's email list", async () => {
		const spy = brevo(
			() => json(400, { code: "duplicate_parameter", message: "idempotencyKey already used" }),
			() =>
				json(200, {
					count: 2,
					transactionalEmails: [listed("<someone-else@x>", ["receipt"]), listed(MESSAGE_ID, [`mailroom_id:${EMAIL_ID}`])],
				}),
		);
		expect(await provider().send(fullEmail(), RETRY)).toEqual(ok({ providerMessageId: MESSAGE_ID }));
		const list = new URL(String(spy.mock.calls[1]?.[0]));
		expect(list.pathname).toBe("/v3/smtp/emails");
		expect(list.searchParams.get("email")).toBe("ann@example.com");
		expect(new Headers(spy.mock.calls[1]?.[1]?.headers).get("api-key")).toBe("xkeysib-test");
	});

	it("on a later attempt stays uncertain while Brevo does not list the email yet", async () => {
		brevo(
			() => json(400, { code: "duplicate_parameter", message: "idempotencyKey already used" }),
			() => json(200, { count: 0, transactionalEmails: [] }),
		);
		expect(await provider().send(fullEmail(), RETRY)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("on a later attempt stays uncertain when the list cannot be read", async () => {
		brevo(
			() => json(400, { code: "duplicate_parameter" }),
			() => new Response("<html>Bad Gateway</html>", { status: 502 }),
		);
		const outcome = await provider().send(fullEmail(), RETRY);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		expect(outcome.ok ? "" : outcome.error.message).toContain("502");
	});

	it("never matches an email without our tag", async () => {
		brevo(
			() => json(400, { code: "duplicate_parameter" }),
			() => json(200, { count: 1, transactionalEmails: [listed(MESSAGE_ID, ["receipt", "mailroom_id:someone-else"])] }),
		);
		expect(await provider().send(fullEmail(), RETRY)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("does not look it up when the send used up the call's time", async () => {
		const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
			if (new URL(String(input)).pathname === "/v3/smtp/email") {
				await new Promise((resolve) => setTimeout(resolve, 60));
				return json(400, { code: "duplicate_parameter" });
			}
			return json(200, { count: 1, transactionalEmails: [listed(MESSAGE_ID, [`mailroom_id:${EMAIL_ID}`])] });
		});
		expect(await provider({ timeoutMs: 1_050 }).send(fullEmail(), RETRY)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		expect(spy).toHaveBeenCalledTimes(1);
	});
});
