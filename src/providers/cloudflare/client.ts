/**
 * Cloudflare Email Sending through the `EMAIL` `send_email` binding
 * (https://developers.cloudflare.com/email-service/api/send-emails/workers-api/): the builder form, or raw MIME
 * (`EmailMessage` of `cloudflare:email`, built by `buildMime`) when the email has several Reply-To addresses, which
 * the builder's single `replyTo` cannot carry; an `EmailMessage` has one envelope recipient, so that form is for
 * single-recipient emails (`cannotCarry` in ./index.ts refuses the rest at accept time). Our id travels as
 * `X-Mailroom-Id`; the binding's `messageId` is the provider id its events carry.
 *
 * Outcomes: the binding throws `Error`s with a `code` (same page, "Error codes"):
 * - `E_RATE_LIMIT_EXCEEDED` → `rate_limited`; `E_INTERNAL_SERVER_ERROR` → `transient` (nothing was sent);
 * - `E_DAILY_LIMIT_EXCEEDED` → `transient`, not before the next UTC midnight (`retryAfterSeconds`);
 * - `E_RECIPIENT_SUPPRESSED` → `permanent` for the email, suppressing the recipient it names (or the only one);
 * - the sender or domain not onboarded, a recipient outside the binding's allowed destinations → `permanent` for the
 *   provider (another provider may send it: fail over);
 * - every other `E_*` (validation, headers, size, delivery) → `permanent` for the email;
 * - an exception without such a code (the binding's RPC lost), no answer within the timeout, or an answer without a
 *   `messageId` → `uncertain`: the binding has no idempotency, so the email is never sent twice blindly.
 */
import { z } from "zod";
import { bareAddress, parseMailbox } from "../../lib/address";
import { settleWithin } from "../../lib/concurrency";
import { buildMime, MAILROOM_ID_HEADER, messageIdOf } from "../../lib/mime";
import { err, ok } from "../../lib/result";
import type { EmailProvider, OutboundEmail, ProviderError, SendOutcome } from "../types";

export type CloudflareProviderOptions = {
	/** The `send_email` binding; absent when wrangler.jsonc lost it (every send is then a provider-level error). */
	binding: SendEmail | undefined;
	timeoutMs: number;
	/** `EmailMessage` of `cloudflare:email` (tests give their own; imported on first use otherwise). */
	emailMessage?: EmailMessageConstructor;
	now?: () => number;
};

export type EmailMessageConstructor = new (from: string, to: string, raw: string) => EmailMessage;

const SendResult = z.object({ messageId: z.string().min(1) });
const DETAIL_MAX = 500;
const PROVIDER_CODES = new Set(["E_SENDER_NOT_VERIFIED", "E_SENDER_DOMAIN_NOT_AVAILABLE", "E_RECIPIENT_NOT_ALLOWED"]);

export function createCloudflareProvider(options: CloudflareProviderOptions): EmailProvider {
	const now = options.now ?? Date.now;
	return {
		name: "cloudflare",
		supportsIdempotency: false,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const binding = options.binding;
			if (!binding) return err({ kind: "permanent", scope: "provider", message: "The EMAIL send_email binding is not configured" });
			const recipients = [...new Set([...email.to, ...email.cc, ...email.bcc].map(bareAddress))];
			let message: EmailMessageBuilder | EmailMessage;
			if (email.replyTo.length > 1) {
				const [only] = recipients;
				if (recipients.length !== 1 || only === undefined) {
					return err({
						kind: "permanent",
						scope: "message",
						message: `Cloudflare Email Sending carries one Reply-To address, or several only to a single recipient (this email has ${recipients.length})`,
					});
				}
				const EmailMessageClass = options.emailMessage ?? (await defaultEmailMessage());
				let raw: string;
				try {
					raw = buildMime(email, { date: new Date(now()), messageId: messageIdOf(email) });
				} catch (e) {
					return err({
						kind: "permanent",
						scope: "message",
						message: `the message cannot be built: ${e instanceof Error ? e.message : String(e)}`,
					});
				}
				message = new EmailMessageClass(email.fromMailbox.address, only, raw);
			} else {
				message = builderOf(email);
			}
			const sent = await settleWithin(binding.send(message as EmailMessageBuilder), options.timeoutMs);
			if (sent.kind === "timeout")
				return err({ kind: "uncertain", message: `no answer from the EMAIL binding within ${options.timeoutMs} ms` });
			if (sent.kind === "threw") return err(classifyBindingError(sent.error, recipients, now()));
			const result = SendResult.safeParse(sent.value);
			if (!result.success) return err({ kind: "uncertain", message: "the EMAIL binding answered without a messageId" });
			return ok({ providerMessageId: result.data.messageId });
		},
	};
}

