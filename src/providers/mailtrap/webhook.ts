/**
 * Mailtrap Email Sending webhooks (https://docs.mailtrap.io/email-api-smtp/advanced/webhooks; mailtrap/mailtrap-docs
 * `documentation/email-api-smtp/webhooks.md`). Every request is signed: `Mailtrap-Signature` is the lowercase hex
 * HMAC-SHA256 of the raw body keyed with the webhook's signing secret as given (`MAILTRAP_WEBHOOK_SECRET`, 32 hex
 * characters, used as text, not decoded), compared in constant time. (Mailtrap's API overview calls the header
 * `X-Mailtrap-Signature`; that spelling is read too.) There is no timestamp, so a captured request could be replayed:
 * every event carries an `event_id` ("use for idempotency"), the route's dedupe key, so a replay writes nothing.
 *
 * Parsing: events come in batches of up to 500, as `{"events": […]}` (payload format JSON) or one JSON object per
 * line (JSON Lines); both are read. A body that is neither (truncated JSON, a broken line) is refused whole with 400.
 * An element we cannot read or do not track (`unsubscribe`, audit-log events) is counted in `ignored`, so one odd
 * element never makes Mailtrap retry the batch. Events, in the payload's spelling and the email logs' (`soft bounce`
 * / `soft_bounce`, `spam` / `spam_complaint`): `delivery` delivered; `bounce` a hard bounce (permanent, "no further
 * attempts"); `soft bounce` a soft one (Mailtrap retries); `suspension` delayed (the sending domain is unverified or a
 * limit was reached; Mailtrap re-checks, then delivers or rejects); `reject` failed (never sent: suppressed
 * recipient, unverified domain); `spam` a complaint; `open`, `click`. `emailId` is our `mailroom_id` custom
 * variable, `providerMessageId` the `message_id` (one per recipient), `providerEventId` the `event_id`, `at` the
 * `timestamp` (Unix seconds).
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { constantTimeEqual } from "../../lib/crypto";
import { err, ok, type Result } from "../../lib/result";
import { hmacSha256 } from "../../lib/webcrypto";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { parseJsonOrUndefined } from "../http";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, LookupEvent, ParsedWebhook } from "../types";

const SIGNATURE_HEADERS = ["Mailtrap-Signature", "X-Mailtrap-Signature"];
const DETAIL_MAX = 500;
const encoder = new TextEncoder();

const EVENT_TYPES = new Map<string, ProviderEventType>([
	["delivery", "delivered"],
	["bounce", "bounced"],
	["soft bounce", "bounced"],
	["soft_bounce", "bounced"],
	["suspension", "delivery_delayed"],
	["reject", "failed"],
	["spam", "complained"],
	["spam_complaint", "complained"],
	["open", "opened"],
	["click", "clicked"],
]);
const SOFT_BOUNCES = new Set(["soft bounce", "soft_bounce"]);

const optionalString = z.string().optional().catch(undefined);

/** Only `event` is required; a field we merely copy degrades to absent rather than failing the batch. */
const SendingEvent = z.object({
	event: z.string().min(1),
	message_id: optionalString,
	email: optionalString,
	timestamp: z.number().optional().catch(undefined),
	event_id: optionalString,
	custom_variables: z.record(z.string(), z.unknown()).optional().catch(undefined),
	reason: optionalString,
	response: optionalString,
	bounce_category: optionalString,
	url: optionalString,
});
type SendingEvent = z.infer<typeof SendingEvent>;

/** What a Mailtrap event (webhook or email log) says, read the same way wherever it comes from. */
export type MailtrapFacts = {
	at: number;
	recipient: string | undefined;
	/** `suspension` and `reject`: why. */
	reason: string | undefined;
	/** Bounces: the receiving server's answer and Mailtrap's category of it. */
	response: string | undefined;
	bounceCategory: string | undefined;
	/** Clicks: the link. */
	url: string | undefined;
};

/**
 * @example
 * const verified = await mailtrapInbound.verify(request, { MAILTRAP_WEBHOOK_SECRET: "…" });
 * if (verified.ok) { const parsed = mailtrapInbound.parse(request); … }
 */
