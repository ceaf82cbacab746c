/**
 * Brevo adapter: `POST {baseUrl}/v3/smtp/email` (https://developers.brevo.com/reference/send-transac-email).
 *
 * Our email id goes out three times, in the body as Brevo documents each place:
 * - `headers.idempotencyKey` (https://developers.brevo.com/docs/heterogenous-versions-batch-emails): Brevo processes
 *   a key once and answers a repeat within 30 minutes with the error code `duplicate_parameter` instead of sending;
 * - `headers["X-Mailin-custom"]` as `{"mailroom_id": …}`, which Brevo echoes in every transactional webhook
 *   (https://developers.brevo.com/docs/transactional-webhooks);
 * - the tag `mailroom_id:<id>` (after the email's own tag values), which webhooks echo in `tags` and the email list
 *   (`GET /v3/smtp/emails`) returns, so an email whose send answer was lost can be found by our id.
 * Recipients are sent once each (compared case-insensitively across to/cc/bcc), so a repeated address cannot earn a
 * `duplicate_parameter` of its own. Brevo takes one `replyTo`: the first reply-to address. Attachments are
 * `{content, name}` (base64); Brevo has no content id, so an inline image goes as an ordinary attachment.
 *
 * Success is 201 (202 when scheduled) with `messageId` (or `messageIds` for message versions, of which we send
 * none). Errors (`{"code", "message"}`): 429 rate limited until `x-sib-ratelimit-reset` (seconds from now,
 * https://developers.brevo.com/docs/limit-headers) unless a `Retry-After` says otherwise; 402 and the codes
 * `not_enough_credits`, `unauthorized`, `permission_denied`, `account_under_validation` are provider-level (the
 * account cannot send); other statuses follow `classifyStatus`, with Brevo's code as `code`.
 *
 * `duplicate_parameter` is read with the attempt number. On a first attempt nothing of ours carried this key before,
 * so it is a refusal of the content (permanent). On a later attempt it means an earlier request with our key
 * reached Brevo: the email was accepted then, and resending is exactly what must not happen, since the key expires
 * after 30 minutes and a later retry would send again. So the adapter looks Brevo's id up by our tag within what is
 * left of the call's timeout: found is `sent`; otherwise `uncertain` (retried here, where the next repeat asks again).
 *
 * Lookup (reconciliation): `GET /v3/smtp/statistics/events?messageId=…` (transactional events, last 30 days by
 * default, https://developers.brevo.com/reference/getemaileventreport-1), read as the webhooks are read (`requests`
 * = sent, `hardBounces` and `invalid` = hard bounces, `softBounces` and the generic `bounces` = soft, `deferred` =
 * delayed, `blocked` and `error` = failed, `spam` = complaint, `opened`, `clicks`; `unsubscribed` and proxy opens
 * `loadedByProxy` report nothing). Without Brevo's id the message is first found by our tag in the email list for
 * the first recipient (`GET /v3/smtp/emails?email=…&startDate=…&endDate=…`,
 * https://developers.brevo.com/reference/get-transac-emails-list), matched here on the returned `tags`, so a filter
 * Brevo ignored can never match a stranger's email. A full page without our tag cannot prove absence: that answer is
 * an error, never "not found".
 */
