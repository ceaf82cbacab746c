/**
 * Mailtrap adapter: `POST {baseUrl}/api/send`, the transactional stream of the Email Sending API
 * (mailtrap/mailtrap-openapi `specs/email-sending-transactional.openapi.yml`, https://docs.mailtrap.io/developers).
 *
 * Bearer token auth, and a `User-Agent` of our own: the spec warns that bare requests without one may be blocked by
 * Mailtrap's edge protection. Our ids go out as `custom_variables` (`mailroom_id`, `mailroom_tenant`; the spec
 * allows only string values), which Mailtrap echoes in every webhook event and in its email logs. The first tag
 * value is the `category` (one per email, at most 255 characters). Mailtrap takes one `reply_to`: the first reply-to
 * address. Attachments carry `disposition: inline` and `content_id` where they have a content id. Empty `text` or
 * `html` is left out (the spec requires at least one character).
 *
 * Success is 200 `{"success": true, "message_ids": […]}`, one id per recipient: the first is ours (webhooks are
 * matched by our `custom_variables` whichever recipient they concern). A 2xx without one is uncertain. Mailtrap has
 * no idempotency key, so an uncertain outcome is reconciled, never blindly retried. Errors
 * (`{"success": false, "errors": […]}`) follow `classifyStatus`: 400 is a refusal of this email, 401/403 (bad token,
 * unverified sending domain) provider-level, 429 rate limited (after `Retry-After` when Mailtrap sends one; it
 * documents none), 503 transient, other 5xx uncertain.
 *
 * Lookup: the Email Logs API of the account API host (`MAILTRAP_ACCOUNT_BASE_URL`, https://mailtrap.io;
 * https://docs.mailtrap.io/developers/email-sending/email-logs, mailtrap-openapi `specs/email-sending.openapi.yml`):
 * `GET /api/email_logs/{message_id}` gives the message's `events` (a 404 means Mailtrap has no such message).
 * Without Mailtrap's id, the message is found in
 * `GET /api/email_logs?filters[to]…&filters[sent_after]…` by our `mailroom_id` custom variable, compared here, page
 * by page up to `MAX_LIST_PAGES`; pages left unread cannot prove absence, so that answer is an error, never "not
 * found". Events are read as the webhooks are read (./webhook.ts), and a listed message also reports `sent` at its
 * `sent_at`. Only the first recipient's message is read (one id per recipient).
 */
