/**
 * SendGrid adapter: `POST {baseUrl}/v3/mail/send` (sendgrid-mail-v3.openapi.json `PostMailSend`, providers.md §2).
 *
 * One personalization carries all recipients and our ids as `custom_args` (`mailroom_id`, `mailroom_tenant`),
 * which SendGrid echoes as top-level keys of every event webhook item. They sit inside the personalization
 * because the spec types top-level `custom_args` as a string. SendGrid has no idempotency key, so an uncertain
 * outcome must be reconciled, never blindly retried. Fields the spec forbids empty (subject, content values) and
 * empty lists are left out; an address repeated across to/cc/bcc is sent once, as SendGrid rejects duplicates.
 * Errors follow `classifyStatus`, with `X-RateLimit-Reset` (epoch seconds) as the retry time of a 429.
 *
 * Lookup reads the Email Activity API (sendgrid-email-activity-v3.openapi.json, providers.md §2 "Status lookup"),
 * which needs SendGrid's paid Email Activity add-on and an API key with Email Activity access; without it every
 * lookup fails (a provider-level error) and the reconciler keeps asking. See `lookup` for the queries.
 */
import { z } from "zod";
import { type Mailbox, parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { bodySnippet, callProvider, classifyStatus, lookupError, parseJsonOrUndefined } from "../http";
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

export type SendGridProviderOptions = { apiKey: string } & HttpProviderOptions;

/** Prefix of the id we record when a 2xx lacks `X-Message-Id` (see `send`). */
export const SENDGRID_SYNTHETIC_ID_PREFIX = "sendgrid:";

const MAX_CATEGORIES = 10;
const MAX_CATEGORY_CHARS = 255;

const ErrorResponse = z.object({
	errors: z.array(z.object({ message: z.string(), field: z.string().nullish() })).min(1),
});

/** The Activity search lists one message per recipient; at most 1000 per page (spec `ListMessage.limit`). */
const MAX_SEARCH_LIMIT = 1000;
/** Found messages whose events are read one by one; the rest are reported from the search's summary. */
const MAX_DETAILED_MESSAGES = 10;
const DETAIL_MAX = 500;

const optionalString = z.string().optional().catch(undefined);

/** spec `ListMessage` 200 ("Abbv. Message"): only `msg_id` is required; what we merely read degrades to absent. */
const MessageSummary = z.object({
	msg_id: z.string().min(1),
	to_email: optionalString,
	status: optionalString,
	last_event_time: optionalString,
});
type MessageSummary = z.infer<typeof MessageSummary>;
const MessageList = z.object({ messages: z.array(MessageSummary) });

/** spec `GetMessage` 200 (`Message`); events are parsed one by one so one odd event costs only itself. */
const MessageDetails = z.object({ to_email: optionalString, events: z.array(z.unknown()).catch([]) });
const ActivityEvent = z.object({
	event_name: z.string().min(1),
	processed: optionalString,
	reason: optionalString,
	bounce_type: optionalString,
	url: optionalString,
});
type ActivityEvent = z.infer<typeof ActivityEvent>;

/** Activity `event_name`s as ours, as the Event Webhook's twins are read (webhooks/inbound/sendgrid.ts). */
const ACTIVITY_EVENTS = new Map<string, ProviderEventType>([
	["processed", "sent"],
	["delivered", "delivered"],
	["deferred", "delivery_delayed"],
	["bounced", "bounced"],
	["dropped", "failed"],
	["spam_report", "complained"],
	["opened", "opened"],
	["clicked", "clicked"],
]);

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
	tracking_settings?: { open_tracking: { enable: boolean }; click_tracking: { enable: boolean; enable_text: boolean } };
};

/**
 * @example
 * const sendgrid = createSendGridProvider({ apiKey: env.SENDGRID_API_KEY, baseUrl: "https://api.sendgrid.com", timeoutMs: 15_000 });
 */