import { z } from "zod";
import { emailAndName, parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { bodySnippet, callProvider, classifyStatus, lookupError, parseJsonOrUndefined, retryAfterSeconds } from "../http";
import type {
	EmailProvider,
	HttpProviderOptions,
	LookupEvent,
	LookupQuery,
	LookupResult,
	OutboundEmail,
	ProviderError,
	SendContext,
	SendOutcome,
} from "../types";

export type BrevoProviderOptions = { apiKey: string } & HttpProviderOptions;

/** The tag and `X-Mailin-custom` key carrying our email id. */
export const BREVO_ID_KEY = "mailroom_id";
/** The tag carrying our email id: `mailroom_id:<id>`. */
export function brevoIdTag(emailId: string): string {
	return `${BREVO_ID_KEY}:${emailId}`;
}

/** Brevo's answer to a second request with an idempotency key it saw in the last 30 minutes. */
export const DUPLICATE_KEY = "duplicate_parameter";
/** Error codes meaning the account cannot send anything right now (Brevo API error codes). */
const PROVIDER_CODES = new Set(["not_enough_credits", "unauthorized", "permission_denied", "account_under_validation"]);
/** `x-sib-ratelimit-reset`: seconds until the window resets. */
const RESET_HEADER = "x-sib-ratelimit-reset";
/** Below this much time left, resolving a duplicate is not attempted: the answer would likely come too late. */
const MIN_RESOLVE_MS = 1_000;
/** Emails per page of the email list (Brevo's maximum is 1000; its default 500). */
const LIST_LIMIT = 500;
/** Events per message read by a lookup, oldest first: a message has a few per recipient. */
const EVENTS_LIMIT = 500;
/** How far back an email is searched when we do not know when it was sent (the reconciler's own horizon). */
const UNKNOWN_SENT_LOOKBACK_MS = 7 * 86_400_000;
/** The email list accepts a window of at most one month. */
const MAX_LIST_WINDOW_MS = 30 * 86_400_000;
const DAY_MS = 86_400_000;
const DETAIL_MAX = 500;

const optionalString = z.string().optional().catch(undefined);

const SendResponse = z.union([
	z.object({ messageId: z.string().min(1) }).transform((r) => r.messageId),
	z.object({ messageIds: z.array(z.string().min(1)).min(1) }).transform((r) => r.messageIds[0] ?? ""),
]);
const ErrorResponse = z.object({ code: z.string().min(1), message: z.string().optional().catch(undefined) });

/** `GET /v3/smtp/emails`: an answer without the list is only "nothing" when it says `count: 0`. */
const EmailList = z.union([
	z.object({ transactionalEmails: z.array(z.unknown()) }),
	z.object({ count: z.literal(0) }).transform(() => ({ transactionalEmails: [] as unknown[] })),
]);
const ListedEmail = z.object({ messageId: z.string().min(1), tags: z.array(z.string()).catch([]) });

/** `GET /v3/smtp/statistics/events`: Brevo answers `{}` when a message has no events yet. */
const EventReport = z.object({ events: z.array(z.unknown()).catch([]) });
const ReportEvent = z.object({
	event: z.string().min(1),
	email: optionalString,
	date: optionalString,
	messageId: optionalString,
	reason: optionalString,
	link: optionalString,
});
type ReportEvent = z.infer<typeof ReportEvent>;

/** The event report's `event` values as ours (the webhook names differ: see ./webhook.ts). */
const REPORT_EVENTS: Record<string, { type: ProviderEventType; bounce?: "hard" | "soft" }> = {
	requests: { type: "sent" },
	delivered: { type: "delivered" },
	hardBounces: { type: "bounced", bounce: "hard" },
	invalid: { type: "bounced", bounce: "hard" },
	softBounces: { type: "bounced", bounce: "soft" },
	bounces: { type: "bounced", bounce: "soft" },
	deferred: { type: "delivery_delayed" },
	blocked: { type: "failed" },
	error: { type: "failed" },
	spam: { type: "complained" },
	opened: { type: "opened" },
	clicks: { type: "clicked" },
};

type BrevoAddress = { email: string; name?: string };

type SendTransacEmail = {
	sender: BrevoAddress;
	to: BrevoAddress[];
	cc?: BrevoAddress[];
	bcc?: BrevoAddress[];
	replyTo?: BrevoAddress;
	subject: string;
	htmlContent?: string;
	textContent?: string;
	attachment?: { content: string; name: string }[];
	headers: Record<string, string>;
	tags: string[];
};

/**
 * @example
 * const brevo = createBrevoProvider({ apiKey: env.BREVO_API_KEY, baseUrl: "https://api.brevo.com", timeoutMs: 15_000 });
 * const outcome = await brevo.send(email, { attempt: 1 });
 */
export function createBrevoProvider(options: BrevoProviderOptions): EmailProvider {
	const baseUrl = `${options.baseUrl.replace(/\/+$/, "")}/v3`;
	return {
		name: "brevo",
		supportsIdempotency: true,
		async send(email: OutboundEmail, context: SendContext): Promise<SendOutcome> {
			const started = Date.now();
			const init: RequestInit = {
				method: "POST",
				headers: { "api-key": options.apiKey, Accept: "application/json", "Content-Type": "application/json" },
				body: JSON.stringify(toSendTransacEmail(email)),
			};
			const call = await callProvider(`${baseUrl}/smtp/email`, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			if (!response.ok) {
				const error = await classifyBrevoError(response);
				if (error.kind === "permanent" && error.code === DUPLICATE_KEY && context.attempt > 1) {
					return resolveDuplicate(options, baseUrl, email, options.timeoutMs - (Date.now() - started));
				}
				return err(error);
			}
			// A 2xx we cannot read may still mean sent; the idempotency key makes the consumer's retry safe.
			const body = SendResponse.safeParse(parseJsonOrUndefined(await response.text().catch(() => "")));
			if (!body.success) return err({ kind: "uncertain", message: `HTTP ${response.status} without a messageId` });
			return ok({ providerMessageId: body.data });
		},
		async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
			let messageId = query.providerMessageId;
			if (messageId === null) {
				const found = await messageIdByOurId(options, baseUrl, query, options.timeoutMs);
				if (!found.ok) return err(lookupError(found.error));
				if (found.value === null) return ok({ found: false });
				messageId = found.value;
			}
			const events = await eventsOf(options, baseUrl, messageId, query.sentAt ?? Date.now());
			if (!events.ok) return err(lookupError(events.error));
			// Brevo gave (or listed) this id, so it has the message, even before its first event is indexed.
			return ok({ found: true, providerMessageId: messageId, events: events.value });
		},
	};
}

function toSendTransacEmail(email: OutboundEmail): SendTransacEmail {
	const seen = new Set<string>();
	const to = uniqueAddresses(email.to, seen);
	const cc = uniqueAddresses(email.cc, seen);
	const bcc = uniqueAddresses(email.bcc, seen);
	const [replyTo] = email.replyTo;
	const ours = new Set(["idempotencykey", "x-mailin-custom"]);
	const headers = Object.fromEntries(Object.entries(email.headers).filter(([name]) => !ours.has(name.toLowerCase())));
	const tags = [...new Set(email.tags.map((t) => t.value))].filter((v) => !v.startsWith(`${BREVO_ID_KEY}:`));
	return {
		sender: emailAndName(email.fromMailbox),
		to,
		...(cc.length > 0 && { cc }),
		...(bcc.length > 0 && { bcc }),
		...(replyTo !== undefined && { replyTo: emailAndName(replyTo) }),
		subject: email.subject,
		...(email.html && { htmlContent: email.html }),
		...(email.text && { textContent: email.text }),
		...(email.attachments.length > 0 && { attachment: email.attachments.map((a) => ({ content: a.content, name: a.filename })) }),
		headers: { ...headers, "X-Mailin-custom": JSON.stringify({ [BREVO_ID_KEY]: email.id }), idempotencyKey: email.id },
		tags: [...tags, brevoIdTag(email.id)],
	};
}

/** Mailbox strings as Brevo addresses, skipping any address already in `seen` (compared case-insensitively). */
function uniqueAddresses(mailboxes: string[], seen: Set<string>): BrevoAddress[] {
	const out: BrevoAddress[] = [];
	for (const mailbox of mailboxes) {
		const address = emailAndName(mailbox);
		const key = address.email.toLowerCase();
		if (seen.has(key)) continue;
		seen.add(key);
		out.push(address);
	}
	return out;
}

/** A repeated idempotency key: the email reached Brevo before. Its id, if Brevo lists it already; else uncertain. */
async function resolveDuplicate(
	options: BrevoProviderOptions,
	baseUrl: string,
	email: OutboundEmail,
	budgetMs: number,
): Promise<SendOutcome> {
	const message = `Brevo already has a request with idempotency key ${email.id} (${DUPLICATE_KEY}): it was accepted earlier`;
	if (budgetMs < MIN_RESOLVE_MS) return err({ kind: "uncertain", message: `${message}; no time left to look it up` });
	const query = { emailId: email.id, recipients: [...email.to, ...email.cc, ...email.bcc].map((m) => emailAndName(m).email), sentAt: null };
	const found = await messageIdByOurId(options, baseUrl, query, budgetMs);
	if (found.ok && found.value !== null) return ok({ providerMessageId: found.value });
	const why = found.ok ? "not listed yet" : `its lookup failed: ${found.error.message}`;
	return err({ kind: "uncertain", message: `${message}; ${why}` });
}

/** Brevo's id of the email carrying our tag, from the first recipient's email list; null when there is none. */
async function messageIdByOurId(
	options: BrevoProviderOptions,
	baseUrl: string,
	query: Pick<LookupQuery, "emailId" | "recipients" | "sentAt">,
	timeoutMs: number,
): Promise<Result<string | null, ProviderError>> {
	const [recipient] = query.recipients;
	if (recipient === undefined) return err({ kind: "permanent", scope: "provider", message: "Brevo lookup by our id needs a recipient" });
	const now = Date.now();
	// Brevo dates the list in the account's time zone: a day of margin either side covers any offset.
	const end = now + DAY_MS;
	const start = Math.max((query.sentAt ?? now - UNKNOWN_SENT_LOOKBACK_MS) - DAY_MS, end - MAX_LIST_WINDOW_MS);
	const params = new URLSearchParams({
		email: recipient.toLowerCase(),
		startDate: dayOf(start),
		endDate: dayOf(end),
		sort: "desc",
		limit: String(LIST_LIMIT),
		offset: "0",
	});
	const read = await getBrevo(options, `${baseUrl}/smtp/emails?${params}`, timeoutMs);
	if (!read.ok) return read;
	const list = EmailList.safeParse(read.value);
	if (!list.success) return err({ kind: "transient", message: "Brevo's email list answered without transactionalEmails" });
	const tag = brevoIdTag(query.emailId);
	const listed = list.data.transactionalEmails.flatMap((e) => ListedEmail.safeParse(e).data ?? []);
	const match = listed.find((e) => e.tags.includes(tag));
	if (match !== undefined) return ok(match.messageId);
	if (list.data.transactionalEmails.length >= LIST_LIMIT) {
		return err({
			kind: "transient",
			message: `${recipient} has more than ${LIST_LIMIT} emails in the window; ours is not among the newest`,
		});
	}
	return ok(null);
}

/** The message's events, oldest first, in our vocabulary. */
async function eventsOf(
	options: BrevoProviderOptions,
	baseUrl: string,
	messageId: string,
	fallbackAt: number,
): Promise<Result<LookupEvent[], ProviderError>> {
	const params = new URLSearchParams({ messageId, sort: "asc", limit: String(EVENTS_LIMIT), offset: "0" });
	const read = await getBrevo(options, `${baseUrl}/smtp/statistics/events?${params}`, options.timeoutMs);
	if (!read.ok) return read;
	const report = EventReport.safeParse(read.value ?? {});
	if (!report.success) return err({ kind: "transient", message: "Brevo's event report is unreadable" });
	const events = report.data.events.flatMap((e) => ReportEvent.safeParse(e).data ?? []);
	return ok(events.flatMap((e) => lookupEventOf(e, fallbackAt)));
}

function lookupEventOf(event: ReportEvent, fallbackAt: number): LookupEvent[] {
	const mapped = REPORT_EVENTS[event.event];
	if (mapped === undefined) return [];
	const at = Date.parse(event.date ?? "");
	const recipient = event.email === undefined ? undefined : parseMailbox(event.email)?.address.toLowerCase();
	return [
		{
			type: mapped.type,
			at: Number.isNaN(at) ? fallbackAt : at,
			...(mapped.bounce !== undefined && { bounce: mapped.bounce }),
			...(recipient !== undefined && { recipient }),
			detail: brevoDetail(mapped.type, event.event, event.reason, event.link),
		},
	];
}

/**
 * Small, neutral facts of a Brevo event (webhook or event report): a failure's kind and reason, a bounce's reason,
 * a clicked link.
 */
export function brevoDetail(
	type: ProviderEventType,
	brevoEvent: string,
	reason: string | undefined,
	link: string | undefined,
): Record<string, unknown> {
	const message = reason ? reason.slice(0, DETAIL_MAX) : undefined;
	switch (type) {
		case "failed":
			return { reason: brevoEvent.slice(0, DETAIL_MAX), ...(message && { message }) };
		case "bounced":
		case "delivery_delayed":
			return { subtype: brevoEvent.slice(0, DETAIL_MAX), ...(message && { message }) };
		case "clicked":
			return link ? { link: link.slice(0, DETAIL_MAX) } : {};
		default:
			return {};
	}
}

/** A `GET` of Brevo's API: the parsed JSON body (undefined when not JSON), or the error. */
async function getBrevo(options: BrevoProviderOptions, url: string, timeoutMs: number): Promise<Result<unknown, ProviderError>> {
	const init: RequestInit = { method: "GET", headers: { "api-key": options.apiKey, Accept: "application/json" } };
	const call = await callProvider(url, init, timeoutMs, options.fetch);
	if (!call.ok) return call;
	const { response } = call;
	if (!response.ok) return err(await classifyBrevoError(response));
	return ok(parseJsonOrUndefined(await response.text().catch(() => "")));
}

function dayOf(epochMs: number): string {
	return new Date(epochMs).toISOString().slice(0, 10);
}

async function classifyBrevoError(response: Response): Promise<ProviderError> {
	const { status, headers } = response;
	const text = await bodySnippet(response);
	const body = ErrorResponse.safeParse(parseJsonOrUndefined(text));
	const code = body.success ? body.data.code : undefined;
	const message = body.success ? `HTTP ${status} ${code}: ${body.data.message ?? ""}` : `HTTP ${status}: ${text.slice(0, 500)}`;
	if (status === 429) {
		const retry = retryAfterSeconds(headers) ?? resetSeconds(headers);
		return { kind: "rate_limited", message, status, ...(retry !== undefined && { retryAfterSeconds: retry }) };
	}
	if (status < 500 && (status === 402 || (code !== undefined && PROVIDER_CODES.has(code)))) {
		return { kind: "permanent", message, status, scope: "provider", ...(code !== undefined && { code }) };
	}
	const error = classifyStatus(status, message, headers);
	return error.kind === "permanent" && code !== undefined ? { ...error, code } : error;
}

/** `x-sib-ratelimit-reset`, seconds from now (a delta, unlike the epoch reset headers `retryAfterSeconds` reads). */
function resetSeconds(headers: Headers): number | undefined {
	const seconds = Number(headers.get(RESET_HEADER) ?? "");
	return headers.has(RESET_HEADER) && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : undefined;
}