export const mailtrapInbound: InboundWebhookAdapter = {
	settings: ["MAILTRAP_WEBHOOK_SECRET"],
	events: EVENT_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const secret = settings.MAILTRAP_WEBHOOK_SECRET;
		if (!secret) return unauthorized("MAILTRAP_WEBHOOK_SECRET is not configured");
		const signature = SIGNATURE_HEADERS.map((name) => request.headers.get(name)).find((value) => value);
		if (!signature) return unauthorized("Missing Mailtrap-Signature header");
		const digest = await hmacSha256(new Uint8Array(encoder.encode(secret)), request.rawBody);
		const expected = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
		return (await constantTimeEqual(signature.trim().toLowerCase(), expected)) ? ok(undefined) : unauthorized("Signature does not match");
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const elements = elementsOf(request.rawBody);
		if (elements === null) return badRequest('Body is not a Mailtrap webhook: {"events": […]} or JSON Lines');
		const events: InboundEvent[] = [];
		let ignored = 0;
		for (const element of elements) {
			const parsed = SendingEvent.safeParse(element);
			const event = parsed.success ? toInboundEvent(parsed.data, request.now) : undefined;
			if (event === undefined) ignored++;
			else events.push(event);
		}
		return ok({ events, ignored });
	},
};

/** The batch's elements: the `events` of a JSON body, or one JSON value per line; null when it is neither. */
function elementsOf(rawBody: string): unknown[] | null {
	const whole = parseJsonOrUndefined(rawBody);
	if (typeof whole === "object" && whole !== null && !Array.isArray(whole)) {
		const { events } = whole as { events?: unknown };
		if (Array.isArray(events)) return events;
		// JSON Lines with a single line.
		if ("event" in whole) return [whole];
		return null;
	}
	if (whole !== undefined) return null;
	const lines = rawBody.split(/\r?\n/).filter((line) => line.trim() !== "");
	if (lines.length === 0) return null;
	const elements = lines.map(parseJsonOrUndefined);
	return elements.every((e) => typeof e === "object" && e !== null && !Array.isArray(e)) ? elements : null;
}

/** The event in our vocabulary; undefined when untracked or tied to no email (no message id, no id of ours). */
function toInboundEvent(event: SendingEvent, now: number): InboundEvent | undefined {
	const emailId = event.custom_variables?.mailroom_id;
	const ours = typeof emailId === "string" && emailId !== "" ? emailId : undefined;
	const providerMessageId = event.message_id || undefined;
	if (ours === undefined && providerMessageId === undefined) return undefined;
	const mapped = mailtrapEventOf(event.event, {
		at: event.timestamp !== undefined && event.timestamp > 0 ? event.timestamp * 1000 : now,
		recipient: event.email === undefined ? undefined : parseMailbox(event.email)?.address.toLowerCase(),
		reason: event.reason,
		response: event.response,
		bounceCategory: event.bounce_category,
		url: event.url,
	});
	if (mapped === undefined) return undefined;
	return {
		...mapped,
		...(ours !== undefined && { emailId: ours }),
		...(providerMessageId !== undefined && { providerMessageId }),
		...(event.event_id && { providerEventId: event.event_id }),
	};
}

/** A Mailtrap event type (either spelling) with its facts, as ours; undefined for types we do not track. */
export function mailtrapEventOf(mailtrapType: string, facts: MailtrapFacts): LookupEvent | undefined {
	const type = EVENT_TYPES.get(mailtrapType);
	if (type === undefined) return undefined;
	const cut = (text: string | undefined) => (text ? text.slice(0, DETAIL_MAX) : undefined);
	const reason = cut(facts.reason);
	const response = cut(facts.response);
	const category = cut(facts.bounceCategory);
	const url = cut(facts.url);
	const detail: Record<string, unknown> =
		type === "bounced"
			? { ...(category && { subtype: category }), ...(response && { message: response }) }
			: type === "failed" || type === "delivery_delayed"
				? { reason: mailtrapType, ...(reason && { message: reason }) }
				: type === "clicked" && url
					? { link: url }
					: {};
	return {
		type,
		at: facts.at,
		...(facts.recipient !== undefined && { recipient: facts.recipient }),
		...(type === "bounced" && { bounce: SOFT_BOUNCES.has(mailtrapType) ? ("soft" as const) : ("hard" as const) }),
		detail,
	};
}

function unauthorized(message: string): { ok: false; error: InboundError } {
	return err({ status: 401, message });
}

function badRequest(message: string): { ok: false; error: InboundError } {
	return err({ status: 400, message });
}
