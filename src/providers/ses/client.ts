/**
 * Amazon SES v2 adapter: `SendEmail`, `POST {baseUrl}/v2/email/outbound-emails`, signed with SigV4 by aws4fetch
 * (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html).
 *
 * Content: `Simple` (subject, text, html) for plain emails; `Raw` MIME when the email has attachments or custom
 * headers, built by `buildMime` (src/lib/mime.ts, the same message `GET /emails/:id/raw` shows), with Bcc only in
 * `Destination` (the envelope), never in the headers. Addresses: display names outside ASCII as MIME encoded-words and
 * domains as Punycode, as SES requires. Our id goes out as the `mailroom_id` email tag (SES echoes `mail.tags` in its
 * events; a UUID meets the tag rules: ASCII letters, digits, `_`, `-`, at most 256), with the email's own tags (our
 * API enforces the same rules; any other is left out rather than refused by SES); `ConfigurationSetName` from
 * `SES_CONFIGURATION_SET` routes events to the SNS topic.
 *
 * aws4fetch only signs here: its own `fetch` retries 5xx and 429 (ten times by default), which for a provider without
 * idempotency could send an email twice, so the call goes through `callProvider` (timeout → uncertain) once.
 *
 * Errors (restJson1: the type in the `x-amzn-ErrorType` header, or `__type`/`code` in the body, and `message`;
 * https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas-errors.html): 5xx by the outcome classes (500
 * uncertain, 503 transient); 429, `TooManyRequestsException` and `Throttling` rate limited ("Maximum sending rate
 * exceeded" names a per-second rate: retried after a second, or the `Retry-After` given), except "Daily message
 * quota exceeded", a quota; quota, `AccountSuspendedException`,
 * `SendingPausedException`, `LimitExceededException`, `NotFoundException` (e.g. the configuration set) and credential
 * errors (401/403) provider-level; `MessageRejected`, `MailFromDomainNotVerifiedException` and `BadRequestException`
 * this email's.
 *
 * No lookup: GetMessageInsights needs the Virtual Deliverability Manager and SES cannot be searched by our tag (see
 * the module's `noLookup`).
 */
import { AwsClient } from "aws4fetch";
import { z } from "zod";
import { domainOf, formatMailbox, type Mailbox, parseMailbox } from "../../lib/address";
import { buildMime } from "../../lib/mime";
import { err, ok } from "../../lib/result";
import { encodeBase64 } from "../../lib/webcrypto";
import { bodySnippet, callProvider, classifyStatus, parseJsonOrUndefined } from "../http";
import type { EmailProvider, HttpProviderOptions, OutboundEmail, ProviderError, SendOutcome } from "../types";
import { SES_ID_TAG } from "./webhook";

export type SesProviderOptions = {
	region: string;
	accessKeyId: string;
	secretAccessKey: string;
	/** Publishes the email's events to this configuration set's destinations; none means SES's default. */
	configurationSet?: string;
} & HttpProviderOptions;

/** SES message tag names and values (MessageTag in the SES v2 API reference). */
const TAG_PART = /^[A-Za-z0-9_-]{1,256}$/;
const ASCII = /^[\x20-\x7e]*$/;

const RATE_LIMITED = new Set(["TooManyRequests", "Throttling"]);
const PROVIDER_LEVEL = new Set([
	"AccountSuspended",
	"SendingPaused",
	"LimitExceeded",
	"NotFound",
	"AccessDenied",
	"UnrecognizedClient",
	"InvalidClientTokenId",
	"InvalidSignature",
	"SignatureDoesNotMatch",
	"IncompleteSignature",
	"MissingAuthenticationToken",
	"ExpiredToken",
]);
const MESSAGE_LEVEL = new Set(["MessageRejected", "MailFromDomainNotVerified", "BadRequest"]);

const SendEmailResponse = z.object({ MessageId: z.string().min(1) });
const ErrorBody = z.object({
	__type: z.string().optional().catch(undefined),
	code: z.string().optional().catch(undefined),
	message: z.string().optional().catch(undefined),
	Message: z.string().optional().catch(undefined),
});

