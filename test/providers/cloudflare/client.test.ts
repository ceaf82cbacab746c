import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cloudflare } from "../../../src/providers/cloudflare";
import { classifyBindingError, createCloudflareProvider, secondsToNextUtcDay } from "../../../src/providers/cloudflare/client";
import { bindingError, fakeBinding } from "../../helpers/cloudflare";
import { CONTEXT, outboundEmail } from "../../helpers/providers";

const accepted = async () => ({ messageId: "<cf-1@example.com>" });

/** Records the raw form's constructor arguments (the runtime's EmailMessage keeps its MIME to itself). */
class RecordedEmailMessage {
	constructor(
		readonly from: string,
		readonly to: string,
		readonly raw: string,
	) {}
}

describe("Cloudflare Email Sending: the builder form", () => {
	it("sends every field through the builder, with our id as X-Mailroom-Id and the binding's messageId as the provider id", async () => {
		const binding = fakeBinding(accepted);
		const outcome = await createCloudflareProvider({ binding, timeoutMs: 1_000 }).send(outboundEmail(), CONTEXT);
		expect(outcome).toEqual({ ok: true, value: { providerMessageId: "<cf-1@example.com>" } });
		expect(binding.sent[0]).toEqual({
			from: { email: "hello@acme.example.com", name: "Acme" },
			to: [{ email: "ann@example.com", name: "Ann" }, "bob@example.com"],
			cc: ["carol@example.com"],
			bcc: ["dave@example.com"],
			replyTo: "support@acme.example.com",
			subject: "Your receipt",
			text: "Thanks",
			html: '<p>Thanks</p><img src="cid:logo">',
			headers: { "X-Entity-Ref-ID": "order-42", "X-Mailroom-Id": "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01" },
			attachments: [
				{ disposition: "attachment", filename: "receipt.pdf", type: "application/pdf", content: btoa("%PDF-1.4 receipt") },
				{ disposition: "inline", contentId: "logo", filename: "logo.png", type: "image/png", content: btoa("\x89PNG logo") },
			],
		});
	});

	it("is accepted by the local send_email binding of the Workers runtime", async () => {
		const outcome = await createCloudflareProvider({ binding: env.EMAIL, timeoutMs: 5_000 }).send(outboundEmail(), CONTEXT);
		expect(outcome.ok && outcome.value.providerMessageId).toMatch(/^<.+@.+>$/);
	});
});

describe("Cloudflare Email Sending: the raw MIME form", () => {
	const twoReplyTo = outboundEmail({
		to: ["Ann <ann@example.com>"],
		cc: [],
		bcc: [],
		replyTo: ["a@acme.example.com", "b@acme.example.com"],
	});

	it("sends buildMime's message to the single recipient when there are several Reply-To addresses", async () => {
		const binding = fakeBinding(accepted);
		const provider = createCloudflareProvider({ binding, timeoutMs: 1_000, emailMessage: RecordedEmailMessage as never });
		expect((await provider.send(twoReplyTo, CONTEXT)).ok).toBe(true);
		const message = binding.sent[0] as RecordedEmailMessage;
		expect(message).toBeInstanceOf(RecordedEmailMessage);
		expect({ from: message.from, to: message.to }).toEqual({ from: "hello@acme.example.com", to: "ann@example.com" });
		expect(message.raw).toMatch(/^Reply-To: a@acme.example.com, b@acme.example.com$/m);
		expect(message.raw).toMatch(/^X-Mailroom-Id: 0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01$/m);
	});

	it("is accepted by the local send_email binding as an EmailMessage", async () => {
		const outcome = await createCloudflareProvider({ binding: env.EMAIL, timeoutMs: 5_000 }).send(twoReplyTo, CONTEXT);
		expect(outcome.ok && outcome.value.providerMessageId).toMatch(/^<.+@.+>$/);
	});

	it("fails an email with several Reply-To addresses and several recipients, which neither form carries", async () => {
		const binding = fakeBinding(accepted);
		const outcome = await createCloudflareProvider({ binding, timeoutMs: 1_000 }).send(
			{ ...twoReplyTo, cc: ["carol@example.com"] },
			CONTEXT,
		);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
		expect(binding.sent).toHaveLength(0);
	});
});