import { z } from "zod";
import { emailAndName, parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import { bodySnippet, callProvider, classifyStatus, ERROR_BODY_MAX, lookupError, parseJsonOrUndefined } from "../http";
import type {
	EmailProvider,
	HttpProviderOptions,
	LookupEvent,
	LookupQuery,
	LookupResult,
	OutboundEmail,
	ProviderError,
	SendOutcome,
} from "../types";
import { mailtrapEventOf } from "./webhook";

export type MailtrapProviderOptions = {
	apiToken: string;
	/** The account API host (email logs), not the sending host. */
	accountBaseUrl: string;
} & HttpProviderOptions;

/** The custom variable carrying our email id. */
export const MAILTRAP_ID_VARIABLE = "mailroom_id";

const USER_AGENT = "Mailroom/1";
const MAX_CATEGORY_CHARS = 255;
/** Pages of the email log list read when looking for our id; more would cost the account's 60 list calls a minute. */
const MAX_LIST_PAGES = 5;
/** How far back an email is searched when we do not know when it was sent (the reconciler's own horizon). */
const UNKNOWN_SENT_LOOKBACK_MS = 7 * 86_400_000;
/** Clock skew between us and Mailtrap allowed around the search window. */
const WINDOW_MARGIN_MS = 3_600_000;

const optionalString = z.string().optional().catch(undefined);

const SentResponse = z.object({ success: z.literal(true), message_ids: z.array(z.string().min(1)).min(1) });

/** spec `SendingMessage`: what we merely read degrades to absent. */
const SendingMessage = z.object({
	message_id: z.string().min(1),
	to: optionalString,
	sent_at: z.string().nullish().catch(undefined),
	custom_variables: z.record(z.string(), z.unknown()).nullish().catch(undefined),
	events: z.array(z.unknown()).nullish().catch(undefined),
});
type SendingMessage = z.infer<typeof SendingMessage>;
const MessageEvent = z.object({
	event_type: z.string().min(1),
	created_at: optionalString,
	details: z.record(z.string(), z.unknown()).nullish().catch(undefined),
});
/** spec `EmailLogsListResponse`: `messages` and `next_page_cursor` are required. */
const EmailLogsList = z.object({ messages: z.array(z.unknown()), next_page_cursor: z.string().nullish() });

type MailtrapAddress = { email: string; name?: string };

type MailtrapEmail = {
	from: MailtrapAddress;
	to: MailtrapAddress[];
	cc?: MailtrapAddress[];
	bcc?: MailtrapAddress[];
	reply_to?: MailtrapAddress;
	subject: string;
	text?: string;
	html?: string;
	attachments?: { content: string; filename: string; type: string; disposition: "attachment" | "inline"; content_id?: string }[];
	headers?: Record<string, string>;
	custom_variables: { mailroom_id: string; mailroom_tenant: string };
	category?: string;
};

/**
 * @example
 * const mailtrap = createMailtrapProvider({
 *   apiToken: env.MAILTRAP_API_TOKEN, baseUrl: "https://send.api.mailtrap.io", accountBaseUrl: "https://mailtrap.io", timeoutMs: 15_000,
 * });
 */
export function createMailtrapProvider(options: MailtrapProviderOptions): EmailProvider {
	const sendUrl = `${options.baseUrl.replace(/\/+$/, "")}/api/send`;
	const logsUrl = `${options.accountBaseUrl.replace(/\/+$/, "")}/api/email_logs`;
	return {
		name: "mailtrap",
		supportsIdempotency: false,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const init: RequestInit = {
				method: "POST",
				headers: { ...authHeaders(options), "Content-Type": "application/json" },
				body: JSON.stringify(toMailtrapEmail(email)),
			};
			const call = await callProvider(sendUrl, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			const text = await bodySnippet(response);
			if (response.ok) {
				const sent = SentResponse.safeParse(parseJsonOrUndefined(text));
				// Mailtrap may have accepted it; without idempotency the consumer reconciles instead of retrying.
				if (!sent.success) return err({ kind: "uncertain", message: `HTTP ${response.status} without message_ids: ${text.slice(0, 500)}` });
				return ok({ providerMessageId: sent.data.message_ids[0] ?? "" });
			}
			return err(classifyStatus(response.status, `HTTP ${response.status}: ${errorsOf(text)}`, response.headers));
		},
		async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
			let messageId = query.providerMessageId;
			let listed: SendingMessage | null = null;
			if (messageId === null) {
				const found = await messageByOurId(options, logsUrl, query);
				if (!found.ok) return err(lookupError(found.error));
				if (found.value === null) return ok({ found: false });
				listed = found.value;
				messageId = listed.message_id;
			}
			// The list leaves the events out: they come with the message itself.
			const read = await getMailtrap(options, `${logsUrl}/${encodeURIComponent(messageId)}`);
			if (!read.ok) return err(lookupError(read.error));
			if (read.value === null && listed === null) return ok({ found: false });
			const parsed = read.value === null ? null : SendingMessage.safeParse(read.value);
			if (parsed?.success === false) return err({ kind: "transient", message: "Mailtrap's email log message is unreadable" });
			// Listed a moment ago but not readable by id yet: what the list says is what there is.
			const message = parsed?.data ?? listed;
			if (message === null) return ok({ found: false });
			return ok({ found: true, providerMessageId: message.message_id, events: eventsOf(message, query.sentAt ?? Date.now()) });
		},
	};
}

function authHeaders(options: MailtrapProviderOptions): Record<string, string> {
	return { Authorization: `Bearer ${options.apiToken}`, Accept: "application/json", "User-Agent": USER_AGENT };
}

function toMailtrapEmail(email: OutboundEmail): MailtrapEmail {
	const [firstTag] = email.tags;
	const [replyTo] = email.replyTo;
	return {
		from: emailAndName(email.fromMailbox),
		to: email.to.map((m) => emailAndName(m)),
		...(email.cc.length > 0 && { cc: email.cc.map((m) => emailAndName(m)) }),
		...(email.bcc.length > 0 && { bcc: email.bcc.map((m) => emailAndName(m)) }),
		...(replyTo !== undefined && { reply_to: emailAndName(replyTo) }),
		subject: email.subject,
		...(email.text && { text: email.text }),
		...(email.html && { html: email.html }),
		...(email.attachments.length > 0 && {
			attachments: email.attachments.map((a) => ({
				content: a.content,
				filename: a.filename,
				type: a.contentType,
				disposition: a.contentId !== null ? ("inline" as const) : ("attachment" as const),
				...(a.contentId !== null && { content_id: a.contentId }),
			})),
		}),
		...(Object.keys(email.headers).length > 0 && { headers: email.headers }),
		custom_variables: { mailroom_id: email.id, mailroom_tenant: email.tenantId },
		...(firstTag !== undefined && firstTag.value.length <= MAX_CATEGORY_CHARS && { category: firstTag.value }),
	};
}

