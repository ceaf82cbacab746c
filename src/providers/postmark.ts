/**
 * Postmark adapter: `POST {baseUrl}/email` (Postmark "send a single email" API, providers.md §3).
 *
 * Our ids go out as `Metadata` (`mailroom_id`, `mailroom_tenant`), echoed top-level in every webhook. Postmark has
 * no idempotency key, so an uncertain outcome must be reconciled, never blindly retried. Recipient lists are
 * comma-joined, with display names quoted where they hold a comma or another RFC 5322 special.
 *
 * Errors are read from the body's `ErrorCode` before the HTTP status: 406 (inactive recipient) is permanent
 * for this email and suppresses its recipients (Postmark answers 406 only when every recipient is inactive; a
 * partly inactive list is sent and answered 200); 10 (bad token), 400/401 (sender signature), 405, 412, 413
 * (account cannot send) are provider-level; 429 is rate limited; HTTP 429 and 5xx keep their status meaning.
 */
import { z } from "zod";
import { bareAddress, type Mailbox, parseMailbox } from "../lib/address";
import { err, ok } from "../lib/result";
import { bodySnippet, callProvider, classifyStatus, parseJsonOrUndefined, retryAfterSeconds } from "./http";
import type { EmailProvider, HttpProviderOptions, OutboundEmail, ProviderError, SendOutcome } from "./types";

export type PostmarkProviderOptions = {
	serverToken: string;
	/** Postmark's message stream; omitted means the server's default transactional stream (`outbound`). */
	messageStream?: string;
} & HttpProviderOptions;

const INACTIVE_RECIPIENT = 406;
const RATE_LIMITED = 429;
/** ErrorCodes that mean this server or account cannot send anything right now. */
const PROVIDER_ERRORS = new Set([10, 400, 401, 405, 412, 413]);
const ERROR_BODY_MAX = 4_000;
/** RFC 5322 specials: a display name containing one must be quoted. */
const SPECIALS = /[()<>[\]:;@\\,."]/;

const SendResponse = z.object({ ErrorCode: z.literal(0), MessageID: z.string().min(1) });
const ErrorResponse = z.object({ ErrorCode: z.number().int(), Message: z.string().optional() });

type PostmarkEmail = {
	From: string;
	To: string;
	Cc?: string;
	Bcc?: string;
	Subject?: string;
	HtmlBody?: string;
	TextBody?: string;
	ReplyTo?: string;
	Headers?: { Name: string; Value: string }[];
	Metadata: { mailroom_id: string; mailroom_tenant: string };
	Tag?: string;
	Attachments?: { Name: string; Content: string; ContentType: string; ContentID?: string }[];
	MessageStream?: string;
};

/**
 * @example
 * const postmark = createPostmarkProvider({ serverToken: env.POSTMARK_SERVER_TOKEN, baseUrl: "https://api.postmarkapp.com", timeoutMs: 15_000 });
 */
export function createPostmarkProvider(options: PostmarkProviderOptions): EmailProvider {
	const url = `${options.baseUrl.replace(/\/+$/, "")}/email`;
	return {
		name: "postmark",
		supportsIdempotency: false,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const init: RequestInit = {
				method: "POST",
				headers: {
					"X-Postmark-Server-Token": options.serverToken,
					Accept: "application/json",
					"Content-Type": "application/json",
				},
				body: JSON.stringify(toPostmarkEmail(email, options.messageStream)),
			};
			const call = await callProvider(url, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			const text = await bodySnippet(response, ERROR_BODY_MAX);
			const json = parseJsonOrUndefined(text);
			if (response.ok) {
				const sent = SendResponse.safeParse(json);
				if (sent.success) return ok({ providerMessageId: sent.data.MessageID });
				const refused = ErrorResponse.safeParse(json);
				if (refused.success && refused.data.ErrorCode !== 0) return err(classifyPostmarkError(response, refused.data, email));
				// Postmark may have accepted it; without idempotency the consumer reconciles instead of retrying.
				return err({ kind: "uncertain", message: `HTTP ${response.status} without a MessageID: ${text.slice(0, 500)}` });
			}
			const body = ErrorResponse.safeParse(json);
			if (!body.success) return err(classifyStatus(response.status, `HTTP ${response.status}: ${text.slice(0, 500)}`, response.headers));
			return err(classifyPostmarkError(response, body.data, email));
		},
	};
}

function toPostmarkEmail(email: OutboundEmail, messageStream: string | undefined): PostmarkEmail {
	const [firstTag] = email.tags;
	return {
		From: formatMailbox(email.fromMailbox),
		To: joinMailboxes(email.to),
		...(email.cc.length > 0 && { Cc: joinMailboxes(email.cc) }),
		...(email.bcc.length > 0 && { Bcc: joinMailboxes(email.bcc) }),
		...(email.subject !== "" && { Subject: email.subject }),
		...(email.html && { HtmlBody: email.html }),
		...(email.text && { TextBody: email.text }),
		...(email.replyTo.length > 0 && { ReplyTo: joinMailboxes(email.replyTo) }),
		...(Object.keys(email.headers).length > 0 && {
			Headers: Object.entries(email.headers).map(([Name, Value]) => ({ Name, Value })),
		}),
		Metadata: { mailroom_id: email.id, mailroom_tenant: email.tenantId },
		...(firstTag !== undefined && { Tag: firstTag.value }),
		...(email.attachments.length > 0 && {
			Attachments: email.attachments.map((a) => ({
				Name: a.filename,
				Content: a.content,
				ContentType: a.contentType,
				...(a.contentId !== null && { ContentID: a.contentId }),
			})),
		}),
		...(messageStream !== undefined && messageStream !== "" && { MessageStream: messageStream }),
	};
}

function classifyPostmarkError(response: Response, body: z.infer<typeof ErrorResponse>, email: OutboundEmail): ProviderError {
	const { status, headers } = response;
	const code = body.ErrorCode;
	const message = `HTTP ${status} ErrorCode ${code}: ${body.Message ?? ""}`;
	if (status === 429 || code === RATE_LIMITED) {
		const retry = retryAfterSeconds(headers);
		return { kind: "rate_limited", message, status, ...(retry !== undefined && { retryAfterSeconds: retry }) };
	}
	if (status === 408 || status >= 500) return classifyStatus(status, message, headers);
	if (code === INACTIVE_RECIPIENT) {
		const suppress = [...new Set([...email.to, ...email.cc, ...email.bcc].map(bareAddress))];
		return { kind: "permanent", message, status, code: String(code), scope: "message", suppress };
	}
	if (PROVIDER_ERRORS.has(code)) return { kind: "permanent", message, status, code: String(code), scope: "provider" };
	const error = classifyStatus(status, message, headers);
	return error.kind === "permanent" ? { ...error, code: String(code) } : error;
}

function joinMailboxes(mailboxes: string[]): string {
	return mailboxes.map((m) => formatMailbox(parseMailbox(m) ?? { name: null, address: m })).join(", ");
}

/** `a@b.co` or `Name <a@b.co>`, quoting the name when it holds a special (`"Acme, Inc." <a@b.co>`). */
function formatMailbox(mailbox: Mailbox): string {
	if (mailbox.name === null) return mailbox.address;
	const name = SPECIALS.test(mailbox.name) ? `"${mailbox.name.replace(/["\\]/g, "\\$&")}"` : mailbox.name;
	return `${name} <${mailbox.address}>`;
}