describe("Cloudflare Email Sending: outcomes", () => {
	it.each([
		["E_RATE_LIMIT_EXCEEDED", { kind: "rate_limited" }],
		["E_INTERNAL_SERVER_ERROR", { kind: "transient" }],
		["E_DAILY_LIMIT_EXCEEDED", { kind: "transient" }],
		["E_SENDER_NOT_VERIFIED", { kind: "permanent", scope: "provider" }],
		["E_SENDER_DOMAIN_NOT_AVAILABLE", { kind: "permanent", scope: "provider" }],
		["E_RECIPIENT_NOT_ALLOWED", { kind: "permanent", scope: "provider" }],
		["E_VALIDATION_ERROR", { kind: "permanent", scope: "message" }],
		["E_FIELD_MISSING", { kind: "permanent", scope: "message" }],
		["E_TOO_MANY_RECIPIENTS", { kind: "permanent", scope: "message" }],
		["E_CONTENT_TOO_LARGE", { kind: "permanent", scope: "message" }],
		["E_DELIVERY_FAILED", { kind: "permanent", scope: "message" }],
		["E_HEADER_NOT_ALLOWED", { kind: "permanent", scope: "message" }],
		["E_HEADER_USE_API_FIELD", { kind: "permanent", scope: "message" }],
		["E_HEADER_VALUE_INVALID", { kind: "permanent", scope: "message" }],
		["E_HEADER_VALUE_TOO_LONG", { kind: "permanent", scope: "message" }],
		["E_HEADER_NAME_INVALID", { kind: "permanent", scope: "message" }],
		["E_HEADERS_TOO_LARGE", { kind: "permanent", scope: "message" }],
		["E_HEADERS_TOO_MANY", { kind: "permanent", scope: "message" }],
	] as const)("classifies %s", async (code, expected) => {
		const binding = fakeBinding(async () => {
			throw bindingError(code, `${code} happened`);
		});
		const outcome = await createCloudflareProvider({ binding, timeoutMs: 1_000 }).send(outboundEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: expected });
	});

	it("defers a daily limit to the next UTC midnight", () => {
		const now = Date.parse("2026-06-01T23:00:00Z");
		expect(classifyBindingError(bindingError("E_DAILY_LIMIT_EXCEEDED", "quota"), [], now)).toMatchObject({
			kind: "transient",
			retryAfterSeconds: 3600,
		});
		expect(secondsToNextUtcDay(Date.parse("2026-06-01T00:00:00Z"))).toBe(86_400);
	});

	it("suppresses the recipient E_RECIPIENT_SUPPRESSED names", () => {
		const error = bindingError("E_RECIPIENT_SUPPRESSED", "Recipient bob@example.com is on the suppression list");
		expect(classifyBindingError(error, ["ann@example.com", "bob@example.com"], Date.now())).toMatchObject({
			kind: "permanent",
			scope: "message",
			suppress: ["bob@example.com"],
		});
	});

	it("suppresses the only recipient when E_RECIPIENT_SUPPRESSED names none", () => {
		expect(classifyBindingError(bindingError("E_RECIPIENT_SUPPRESSED", "suppressed"), ["ann@example.com"], Date.now())).toMatchObject({
			suppress: ["ann@example.com"],
		});
	});

	it("fails over when the EMAIL binding is missing", async () => {
		const outcome = await createCloudflareProvider({ binding: undefined, timeoutMs: 1_000 }).send(outboundEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});
});

describe("Cloudflare Email Sending: what it cannot carry", () => {
	const carry = (headers: Record<string, string>, replyTo: string[] = [], recipients = 1) =>
		cloudflare.cannotCarry({ headers, replyTo, recipients });

	it.each([
		[{ "X-Campaign": "spring" }, null],
		[{ "List-Unsubscribe": "<https://acme.example.com/u?id=1>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" }, null],
		[{ "Thread-Topic": "x" }, "Header Thread-Topic is not carried"],
		[{ "List-Unsubscribe": "<http://acme.example.com/u>" }, "Header List-Unsubscribe must hold"],
		[{ Precedence: "urgent" }, "Header Precedence must be bulk, list, junk"],
		[{ "X-Big": "é".repeat(1100) }, "Header X-Big is 2200 bytes"],
		[{ "X-Empty": " " }, "Header X-Empty is empty"],
	] as const)("checks %j", (headers, expected) => {
		const problem = carry(headers);
		if (expected === null) expect(problem).toBeNull();
		else expect(problem).toContain(expected);
	});

	it("refuses more than 20 allowlisted headers and more than 16 KB of them", () => {
		const many = Object.fromEntries(
			[
				"In-Reply-To",
				"References",
				"List-Id",
				"List-Archive",
				"List-Help",
				"List-Owner",
				"List-Post",
				"List-Subscribe",
				"Content-Language",
				"Keywords",
				"Comments",
				"Organization",
				"Require-Recipient-Valid-Since",
				"Expires",
				"Reply-By",
				"Archived-At",
				"Importance",
				"Priority",
				"Sensitivity",
				"Auto-Submitted",
				"Precedence",
			].map((h) => [
				h,
				h === "Importance"
					? "high"
					: h === "Priority"
						? "urgent"
						: h === "Sensitivity"
							? "private"
							: h === "Auto-Submitted"
								? "auto-generated"
								: h === "Precedence"
									? "bulk"
									: "x",
			]),
		);
		expect(carry(many)).toContain("21 non-X headers");
		const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`X-Part-${i}`, "a".repeat(2000)]));
		expect(carry(big)).toContain("Headers total");
	});

	it("refuses several Reply-To addresses for several recipients, and allows them for one", () => {
		expect(carry({}, ["a@x.example", "b@x.example"], 2)).toContain("reply_to has 2 addresses");
		expect(carry({}, ["a@x.example", "b@x.example"], 1)).toBeNull();
	});
});
