import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createSesProvider } from "../../../src/providers/ses/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, sentRequest } from "../../helpers/providers";

const EMAIL = outboundEmail({ id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f51" });
const MESSAGE_ID = "0102019a1b2c3d4e-5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c-000000";
/** The email without attachments or custom headers: sent as Simple content. */
const SIMPLE: OutboundEmail = { ...EMAIL, attachments: [], headers: {} };

function provider(options: { configurationSet?: string; timeoutMs?: number; baseUrl?: string } = {}) {
	return createSesProvider({
		region: "eu-west-1",
		accessKeyId: "AKIDEXAMPLE",
		secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		baseUrl: options.baseUrl ?? "https://email.eu-west-1.amazonaws.com",
		timeoutMs: options.timeoutMs ?? 5_000,
		...(options.configurationSet !== undefined && { configurationSet: options.configurationSet }),
	});
}

function sesError(status: number, type: string | null, message: string) {
	return answer(
		status,
		{ message },
		type === null ? {} : { "x-amzn-ErrorType": `${type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/` },
	);
}

/** The raw MIME message of a Raw send, decoded. */
function rawMessageOf(body: unknown): string {
	const data = (body as { Content: { Raw: { Data: string } } }).Content.Raw.Data;
	return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("SES request", () => {
	it("posts SendEmail with Simple content for an email without attachments or custom headers", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider({ configurationSet: "mailroom" }).send(SIMPLE, CONTEXT);
		const request = sentRequest(spy);
		expect(request.url).toBe("https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails");
		expect(request.method).toBe("POST");
		expect(request.body).toEqual({
			FromEmailAddress: "Acme <hello@acme.example.com>",
			Destination: {
				ToAddresses: ["Ann <ann@example.com>", "bob@example.com"],
				CcAddresses: ["carol@example.com"],
				BccAddresses: ["dave@example.com"],
			},
			ReplyToAddresses: ["support@acme.example.com"],
			Content: {
				Simple: {
					Subject: { Data: "Your receipt", Charset: "UTF-8" },
					Body: { Text: { Data: "Thanks", Charset: "UTF-8" }, Html: { Data: '<p>Thanks</p><img src="cid:logo">', Charset: "UTF-8" } },
				},
			},
			EmailTags: [
				{ Name: "mailroom_id", Value: EMAIL.id },
				{ Name: "category", Value: "receipt" },
			],
			ConfigurationSetName: "mailroom",
		});
	});

	it("signs the request with SigV4 for the ses service in the configured region", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider({ baseUrl: "https://ses-fake.test" }).send(SIMPLE, CONTEXT);
		const { headers } = sentRequest(spy);
		expect(headers.get("authorization")).toMatch(
			/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ses\/aws4_request, SignedHeaders=host;x-amz-date, Signature=[0-9a-f]{64}$/,
		);
		expect(headers.get("x-amz-date")).toMatch(/^\d{8}T\d{6}Z$/);
		expect(headers.get("content-type")).toBe("application/json");
	});

	it("calls SES once on a 500: aws4fetch's own retries are off", async () => {
		const spy = sesError(500, "InternalServiceErrorException", "internal error");
		await provider().send(SIMPLE, CONTEXT);
		expect(spy).toHaveBeenCalledTimes(1);
	});

	it("sends raw MIME with Bcc only in the envelope when the email has attachments", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider().send(EMAIL, CONTEXT);
		const body = sentRequest(spy).body as Record<string, unknown>;
		expect(body.Destination).toEqual({
			ToAddresses: ["ann@example.com", "bob@example.com"],
			CcAddresses: ["carol@example.com"],
			BccAddresses: ["dave@example.com"],
		});
		expect(body).not.toHaveProperty("ReplyToAddresses");
		const mime = rawMessageOf(body);
		expect(mime).toMatch(/^To: .*ann@example\.com/m);
		expect(mime).toMatch(/^Cc: .*carol@example\.com/m);
		expect(mime).not.toContain("dave@example.com");
		expect(mime).toContain(`Message-ID: <${EMAIL.id}@acme.example.com>`);
		expect(mime).toContain('filename="receipt.pdf"');
		expect(mime).toContain("X-Entity-Ref-ID: order-42");
		expect(body.EmailTags).toEqual([
			{ Name: "mailroom_id", Value: EMAIL.id },
			{ Name: "category", Value: "receipt" },
		]);
	});

	it("sends raw MIME for custom headers alone", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider().send({ ...minimalOf(EMAIL), headers: { "X-Campaign": "autumn" } }, CONTEXT);
		expect(rawMessageOf(sentRequest(spy).body)).toContain("X-Campaign: autumn");
	});

	it("leaves out cc, bcc, reply-to, html and the configuration set when there are none", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider().send(minimalOf(EMAIL), CONTEXT);
		expect(sentRequest(spy).body).toEqual({
			FromEmailAddress: "Acme <hello@acme.example.com>",
			Destination: { ToAddresses: ["Ann <ann@example.com>", "bob@example.com"] },
			Content: { Simple: { Subject: { Data: "Your receipt", Charset: "UTF-8" }, Body: { Text: { Data: "Thanks", Charset: "UTF-8" } } } },
			EmailTags: [{ Name: "mailroom_id", Value: EMAIL.id }],
		});
	});

	it("writes a non-ASCII display name as an encoded-word and a non-ASCII domain in Punycode", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider().send({ ...minimalOf(EMAIL), to: ["Zoë <zoe@bücher.example>"] }, CONTEXT);
		const body = sentRequest(spy).body as { Destination: { ToAddresses: string[] } };
		expect(body.Destination.ToAddresses).toEqual([`=?UTF-8?B?${btoa("Zo\xc3\xab")}?= <zoe@xn--bcher-kva.example>`]);
	});

	it("quotes a display name holding a comma", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider().send({ ...minimalOf(EMAIL), to: ['"Smith, Bob" <bob@example.com>'] }, CONTEXT);
		expect((sentRequest(spy).body as { Destination: { ToAddresses: string[] } }).Destination.ToAddresses).toEqual([
			'"Smith, Bob" <bob@example.com>',
		]);
	});

	it("sends our id once, even when the email has a tag of the same name", async () => {
		const spy = answer(200, { MessageId: MESSAGE_ID });
		await provider().send({ ...SIMPLE, tags: [{ name: "mailroom_id", value: "spoofed" }] }, CONTEXT);
		expect((sentRequest(spy).body as { EmailTags: unknown[] }).EmailTags).toEqual([{ Name: "mailroom_id", Value: EMAIL.id }]);
	});
});

