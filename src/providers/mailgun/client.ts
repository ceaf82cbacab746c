/**
 * Mailgun adapter: `POST {baseUrl}/v3/{domain}/messages` as `multipart/form-data` with Basic auth `api:<key>`
 * (https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages; mailgun.openapi.yaml
 * `POST-v3--domain-name--messages`).
 *
 * Fields: `from`, one `to`/`cc`/`bcc` part per recipient (display names quoted where they hold a special, as Mailgun
 * also splits on commas), `subject`, `text`, `html`, `h:Reply-To` and `h:<name>` for custom headers, `o:tag` for the
 * first three tags as `name:value` (Mailgun's limit: three tags of at most 128 ASCII characters; longer ones are not
 * sent), `v:mailroom_id` (our id, echoed in every event as `user-variables`), and each attachment as a file part:
 * `inline` when it has a content id (Mailgun sets the file name as its Content-ID, so it is sent under the content id
 * the HTML's `cid:` refers to), `attachment` otherwise. Mailgun has no idempotency key: an unknown outcome is
 * reconciled, never retried blindly.
 *
 * Answers (https://documentation.mailgun.com/docs/mailgun/quickstart-guide/responses): 200
 * `{"id":"<…@domain>","message":"Queued. Thank you."}` (the id is kept without `<…>`, as events write it); 429 with
 * the wait in the message text ("try again after 120 seconds"; a `Retry-After` header wins when present); 401/403
 * (bad key) and 402/404 (account or domain cannot send; a 404 may also be Mailgun's eventual consistency) are
 * provider-level; a 400 saying the domain "is not allowed to send" is provider-level too; other 4xx are this
 * email's; 5xx follow the outcome classes.
 *
 * Lookup (Events API, `GET /v3/{domain}/events`, mailgun.openapi.yaml `get-v3-domain_name-events`; deprecated in
 * favour of the Logs API but served): with Mailgun's id, `message-id=<id>&begin=…&ascending=yes&limit=300`, every
 * page. Without it (an uncertain send) the spec has no filter on user variables, so the `accepted` events of the first
 * recipient around the send (`event=accepted&recipient=…&begin=…&end=…`) are searched for our `mailroom_id`, page by
 * page until Mailgun answers an empty page (its documented end of a range), which alone proves the message is not
 * there. Pages are followed only on Mailgun's own origin (they carry our credentials), at most LOOKUP_PAGES.
 */