/** The builder form: display names as `{ email, name }`, attachments as base64 strings, our id as a header. */
export function builderOf(email: OutboundEmail): EmailMessageBuilder {
	const [replyTo] = email.replyTo;
	const headers = Object.fromEntries(
		Object.entries(email.headers).filter(([name]) => name.toLowerCase() !== MAILROOM_ID_HEADER.toLowerCase()),
	);
	return {
		from: email.fromMailbox.name ? { email: email.fromMailbox.address, name: email.fromMailbox.name } : email.fromMailbox.address,
		to: email.to.map(addressOf),
		...(email.cc.length > 0 && { cc: email.cc.map(addressOf) }),
		...(email.bcc.length > 0 && { bcc: email.bcc.map(addressOf) }),
		...(replyTo !== undefined && { replyTo: addressOf(replyTo) }),
		subject: email.subject,
		...(email.text !== null && { text: email.text }),
		...(email.html !== null && { html: email.html }),
		headers: { ...headers, [MAILROOM_ID_HEADER]: email.id },
		...(email.attachments.length > 0 && {
			attachments: email.attachments.map((a) =>
				a.contentId
					? {
							disposition: "inline" as const,
							contentId: a.contentId.replace(/^<|>$/g, ""),
							filename: a.filename,
							type: a.contentType,
							content: a.content,
						}
					: { disposition: "attachment" as const, filename: a.filename, type: a.contentType, content: a.content },
			),
		}),
	};
}

/**
 * What a thrown binding error means. Pure.
 *
 * @example classifyBindingError(Object.assign(new Error("slow down"), { code: "E_RATE_LIMIT_EXCEEDED" }), ["a@b.co"], Date.now()).kind // "rate_limited"
 */
export function classifyBindingError(error: unknown, recipients: readonly string[], now: number): ProviderError {
	const code = codeOf(error);
	const text = (error instanceof Error ? error.message : String(error)).slice(0, DETAIL_MAX);
	const message = code ? `${code}: ${text}` : `the EMAIL binding failed: ${text}`;
	switch (code) {
		case undefined:
			return { kind: "uncertain", message };
		case "E_RATE_LIMIT_EXCEEDED":
			return { kind: "rate_limited", message };
		case "E_INTERNAL_SERVER_ERROR":
			return { kind: "transient", message };
		case "E_DAILY_LIMIT_EXCEEDED":
			return { kind: "transient", message, retryAfterSeconds: secondsToNextUtcDay(now) };
		case "E_RECIPIENT_SUPPRESSED": {
			const named = recipients.filter((r) => text.toLowerCase().includes(r));
			const suppress = named.length > 0 ? named : recipients.length === 1 ? [...recipients] : [];
			return { kind: "permanent", scope: "message", code, message, ...(suppress.length > 0 && { suppress }) };
		}
		default:
			return { kind: "permanent", scope: PROVIDER_CODES.has(code) ? "provider" : "message", code, message };
	}
}

/** Seconds until 00:00 UTC of the next day (at least one). */
export function secondsToNextUtcDay(now: number): number {
	const next = new Date(now);
	next.setUTCHours(24, 0, 0, 0);
	return Math.max(1, Math.ceil((next.getTime() - now) / 1000));
}

function codeOf(error: unknown): string | undefined {
	const code = typeof error === "object" && error !== null && "code" in error ? (error as { code: unknown }).code : undefined;
	return typeof code === "string" && /^E_[A-Z_]+$/.test(code) ? code : undefined;
}

function addressOf(mailbox: string): string | EmailAddress {
	const parsed = parseMailbox(mailbox);
	if (!parsed) return mailbox;
	return parsed.name ? { email: parsed.address, name: parsed.name } : parsed.address;
}

/** `EmailMessage`, imported on first use: a module-level `cloudflare:email` import would stop the Node scripts. */
async function defaultEmailMessage(): Promise<EmailMessageConstructor> {
	const email = await import("cloudflare:email");
	return email.EmailMessage;
}