export function createSendGridProvider(options: SendGridProviderOptions): EmailProvider {
	const baseUrl = options.baseUrl.replace(/\/+$/, "");
	const url = `${baseUrl}/v3/mail/send`;
	const messagesUrl = `${baseUrl}/v3/messages`;
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
		/**
		 * Searches the Email Activity for the email's messages (one per recipient), then reads each one's events:
		 *
		 * - with SendGrid's id: `GET /v3/messages?limit=N&query=msg_id LIKE '<X-Message-Id>%'`. Activity ids are the
		 *   full SendGrid Message ID (`<X-Message-Id>.filter…`, one per recipient), so `GET /v3/messages/{X-Message-Id}`
		 *   finds nothing; this prefix query is SendGrid's own answer (support article "How To Filter results with
		 *   Activity Feed API for X-Message-ID").
		 * - without it (an uncertain send, or a 202 that lacked `X-Message-Id`): by our `custom_args`, which the
		 *   Activity keeps as the message's `unique_args`: `unique_args['mailroom_id']="<our id>"` (the unique-arg
		 *   query as Jericho/StrongGrid `SearchCriteriaUniqueArg` writes it; SendGrid's query reference is not in the
		 *   spec, and this was not tried against a live account).
		 *
		 * N is the number of recipients (SendGrid sends each address once, as we do). Each found message is then read
		 * with `GET /v3/messages/{msg_id}`; beyond `MAX_DETAILED_MESSAGES`, or when that answers 404 (not indexed yet),
		 * the search's `status` stands in (`processed` is sent, `delivered` delivered, `not_delivered` says too little).
		 * An empty search means SendGrid has no such email.
		 */
		async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
			const limit = Math.min(Math.max(query.recipients.length, 1), MAX_SEARCH_LIMIT);
			const searched = await getActivity(options, `${messagesUrl}?limit=${limit}&query=${encodeQuery(activityQueryOf(query))}`);
			if (!searched.ok) return searched;
			// No match is an empty list (the spec gives the search no 404): a 404 means the endpoint is not there.
			if (!searched.value.found) {
				return err({ kind: "permanent", scope: "provider", status: 404, message: "Email Activity search: HTTP 404" });
			}
			const list = MessageList.safeParse(searched.value.body);
			if (!list.success) return err({ kind: "transient", message: "Email Activity search answered without a message list" });
			const [first] = list.data.messages;
			if (first === undefined) return ok({ found: false });

			const fallbackAt = query.sentAt ?? Date.now();
			const events: LookupEvent[] = [];
			for (const [index, summary] of list.data.messages.entries()) {
				const read = index < MAX_DETAILED_MESSAGES ? await messageEvents(options, messagesUrl, summary, fallbackAt) : ok(null);
				if (!read.ok) return read;
				events.push(...(read.value ?? summaryEvents(summary, fallbackAt)));
			}
			const known = query.providerMessageId;
			// An Activity msg_id is `<X-Message-Id>.filter…`; the part before the first dot is what a send stores.
			const providerMessageId = known !== null && !isSynthetic(known) ? known : (first.msg_id.split(".")[0] ?? first.msg_id);
			return ok({ found: true, providerMessageId, events });
		},
	};
}

type Activity = { found: false } | { found: true; body: unknown };

/** `GET` from the Email Activity API: the parsed body, `found: false` on 404, or the lookup's error. */
async function getActivity(options: SendGridProviderOptions, url: string): Promise<Result<Activity, ProviderError>> {
	const init: RequestInit = { method: "GET", headers: { Authorization: `Bearer ${options.apiKey}`, Accept: "application/json" } };
	const call = await callProvider(url, init, options.timeoutMs, options.fetch);
	if (!call.ok) return err(lookupError(call.error));
	const { response } = call;
	if (response.status === 404) {
		await response.body?.cancel();
		return ok({ found: false });
	}
	if (!response.ok) return err(lookupError(await classifySendGridError(response)));
	return ok({ found: true, body: parseJsonOrUndefined(await response.text().catch(() => "")) });
}

/** One found message's events from `GET /v3/messages/{msg_id}`; null when that does not know it yet (404). */
async function messageEvents(
	options: SendGridProviderOptions,
	messagesUrl: string,
	summary: MessageSummary,
	fallbackAt: number,
): Promise<Result<LookupEvent[] | null, ProviderError>> {
	const read = await getActivity(options, `${messagesUrl}/${encodeURIComponent(summary.msg_id)}`);
	if (!read.ok) return read;
	if (!read.value.found) return ok(null);
	const details = MessageDetails.safeParse(read.value.body);
	if (!details.success) return err({ kind: "transient", message: `Email Activity message ${summary.msg_id} is unreadable` });
	const recipient = recipientOf(details.data.to_email ?? summary.to_email);
	const events: LookupEvent[] = [];
	for (const element of details.data.events) {
		const event = ActivityEvent.safeParse(element);
		const mapped = event.success ? toLookupEvent(event.data, recipient, fallbackAt) : undefined;
		if (mapped !== undefined) events.push(mapped);
	}
	return ok(events);
}