import { z } from "zod";
import { normalizedMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import { decodeBase64 } from "../../lib/webcrypto";
import { bodySnippet, callProvider, classifyStatus, lookupError, parseJsonOrUndefined } from "../http";
import type {
	EmailProvider,
	HttpProviderOptions,
	InboundEvent,
	LookupEvent,
	LookupQuery,
	LookupResult,
	OutboundEmail,
	ProviderError,
	SendOutcome,
} from "../types";
import { bareMessageId, MAILGUN_ID_VARIABLE, MailgunEvent, mailgunEventOf } from "./webhook";

export type MailgunProviderOptions = { apiKey: string; domain: string } & HttpProviderOptions;

const TAGS_MAX = 3;
const TAG_CHARS_MAX = 128;
/** The Events API's page maximum. */
const PAGE_LIMIT = 300;
/** Pages read per lookup: a message has a few events per recipient (at most 50 recipients). */
const LOOKUP_PAGES = 5;
/** How far around the send the `accepted` event is searched for (clocks differ; Mailgun logs it on acceptance). */
const SEARCH_BEFORE_MS = 10 * 60_000;
/** Without a send time: Mailgun keeps events for at least 3 days (one on free plans). */
const SEARCH_WITHOUT_SENT_AT_MS = 3 * 86_400_000;

const SendResponse = z.object({ id: z.string().min(1) });
const ErrorResponse = z.object({ message: z.string() });
const EventsPage = z.object({
	items: z.array(z.unknown()),
	paging: z
		.object({ next: z.string().optional().catch(undefined) })
		.optional()
		.catch(undefined),
});

/**
 * @example
 * const mailgun = createMailgunProvider({ apiKey: env.MAILGUN_API_KEY, domain: "mg.acme.com", baseUrl: "https://api.mailgun.net", timeoutMs: 15_000 });
 */
export function createMailgunProvider(options: MailgunProviderOptions): EmailProvider {
	const baseUrl = options.baseUrl.replace(/\/+$/, "");
	const domainPath = `${baseUrl}/v3/${encodeURIComponent(options.domain)}`;
	const authorization = `Basic ${btoa(`api:${options.apiKey}`)}`;
	return {
		name: "mailgun",
		supportsIdempotency: false,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const init: RequestInit = {
				method: "POST",
				headers: { Authorization: authorization, Accept: "application/json" },
				body: toForm(email),
			};
			const call = await callProvider(`${domainPath}/messages`, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			const text = await bodySnippet(response);
			const json = parseJsonOrUndefined(text);
			if (response.ok) {
				const sent = SendResponse.safeParse(json);
				const id = sent.success ? bareMessageId(sent.data.id) : undefined;
				if (id !== undefined) return ok({ providerMessageId: id });
				// Mailgun may have queued it; without idempotency the consumer reconciles instead of retrying.
				return err({ kind: "uncertain", message: `HTTP ${response.status} without an id: ${text.slice(0, 500)}` });
			}
			const body = ErrorResponse.safeParse(json);
			return err(classifyMailgunError(response, body.success ? body.data.message : text.slice(0, 500)));
		},
		async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
			const now = Date.now();
			let messageId = query.providerMessageId === null ? undefined : bareMessageId(query.providerMessageId);
			if (messageId === undefined) {
				const found = await messageIdOf(options, domainPath, authorization, query, now);
				if (!found.ok) return found;
				if (found.value === null) return ok({ found: false });
				messageId = found.value;
			}
			const begin = (query.sentAt ?? now - SEARCH_WITHOUT_SENT_AT_MS) - SEARCH_BEFORE_MS;
			const params = new URLSearchParams({
				"message-id": messageId,
				begin: String(Math.floor(begin / 1000)),
				ascending: "yes",
				limit: String(PAGE_LIMIT),
			});
			const events: LookupEvent[] = [];
			const read = await readPages(options, authorization, `${domainPath}/events?${params}`, baseUrl, (item) => {
				const event = mailgunEventOf(item, now);
				if (event !== null) events.push(lookupEventOf(event));
				return false;
			});
			if (!read.ok) return read;
			if (events.length === 0) {
				// Found by our variable a moment ago: its events not being readable (yet) is no proof it was never sent.
				if (query.providerMessageId === null)
					return err({ kind: "transient", message: `Message ${messageId} was found, its events were not` });
				return ok({ found: false });
			}
			return ok({ found: true, providerMessageId: messageId, events });
		},
	};
}

/** Mailgun's id of the message carrying our `mailroom_id`, from the `accepted` events of its first recipient. */
async function messageIdOf(
	options: MailgunProviderOptions,
	domainPath: string,
	authorization: string,
	query: LookupQuery,
	now: number,
): Promise<Result<string | null, ProviderError>> {
	const [recipient] = query.recipients;
	if (recipient === undefined) return err({ kind: "transient", message: "No recipient to search Mailgun's events by" });
	const sentAt = query.sentAt ?? now - SEARCH_WITHOUT_SENT_AT_MS;
	const params = new URLSearchParams({
		event: "accepted",
		recipient,
		begin: String(Math.floor((sentAt - SEARCH_BEFORE_MS) / 1000)),
		end: String(Math.ceil(now / 1000)),
		limit: String(PAGE_LIMIT),
	});
	let found: string | null = null;
	const read = await readPages(options, authorization, `${domainPath}/events?${params}`, options.baseUrl, (item) => {
		if (item["user-variables"]?.[MAILGUN_ID_VARIABLE] !== query.emailId) return false;
		found = bareMessageId(item.message?.headers?.["message-id"]) ?? null;
		return found !== null;
	});
	if (!read.ok) return read;
	return ok(found);
}

/**
 * Reads Events API pages from `url`, handing each item to `visit` until it answers true (stop) or Mailgun answers an
 * empty page (the end). More than LOOKUP_PAGES full pages, or a next page off Mailgun's origin, is an error: the end
 * was not seen, so nothing may be concluded from what was not found.
 */