type Content = { Data: string; Charset: "UTF-8" };
type SendEmailRequest = {
	FromEmailAddress: string;
	Destination: { ToAddresses: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
	ReplyToAddresses?: string[];
	Content: { Simple: { Subject: Content; Body: { Text?: Content; Html?: Content } } } | { Raw: { Data: string } };
	EmailTags: { Name: string; Value: string }[];
	ConfigurationSetName?: string;
	ConfigurationOverrides?: { Tracking: { OpenTrackingEnabled: Switch; ClickTrackingEnabled: Switch } };
};
type Switch = "ENABLED" | "DISABLED";

/**
 * @example
 * const ses = createSesProvider({ region: "eu-west-1", accessKeyId, secretAccessKey, baseUrl: "https://email.eu-west-1.amazonaws.com", timeoutMs: 15_000 });
 */
export function createSesProvider(options: SesProviderOptions): EmailProvider {
	const url = `${options.baseUrl.replace(/\/+$/, "")}/v2/email/outbound-emails`;
	// Region and service are given, not guessed from the host, so a base URL override (a test fake) signs alike.
	const aws = new AwsClient({
		accessKeyId: options.accessKeyId,
		secretAccessKey: options.secretAccessKey,
		region: options.region,
		service: "ses",
		retries: 0,
	});
	return {
		name: "ses",
		supportsIdempotency: false,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const body = JSON.stringify(toSendEmailRequest(email, options.configurationSet));
			let signed: Request;
			try {
				signed = await aws.sign(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
			} catch (e) {
				return err({
					kind: "permanent",
					scope: "provider",
					message: `Could not sign the request: ${e instanceof Error ? e.message : String(e)}`,
				});
			}
			const call = await callProvider(signed.url, { method: "POST", headers: signed.headers, body }, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			const text = await bodySnippet(response);
			const json = parseJsonOrUndefined(text);
			if (response.ok) {
				const sent = SendEmailResponse.safeParse(json);
				if (sent.success) return ok({ providerMessageId: sent.data.MessageId });
				// SES may have accepted it; without idempotency the consumer must not retry blindly.
				return err({ kind: "uncertain", message: `HTTP ${response.status} without a MessageId: ${text.slice(0, 500)}` });
			}
			return err(classifySesError(response, json, text));
		},
	};
}

export function toSendEmailRequest(email: OutboundEmail, configurationSet: string | undefined): SendEmailRequest {
	const raw = email.attachments.length > 0 || Object.keys(email.headers).length > 0;
	const destination = {
		ToAddresses: email.to.map((m) => sesMailbox(m, !raw)),
		...(email.cc.length > 0 && { CcAddresses: email.cc.map((m) => sesMailbox(m, !raw)) }),
		...(email.bcc.length > 0 && { BccAddresses: email.bcc.map((m) => sesMailbox(m, !raw)) }),
	};
	const tags = [
		{ Name: SES_ID_TAG, Value: email.id },
		...email.tags
			.filter((t) => t.name !== SES_ID_TAG && TAG_PART.test(t.name) && TAG_PART.test(t.value))
			.map((t) => ({ Name: t.name, Value: t.value })),
	];
	const from = sesMailbox(email.fromMailbox, true);
	const content: SendEmailRequest["Content"] = raw
		? {
				Raw: {
					Data: encodeBase64(
						new TextEncoder().encode(
							buildMime(email, { date: new Date(), messageId: `<${email.id}@${domainOf(email.fromMailbox.address)}>` }),
						),
					),
				},
			}
		: {
				Simple: {
					Subject: { Data: email.subject, Charset: "UTF-8" },
					Body: {
						...(email.text !== null && { Text: { Data: email.text, Charset: "UTF-8" } }),
						...(email.html !== null && { Html: { Data: email.html, Charset: "UTF-8" } }),
					},
				},
			};
	return {
		FromEmailAddress: from,
		Destination: destination,
		// A raw message carries its own Reply-To header.
		...(!raw && email.replyTo.length > 0 && { ReplyToAddresses: email.replyTo.map((m) => sesMailbox(m, true)) }),
		Content: content,
		EmailTags: tags,
		...(configurationSet && { ConfigurationSetName: configurationSet }),
		...(email.tracking && {
			ConfigurationOverrides: {
				Tracking: {
					OpenTrackingEnabled: email.tracking.open ? "ENABLED" : "DISABLED",
					ClickTrackingEnabled: email.tracking.click ? "ENABLED" : "DISABLED",
				},
			},
		}),
	};
}

/**
 * An address as SES takes it: the domain in Punycode, and with `named` its display name, as a MIME encoded-word
 * when it is not ASCII. Envelope-only recipients (raw messages) go without names.
 */
function sesMailbox(input: string | Mailbox, named: boolean): string {
	const mailbox = typeof input === "string" ? (parseMailbox(input) ?? { name: null, address: input }) : input;
	const address = asciiDomain(mailbox.address);
	if (!named || mailbox.name === null) return address;
	if (ASCII.test(mailbox.name)) return formatMailbox({ name: mailbox.name, address });
	return `=?UTF-8?B?${encodeBase64(new TextEncoder().encode(mailbox.name))}?= <${address}>`;
}

function asciiDomain(address: string): string {
	const at = address.lastIndexOf("@");
	const domain = address.slice(at + 1);
	if (at < 0 || ASCII.test(domain)) return address;
	try {
		return `${address.slice(0, at + 1)}${new URL(`http://${domain}`).hostname}`;
	} catch {
		return address;
	}
}

/** The restJson1 error type without its namespace, URL suffix or `Exception` ending (`MessageRejected`). */
function errorTypeOf(headers: Headers, body: z.infer<typeof ErrorBody> | undefined): string {
	const raw = headers.get("x-amzn-ErrorType") ?? body?.__type ?? body?.code ?? "";
	return (raw.split(":")[0] ?? "")
		.replace(/^.*#/, "")
		.replace(/Exception$/, "")
		.trim();
}

function classifySesError(response: Response, json: unknown, text: string): ProviderError {
	const { status, headers } = response;
	const parsed = ErrorBody.safeParse(json);
	const body = parsed.success ? parsed.data : undefined;
	const type = errorTypeOf(headers, body);
	const detail = body?.message ?? body?.Message ?? text.slice(0, 500);
	const message = `HTTP ${status}${type ? ` ${type}` : ""}: ${detail}`;
	const code = type ? { code: type } : {};
	if (status >= 500) return classifyStatus(status, message, headers);
	if (/daily message quota exceeded/i.test(detail)) return { kind: "permanent", scope: "provider", message, status, ...code };
	if (status === 429 || RATE_LIMITED.has(type)) {
		const error = classifyStatus(429, message, headers);
		// The sending rate is per second: SES's "Maximum sending rate exceeded" says when, unless a header says otherwise.
		const perSecond = /maximum sending rate exceeded/i.test(detail) ? { retryAfterSeconds: 1 } : {};
		return { ...perSecond, ...error, status };
	}
	if (PROVIDER_LEVEL.has(type)) return { kind: "permanent", scope: "provider", message, status, ...code };
	if (MESSAGE_LEVEL.has(type)) return { kind: "permanent", scope: "message", message, status, ...code };
	const error = classifyStatus(status, message, headers);
	return error.kind === "permanent" ? { ...error, ...code } : error;
}