function isSynthetic(providerMessageId: string): boolean {
	return providerMessageId.startsWith(SENDGRID_SYNTHETIC_ID_PREFIX);
}

/** The Activity query that finds an email's messages (see `lookup`); both ids are URL-safe base64 or UUIDs. */
function activityQueryOf(query: LookupQuery): string {
	const id = query.providerMessageId;
	if (id !== null && !isSynthetic(id)) return `msg_id LIKE '${id}%'`;
	return `unique_args['mailroom_id']="${query.emailId}"`;
}

/** Percent-encoding as SendGrid's examples show it: spaces as `%20`, quotes as `%27` and `%22`. */
function encodeQuery(activityQuery: string): string {
	return encodeURIComponent(activityQuery).replace(/'/g, "%27");
}

function recipientOf(address: string | undefined): string | undefined {
	return address === undefined ? undefined : parseMailbox(address)?.address.toLowerCase();
}

function timeOf(iso: string | undefined, fallback: number): number {
	const at = Date.parse(iso ?? "");
	return Number.isNaN(at) ? fallback : at;
}

/**
 * One Activity event in our vocabulary, with the details the Event Webhook's twin would carry. A bounce is hard
 * unless SendGrid calls it soft (its temporary blocks), as the webhook reads `type: blocked`.
 */
function toLookupEvent(event: ActivityEvent, recipient: string | undefined, fallbackAt: number): LookupEvent | undefined {
	const type = ACTIVITY_EVENTS.get(event.event_name);
	if (type === undefined) return undefined;
	return {
		type,
		at: timeOf(event.processed, fallbackAt),
		...(recipient !== undefined && { recipient }),
		...(type === "bounced" && { bounce: event.bounce_type === "soft" ? "soft" : "hard" }),
		detail: detailOf(type, event),
	};
}

/** The keys the webhook adapter keeps for the same event: bounce message and subtype, deferral reason, link. */
function detailOf(type: ProviderEventType, event: ActivityEvent): Record<string, unknown> {
	const reason = event.reason?.slice(0, DETAIL_MAX);
	switch (type) {
		case "bounced":
			return { ...(reason && { message: reason }), ...(event.bounce_type && { subtype: event.bounce_type.slice(0, DETAIL_MAX) }) };
		case "delivery_delayed":
			return reason ? { message: reason } : {};
		case "failed":
			return reason ? { reason } : {};
		case "clicked":
			return event.url ? { link: event.url.slice(0, DETAIL_MAX) } : {};
		default:
			return {};
	}
}

/** A found message reported from the search alone: its latest state, without the reason of a non-delivery. */
function summaryEvents(summary: MessageSummary, fallbackAt: number): LookupEvent[] {
	const type = summary.status === "processed" ? "sent" : summary.status === "delivered" ? "delivered" : undefined;
	if (type === undefined) return [];
	const recipient = recipientOf(summary.to_email);
	return [{ type, at: timeOf(summary.last_event_time, fallbackAt), ...(recipient !== undefined && { recipient }), detail: {} }];
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
		// Links of the html part only, as Mailroom's own tracking does.
		...(email.tracking && {
			tracking_settings: {
				open_tracking: { enable: email.tracking.open },
				click_tracking: { enable: email.tracking.click, enable_text: false },
			},
		}),
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
	const text = await bodySnippet(response);
	const body = ErrorResponse.safeParse(parseJsonOrUndefined(text));
	const first = body.success ? body.data.errors[0] : undefined;
	const detail = first ? `${first.message}${first.field ? ` (${first.field})` : ""}` : text.slice(0, 500);
	return classifyStatus(status, `HTTP ${status}: ${detail}`, headers, "x-ratelimit-reset");
}