/** The message carrying our id among the first recipient's messages since it was sent; null when there is none. */
async function messageByOurId(
	options: MailtrapProviderOptions,
	logsUrl: string,
	query: LookupQuery,
): Promise<Result<SendingMessage | null, ProviderError>> {
	const [recipient] = query.recipients;
	if (recipient === undefined) return err({ kind: "permanent", scope: "provider", message: "Mailtrap lookup by our id needs a recipient" });
	const now = Date.now();
	const filters = new URLSearchParams({
		"filters[to][operator]": "ci_equal",
		"filters[to][value]": recipient,
		"filters[sent_after]": new Date((query.sentAt ?? now - UNKNOWN_SENT_LOOKBACK_MS) - WINDOW_MARGIN_MS).toISOString(),
		"filters[sent_before]": new Date(now + WINDOW_MARGIN_MS).toISOString(),
	});
	let cursor: string | null = null;
	for (let page = 0; page < MAX_LIST_PAGES; page++) {
		const params = new URLSearchParams(filters);
		if (cursor !== null) params.set("search_after", cursor);
		const read = await getMailtrap(options, `${logsUrl}?${params}`);
		if (!read.ok) return read;
		const list = EmailLogsList.safeParse(read.value);
		if (!list.success) return err({ kind: "transient", message: "Mailtrap's email log list is unreadable" });
		const messages = list.data.messages.flatMap((m) => SendingMessage.safeParse(m).data ?? []);
		const match = messages.find((m) => m.custom_variables?.[MAILTRAP_ID_VARIABLE] === query.emailId);
		if (match !== undefined) return ok(match);
		cursor = list.data.next_page_cursor ?? null;
		if (cursor === null) return ok(null);
	}
	return err({
		kind: "transient",
		message: `${recipient} has more than ${MAX_LIST_PAGES} pages of messages in the window; ours is not on them`,
	});
}

/** The message's facts: `sent` when Mailtrap sent it, then its events, in our vocabulary. */
function eventsOf(message: SendingMessage, fallbackAt: number): LookupEvent[] {
	const recipient = message.to === undefined ? undefined : parseMailbox(message.to)?.address.toLowerCase();
	const sentAt = Date.parse(message.sent_at ?? "");
	const events: LookupEvent[] = [{ type: "sent", at: Number.isNaN(sentAt) ? fallbackAt : sentAt, detail: {} }];
	for (const element of message.events ?? []) {
		const parsed = MessageEvent.safeParse(element);
		if (!parsed.success) continue;
		const { event_type: type, created_at: createdAt, details } = parsed.data;
		const at = Date.parse(createdAt ?? "");
		const event = mailtrapEventOf(type, {
			at: Number.isNaN(at) ? fallbackAt : at,
			recipient,
			reason: stringOf(details?.reject_reason),
			response: stringOf(details?.email_service_provider_response),
			bounceCategory: stringOf(details?.bounce_category),
			url: stringOf(details?.click_url),
		});
		if (event !== undefined) events.push(event);
	}
	return events;
}

/** A `GET` of the account API: the parsed JSON body, null on 404 (no such message), or the error. */
async function getMailtrap(options: MailtrapProviderOptions, url: string): Promise<Result<unknown, ProviderError>> {
	const call = await callProvider(url, { method: "GET", headers: authHeaders(options) }, options.timeoutMs, options.fetch);
	if (!call.ok) return call;
	const { response } = call;
	const text = await bodySnippet(response, response.ok ? Number.POSITIVE_INFINITY : ERROR_BODY_MAX);
	if (response.status === 404) return ok(null);
	if (!response.ok) return err(classifyStatus(response.status, `HTTP ${response.status}: ${errorsOf(text)}`, response.headers));
	return ok(parseJsonOrUndefined(text) ?? {});
}

/** The error messages of a Mailtrap error body (`errors` as a list or a string, or `error`), else the text. */
function errorsOf(text: string): string {
	const body = parseJsonOrUndefined(text);
	if (typeof body === "object" && body !== null) {
		const { errors, error } = body as { errors?: unknown; error?: unknown };
		if (Array.isArray(errors)) return errors.filter((e) => typeof e === "string").join("; ");
		if (typeof errors === "string") return errors;
		if (typeof error === "string") return error;
	}
	return text.slice(0, 500);
}

function stringOf(value: unknown): string | undefined {
	return typeof value === "string" && value !== "" ? value : undefined;
}