async function readPages(
	options: MailgunProviderOptions,
	authorization: string,
	url: string,
	baseUrl: string,
	visit: (item: MailgunEvent) => boolean,
): Promise<Result<void, ProviderError>> {
	const origin = new URL(baseUrl).origin;
	let next = url;
	for (let page = 0; page < LOOKUP_PAGES; page++) {
		const init: RequestInit = { method: "GET", headers: { Authorization: authorization, Accept: "application/json" } };
		const call = await callProvider(next, init, options.timeoutMs, options.fetch);
		if (!call.ok) return err(lookupError(call.error));
		const { response } = call;
		const text = await bodySnippet(response, Number.POSITIVE_INFINITY);
		if (!response.ok) {
			const body = ErrorResponse.safeParse(parseJsonOrUndefined(text));
			return err(lookupError(classifyMailgunError(response, body.success ? body.data.message : text.slice(0, 500))));
		}
		const parsed = EventsPage.safeParse(parseJsonOrUndefined(text));
		if (!parsed.success) return err({ kind: "transient", message: `Events API answered without items: ${text.slice(0, 200)}` });
		if (parsed.data.items.length === 0) return ok(undefined);
		for (const item of parsed.data.items) {
			const event = MailgunEvent.safeParse(item);
			if (event.success && visit(event.data)) return ok(undefined);
		}
		const following = parsed.data.paging?.next;
		if (following === undefined || !sameOrigin(following, origin)) {
			return err({ kind: "transient", message: "Events API gave no next page on its own origin before the end" });
		}
		next = following;
	}
	return err({ kind: "transient", message: `More than ${LOOKUP_PAGES} pages of events: not read to the end` });
}

function sameOrigin(url: string, origin: string): boolean {
	try {
		return new URL(url).origin === origin;
	} catch {
		return false;
	}
}

function lookupEventOf(event: InboundEvent): LookupEvent {
	const { type, at, bounce, recipient, detail } = event;
	return { type, at, ...(bounce && { bounce }), ...(recipient && { recipient }), detail };
}

function toForm(email: OutboundEmail): FormData {
	const form = new FormData();
	form.append("from", normalizedMailbox(email.from));
	for (const to of email.to) form.append("to", normalizedMailbox(to));
	for (const cc of email.cc) form.append("cc", normalizedMailbox(cc));
	for (const bcc of email.bcc) form.append("bcc", normalizedMailbox(bcc));
	form.append("subject", email.subject);
	if (email.text !== null) form.append("text", email.text);
	if (email.html !== null) form.append("html", email.html);
	if (email.replyTo.length > 0) form.append("h:Reply-To", email.replyTo.map(normalizedMailbox).join(", "));
	for (const [name, value] of Object.entries(email.headers)) form.append(`h:${name}`, value);
	for (const tag of email.tags
		.map((t) => `${t.name}:${t.value}`)
		.filter((t) => t.length <= TAG_CHARS_MAX)
		.slice(0, TAGS_MAX)) {
		form.append("o:tag", tag);
	}
	form.append(`v:${MAILGUN_ID_VARIABLE}`, email.id);
	if (email.tracking) {
		form.append("o:tracking-opens", email.tracking.open ? "yes" : "no");
		form.append("o:tracking-clicks", email.tracking.click ? "htmlonly" : "no");
	}
	for (const a of email.attachments) {
		const blob = new Blob([decodeBase64(a.content) ?? new Uint8Array()], { type: a.contentType });
		if (a.contentId !== null) form.append("inline", blob, a.contentId.replace(/^<|>$/g, ""));
		else form.append("attachment", blob, a.filename);
	}
	return form;
}

function classifyMailgunError(response: Response, text: string): ProviderError {
	const { status, headers } = response;
	const message = `HTTP ${status}: ${text}`;
	const error = classifyStatus(status, message, headers);
	if (error.kind === "rate_limited" && error.retryAfterSeconds === undefined) {
		const wait = /try again after (\d+) seconds?/i.exec(text)?.[1];
		if (wait !== undefined) return { ...error, retryAfterSeconds: Number(wait) };
	}
	if (error.kind !== "permanent") return error;
	if (status === 402 || status === 404 || /is not allowed to send/i.test(text)) return { ...error, scope: "provider" };
	return error;
}
