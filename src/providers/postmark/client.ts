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
 *
 * Lookup (Messages API, providers.md §3 "Status lookup"): the message is `GET /messages/outbound/{id}/details`;
 * without Postmark's id it is first found by our metadata, `GET /messages/outbound?count=1&offset=0&
 * metadata_mailroom_id=<our id>` (the `metadata_<key>` search filter: Postmark support article 1125 "Custom
 * metadata FAQ", "How do I search for messages using metadata?"). HTTP 404 or ErrorCode 701 ("Message doesn't
 * exist", Postmark API error codes) for a known id, or no search match, means Postmark has no such email; it
 * keeps messages for the server's retention period (45 days by default). `MessageEvents` give the delivery, delay
 * (`Transient`), open and click facts, but a `Bounced` event does not say which kind: when there is one, the
 * message's bounce records (`GET /bounces?count=500&offset=0&messageID=<id>`, Bounce API) are read and mapped
 * as their webhooks are (webhooks/inbound/postmark.ts `HARD_BOUNCES`, `SENDER_FAILURES`): a `SpamComplaint`
 * record is a complaint (Postmark posts it as RecordType `SpamComplaint`), a type we cannot place is soft. A
 * message that is `Sent` also reports `sent`, dated when Postmark received it.
 */
import { z } from "zod";
import { bareAddress, formatMailbox, normalizedMailbox, parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import { bodySnippet, callProvider, classifyStatus, lookupError, parseJsonOrUndefined, retryAfterSeconds } from "../http";
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
import { HARD_BOUNCES, SENDER_FAILURES } from "./webhook";

export type PostmarkProviderOptions = {
	serverToken: string;
	/** Postmark's message stream; omitted means the server's default transactional stream (`outbound`). */
	messageStream?: string;
} & HttpProviderOptions;

const INACTIVE_RECIPIENT = 406;
const RATE_LIMITED = 429;
/** ErrorCodes that mean this server or account cannot send anything right now. */
const PROVIDER_ERRORS = new Set([10, 400, 401, 405, 412, 413]);

const SendResponse = z.object({ ErrorCode: z.literal(0), MessageID: z.string().min(1) });
const ErrorResponse = z.object({ ErrorCode: z.number().int(), Message: z.string().optional() });

/** Messages API ErrorCode "Message doesn't exist". */
const MESSAGE_NOT_FOUND = 701;
/** A message's bounces: up to 50 recipients, each possibly more than once; 500 is the Bounce API's page maximum. */
const BOUNCES_PAGE = 500;
const DETAIL_MAX = 500;

const optionalString = z.string().optional().catch(undefined);

/** What we read of the Messages and Bounce APIs; anything merely copied degrades to absent. */
const OutboundSearch = z.object({ Messages: z.array(z.object({ MessageID: z.string().min(1) })) });
const OutboundDetails = z.object({
	MessageID: z.string().min(1),
	Status: optionalString,
	ReceivedAt: optionalString,
	MessageEvents: z.array(z.unknown()).catch([]),
});
const MessageEvent = z.object({
	Type: z.string().min(1),
	Recipient: optionalString,
	ReceivedAt: optionalString,
	Details: z.record(z.string(), z.unknown()).catch({}),
});
type MessageEvent = z.infer<typeof MessageEvent>;
const BounceList = z.object({ Bounces: z.array(z.unknown()) });
const BounceRecord = z.object({
	Type: optionalString,
	Email: optionalString,
	BouncedAt: optionalString,
	Details: optionalString,
	Description: optionalString,
});
type BounceRecord = z.infer<typeof BounceRecord>;

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
	TrackOpens?: boolean;
	TrackLinks?: "HtmlOnly" | "None";
};

/**
 * @example
 * const postmark = createPostmarkProvider({ serverToken: env.POSTMARK_SERVER_TOKEN, baseUrl: "https://api.postmarkapp.com", timeoutMs: 15_000 });
 */
export function createPostmarkProvider(options: PostmarkProviderOptions): EmailProvider {
	const baseUrl = options.baseUrl.replace(/\/+$/, "");
	const url = `${baseUrl}/email`;
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
			const text = await bodySnippet(response);
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
		async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
			let messageId = query.providerMessageId;
			if (messageId === null) {
				const match = await messageIdByMetadata(options, baseUrl, query.emailId);
				if (!match.ok) return match;
				if (match.value === null) return ok({ found: false });
				messageId = match.value;
			}
			const read = await getPostmark(options, `${baseUrl}/messages/outbound/${encodeURIComponent(messageId)}/details`);
			if (!read.ok) return read;
			if (!read.value.found) {
				// Found by our metadata a moment ago: its details not being there (yet) is no proof it was never sent.
				if (query.providerMessageId === null) {
					return err({ kind: "transient", message: `Message ${messageId} was found, its details were not` });
				}
				return ok({ found: false });
			}
			const details = OutboundDetails.safeParse(read.value.body);
			if (!details.success) return err({ kind: "transient", message: `Message ${messageId} details are unreadable` });
			const events = await eventsOf(options, baseUrl, details.data, query.sentAt ?? Date.now());
			if (!events.ok) return events;
			return ok({ found: true, providerMessageId: details.data.MessageID, events: events.value });
		},
	};
}

/** Postmark's id of the message carrying our `mailroom_id` metadata; null when there is none. */
async function messageIdByMetadata(
	options: PostmarkProviderOptions,
	baseUrl: string,
	emailId: string,
): Promise<Result<string | null, ProviderError>> {
	const searched = await getPostmark(
		options,
		`${baseUrl}/messages/outbound?count=1&offset=0&metadata_mailroom_id=${encodeURIComponent(emailId)}`,
	);
	if (!searched.ok) return searched;
	// No match is `TotalCount: 0`; a search answering "not found" is not an answer about this email.
	if (!searched.value.found) return err({ kind: "permanent", scope: "provider", message: "Outbound message search answered not found" });
	const list = OutboundSearch.safeParse(searched.value.body);
	if (!list.success) return err({ kind: "transient", message: "Outbound message search answered without Messages" });
	return ok(list.data.Messages[0]?.MessageID ?? null);
}

/**
 * The message's facts: `sent` once Postmark has sent it, then its `MessageEvents`; bounces and complaints come
 * from the message's bounce records when it has a `Bounced` event.
 */
async function eventsOf(
	options: PostmarkProviderOptions,
	baseUrl: string,
	details: z.infer<typeof OutboundDetails>,
	fallbackAt: number,
): Promise<Result<LookupEvent[], ProviderError>> {
	const status = details.Status?.toLowerCase();
	const events: LookupEvent[] =
		status === "sent" || status === "processed" ? [{ type: "sent", at: timeOf(details.ReceivedAt, fallbackAt), detail: {} }] : [];
	const bounced: MessageEvent[] = [];
	for (const element of details.MessageEvents) {
		const event = MessageEvent.safeParse(element);
		if (!event.success) continue;
		if (event.data.Type === "Bounced" || event.data.Type === "SpamComplaint") bounced.push(event.data);
		else events.push(...messageEventOf(event.data, fallbackAt));
	}
	if (bounced.length === 0) return ok(events);
	const bounces = await getPostmark(
		options,
		`${baseUrl}/bounces?count=${BOUNCES_PAGE}&offset=0&messageID=${encodeURIComponent(details.MessageID)}`,
	);
	if (!bounces.ok) return bounces;
	const list = bounces.value.found ? BounceList.safeParse(bounces.value.body) : undefined;
	const records = list?.success ? list.data.Bounces.flatMap((b) => BounceRecord.safeParse(b).data ?? []) : [];
	if (records.length > 0) events.push(...records.map((record) => bounceEventOf(record, fallbackAt)));
	else events.push(...bounced.map((event) => unknownBounceOf(event, fallbackAt)));
	return ok(events);
}

type Fetched = { found: false } | { found: true; body: unknown };

/** `GET` from the Messages or Bounce API: the parsed body, `found: false` on 404 or ErrorCode 701, or the error. */
async function getPostmark(options: PostmarkProviderOptions, url: string): Promise<Result<Fetched, ProviderError>> {
	const init: RequestInit = { method: "GET", headers: { "X-Postmark-Server-Token": options.serverToken, Accept: "application/json" } };
	const call = await callProvider(url, init, options.timeoutMs, options.fetch);
	if (!call.ok) return err(lookupError(call.error));
	const { response } = call;
	if (response.ok) return ok({ found: true, body: parseJsonOrUndefined(await response.text().catch(() => "")) });
	const { status, headers } = response;
	const text = await bodySnippet(response);
	const parsed = ErrorResponse.safeParse(parseJsonOrUndefined(text));
	const body = parsed.success ? parsed.data : undefined;
	if (status === 404 || body?.ErrorCode === MESSAGE_NOT_FOUND) return ok({ found: false });
	const code = body?.ErrorCode;
	const message = body === undefined ? `HTTP ${status}: ${text.slice(0, 500)}` : `HTTP ${status} ErrorCode ${code}: ${body.Message ?? ""}`;
	if (status === 429 || code === RATE_LIMITED) {
		const retry = retryAfterSeconds(headers);
		return err({ kind: "rate_limited", message, status, ...(retry !== undefined && { retryAfterSeconds: retry }) });
	}
	const error = lookupError(classifyStatus(status, message, headers));
	return err(error.kind === "permanent" && code !== undefined ? { ...error, code: String(code) } : error);
}

/** A delivery, delay, open or click from `MessageEvents`; other types (`SubscriptionChanged`, …) are not tracked. */
function messageEventOf(event: MessageEvent, fallbackAt: number): LookupEvent[] {
	const at = timeOf(event.ReceivedAt, fallbackAt);
	const recipient = recipientOf(event.Recipient);
	const about = recipient === undefined ? {} : { recipient };
	switch (event.Type) {
		case "Delivered":
			return [{ type: "delivered", at, ...about, detail: {} }];
		case "Transient": {
			const message = stringOf(event.Details.DeliveryMessage);
			return [{ type: "delivery_delayed", at, ...about, detail: message ? { message } : {} }];
		}
		case "Opened":
			return [{ type: "opened", at, ...about, detail: {} }];
		case "LinkClicked": {
			const link = stringOf(event.Details.Link) ?? stringOf(event.Details.OriginalLink);
			return [{ type: "clicked", at, ...about, detail: link ? { link } : {} }];
		}
		default:
			return [];
	}
}

/** A bounce record read as its webhook would be: complaint, sender-side failure, hard or soft bounce. */
function bounceEventOf(record: BounceRecord, fallbackAt: number): LookupEvent {
	const kind = record.Type ?? "";
	const at = timeOf(record.BouncedAt, fallbackAt);
	const recipient = recipientOf(record.Email);
	const about = recipient === undefined ? {} : { recipient };
	const message = (record.Details || record.Description)?.slice(0, DETAIL_MAX);
	if (kind === "SpamComplaint") return { type: "complained", at, ...about, detail: {} };
	if (SENDER_FAILURES.has(kind)) return { type: "failed", at, ...about, detail: { reason: kind, ...(message && { message }) } };
	return {
		type: "bounced",
		bounce: HARD_BOUNCES.has(kind) ? "hard" : "soft",
		at,
		...about,
		detail: { subtype: kind.slice(0, DETAIL_MAX), ...(message && { message }) },
	};
}

/** A `Bounced` event whose record cannot be read: soft, as a guess must never suppress an address. */
function unknownBounceOf(event: MessageEvent, fallbackAt: number): LookupEvent {
	const at = timeOf(event.ReceivedAt, fallbackAt);
	const recipient = recipientOf(event.Recipient);
	const about = recipient === undefined ? {} : { recipient };
	if (event.Type === "SpamComplaint") return { type: "complained", at, ...about, detail: {} };
	const message = stringOf(event.Details.Summary);
	return { type: "bounced", bounce: "soft", at, ...about, detail: message ? { message } : {} };
}

function recipientOf(address: string | undefined): string | undefined {
	return address === undefined ? undefined : parseMailbox(address)?.address.toLowerCase();
}

function timeOf(value: string | undefined, fallback: number): number {
	const at = Date.parse(value ?? "");
	return Number.isNaN(at) ? fallback : at;
}

function stringOf(value: unknown): string | undefined {
	return typeof value === "string" && value !== "" ? value.slice(0, DETAIL_MAX) : undefined;
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
		...(email.tracking && { TrackOpens: email.tracking.open, TrackLinks: email.tracking.click ? "HtmlOnly" : "None" }),
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
	return mailboxes.map(normalizedMailbox).join(", ");
}