describe("SES outcomes", () => {
	it("returns SES's MessageId", async () => {
		answer(200, { MessageId: MESSAGE_ID });
		expect(await provider().send(SIMPLE, CONTEXT)).toEqual(ok({ providerMessageId: MESSAGE_ID }));
	});

	it.each([
		["a 200 without a MessageId", { message: "ok" }],
		["a 200 with HTML", "<html>ok</html>"],
		["an empty 200", null],
	])("treats %s as uncertain", async (_label, body) => {
		answer(200, body);
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it.each([
		[429, "TooManyRequestsException", "Too many requests"],
		[400, "Throttling", "Rate exceeded"],
		[400, "ThrottlingException", "Rate exceeded"],
	])("treats a %i %s as rate limited", async (status, type, message) => {
		sesError(status, type, message);
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind: "rate_limited", status } });
	});

	it("waits a second after 'Maximum sending rate exceeded'", async () => {
		sesError(429, "TooManyRequestsException", "Maximum sending rate exceeded.");
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind: "rate_limited", retryAfterSeconds: 1 } });
	});

	it("treats 'Daily message quota exceeded' as a provider-level permanent error (a quota)", async () => {
		sesError(429, "TooManyRequestsException", "Daily message quota exceeded.");
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it.each([
		["AccountSuspendedException", 400],
		["SendingPausedException", 400],
		["LimitExceededException", 400],
		["NotFoundException", 404],
		["UnrecognizedClientException", 403],
		["InvalidSignatureException", 403],
		["AccessDeniedException", 403],
	])("treats %s as a provider-level permanent error (fail over)", async (type, status) => {
		sesError(status, type, "refused");
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", code: type.replace(/Exception$/, "") },
		});
	});

	it.each(["MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"])(
		"treats %s as a permanent error of this email",
		async (type) => {
			sesError(400, type, "Email address is not verified.");
			expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({
				ok: false,
				error: { kind: "permanent", scope: "message", status: 400 },
			});
		},
	);

	it("reads the error type from the body when the header is missing", async () => {
		answer(400, { __type: "com.amazonaws.sesv2#AccountSuspendedException", message: "suspended" });
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it("keeps SES's message in the error", async () => {
		sesError(400, "MessageRejected", "Email address is not verified. The following identities failed the check: ann@example.com");
		const outcome = await provider().send(SIMPLE, CONTEXT);
		expect(!outcome.ok && outcome.error.message).toBe(
			"HTTP 400 MessageRejected: Email address is not verified. The following identities failed the check: ann@example.com",
		);
	});

	it.each([
		[500, "InternalServiceErrorException", "uncertain"],
		[500, "ConcurrentModificationException", "uncertain"],
		[502, null, "uncertain"],
		[504, null, "uncertain"],
		[503, "ServiceUnavailable", "transient"],
	])("treats a %i %s as %s", async (status, type, kind) => {
		sesError(status, type, "error");
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind, status } });
	});

	it.each([
		["HTML 400", 400, "<html>Bad Request</html>", "permanent"],
		["empty 403", 403, null, "permanent"],
		["HTML 502", 502, "<html>Bad Gateway</html>", "uncertain"],
	])("classifies a %s without a type", async (_label, status, body, kind) => {
		answer(status, body);
		expect(await provider().send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind } });
	});

	it("treats a timeout as uncertain", async () => {
		vi.spyOn(globalThis, "fetch").mockImplementation(
			(_input, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
		);
		expect(await provider({ timeoutMs: 30 }).send(SIMPLE, CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});
});
