/**
 * SendGrid adapter: `POST {baseUrl}/v3/mail/send` (sendgrid-mail-v3.openapi.json `PostMailSend`, providers.md §2).
 *
 * One personalization carries all recipients and our ids as `custom_args` (`mailroom_id`, `mailroom_tenant`),
 * which SendGrid echoes as top-level keys of every event webhook item. They sit inside the personalization
 * because the spec types top-level `custom_args` as a string. SendGrid has no idempotency key, so an uncertain
 * outcome must be reconciled, never blindly retried. Fields the spec forbids empty (subject, content values) and
 * empty lists are left out; an address repeated across to/cc/bcc is sent once, as SendGrid rejects duplicates.
 * Errors follow `classifyStatus`, with `X-RateLimit-Reset` (epoch seconds) as the retry time of a 429.
 */
import { z } from "zod";
import { type Mailbox, parseMailbox } from "../lib/address";
import { err, ok } from "../lib/result";
import { bodySnippet, callProvider, classifyStatus, parseJsonOrUndefined } from "./http";
import type { EmailProvider, HttpProviderOptions, OutboundEmail, ProviderError, SendOutcome } from "./types";

export type SendGridProviderOptions = { apiKey: string } & HttpProviderOptions;

/** Prefix of the id we record when a 2xx lacks `X-Message-Id` (see `send`). */
export const SENDGRID_SYNTHETIC_ID_PREFIX = "sendgrid:";

const MAX_CATEGORIES = 10;
const MAX_CATEGORY_CHARS = 255;
const ERROR_BODY_MAX = 4_000;

const ErrorResponse = z.object({
	errors: z.array(z.object({ message: z.string(), field: z.string().nullish() })).min(1),
});

type Address = { email: string; name?: string };

type MailSendRequest = {
	personalizations: {
		to: Address[];
		cc?: Address[];
		bcc?: Address[];
		custom_args: { mailroom_id: string; mailroom_tenant: string };
	}[];
	from: Address;
	reply_to?: Address;
	reply_to_list?: Address[];
	subject?: string;
	content?: { type: "text/plain" | "text/html"; value: string }[];
	headers?: Record<string, string>;
	attachments?: { content: string; filename: string; type: string; disposition: "inline" | "attachment"; content_id?: string }[];
	categories?: string[];
};

/**
 * @example
 * const sendgrid = createSendGridProvider({ apiKey: env.SENDGRID_API_KEY, baseUrl: "https://api.sendgrid.com", timeoutMs: 15_000 });
 */
export function createSendGridProvider(options: SendGridProviderOptions): EmailProvider {
	const url = `${options.baseUrl.replace(/\/+$/, "")}/v3/mail/send`;
	return {
		name: "sendgrid",
		supportsIdempotency: false,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const init: RequestInit = {
				method: "POST",
				headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json" },
				body: JSON.stringify(toMailSendRequest(email)),
			};
			const call = await callProvider(url, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			if (!response.ok) return err(await classifySendGridError(response));
			await response.body?.cancel();
			// 202 has no body; the id is the X-Message-Id header. Without it the email was still accepted, so we
			// record a synthetic id: events are correlated by our custom_args, not by SendGrid's id.
			const messageId = response.headers.get("x-message-id");
			return ok({ providerMessageId: messageId ? messageId : `${SENDGRID_SYNTHETIC_ID_PREFIX}${email.id}` });
		},
	};
}

function toMailSendRequest(email: OutboundEmail): MailSendRequest {
	const recipients = new Set<string>();
	const to = uniqueAddresses(email.to, recipients);
	const cc = uniqueAddresses(email.cc, recipients);
	const bcc = uniqueAddresses(email.bcc, recipients);
	const replyTo = uniqueAddresses(email.replyTo, new Set());
	const content = [
		...(email.text ? [{ type: "text/plain" as const, value: email.text }] : []),
		...(email.html ? [{ type: "text/html" as const, value: email.html }] : []),
	];
	const categories = [...new Set(email.tags.map((t) => t.value))].filter((v) => v.length <= MAX_CATEGORY_CHARS).slice(0, MAX_CATEGORIES);
	return {
		personalizations: [
			{
				to,
				...(cc.length > 0 && { cc }),
				...(bcc.length > 0 && { bcc }),
				custom_args: { mailroom_id: email.id, mailroom_tenant: email.tenantId },
			},
		],
		from: toAddress(email.fromMailbox),
		...(replyTo.length === 1 && { reply_to: replyTo[0] }),
		...(replyTo.length > 1 && { reply_to_list: replyTo }),
		...(email.subject !== "" && { subject: email.subject }),
		...(content.length > 0 && { content }),
		...(Object.keys(email.headers).length > 0 && { headers: email.headers }),
		...(email.attachments.length > 0 && {
			attachments: email.attachments.map((a) => ({
				content: a.content,
				filename: a.filename,
				type: a.contentType,
				disposition: a.contentId !== null ? ("inline" as const) : ("attachment" as const),
				...(a.contentId !== null && { content_id: a.contentId }),
			})),
		}),
		...(categories.length > 0 && { categories }),
	};
}

/** Mailbox strings as SendGrid addresses, skipping any address already in `seen` (compared case-insensitively). */
function uniqueAddresses(mailboxes: string[], seen: Set<string>): Address[] {
	const out: Address[] = [];
	for (const mailbox of mailboxes) {
		// Addresses were validated at accept time; should one not parse, SendGrid judges it as given.
		const address = toAddress(parseMailbox(mailbox) ?? { name: null, address: mailbox });
		const key = address.email.toLowerCase();
		if (seen.has(key)) continue;
		seen.add(key);
		out.push(address);
	}
	return out;
}

function toAddress(mailbox: Mailbox): Address {
	return mailbox.name === null ? { email: mailbox.address } : { email: mailbox.address, name: mailbox.name };
}

async function classifySendGridError(response: Response): Promise<ProviderError> {
	const { status, headers } = response;
	const text = await bodySnippet(response, ERROR_BODY_MAX);
	const body = ErrorResponse.safeParse(parseJsonOrUndefined(text));
	const first = body.success ? body.data.errors[0] : undefined;
	const detail = first ? `${first.message}${first.field ? ` (${first.field})` : ""}` : text.slice(0, 500);
	return classifyStatus(status, `HTTP ${status}: ${detail}`, headers, "x-ratelimit-reset");
}
