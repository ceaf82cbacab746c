/**
 * Mailgun webhooks (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks and
 * …/webhook-payloads). One JSON object per request: `{"signature": {timestamp, token, signature}, "event-data": {…}}`.
 *
 * Verification: `signature.signature` is the hex HMAC-SHA256, keyed with `MAILGUN_WEBHOOK_SIGNING_KEY` (the dashboard's
 * "HTTP webhook signing key"), of `timestamp + token` (no separator), compared in constant time; a timestamp more than
 * five minutes from our clock is refused. The signature sits inside the body, so a body that is not such JSON cannot
 * be checked and is answered 400. Mailgun signs every delivery afresh (a retry comes minutes later, past any
 * tolerance), so a token seen twice is a captured request replayed: `parse` names the token as the replay key, and
 * the route refuses a repeat with 401.
 *
 * Mapping (`event-data.event`; Mailgun's Events API items have the same shape, so the lookup reads them with
 * `mailgunEventOf` too): `accepted` → sent, `delivered`, `opened`, `clicked` (with its `url`), `complained`;
 * `rejected` → failed (Mailgun refused to send it); `failed` by `severity`: `temporary` is a soft bounce (Mailgun
 * retries), `permanent` is a hard bounce when the address refuses mail for good (reason `bounce`, or a `suppress-*`
 * reason: Mailgun will not send to it again) and otherwise `failed` with Mailgun's reason (`old`, `generic`,
 * `espblock`…: nothing to suppress, as a guess must never suppress an address). `unsubscribed`, `stored` and list
 * events are ignored. `emailId` is our `v:mailroom_id` (`user-variables.mailroom_id`); `providerMessageId` is
 * `message.headers.message-id`, which Mailgun writes without the `<…>` its send answer has (both are stripped).
 * `event-data.id` is unique "within a day" only, so the event id is that id with the message id.
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { constantTimeEqual } from "../../lib/crypto";
import { err, ok, type Result } from "../../lib/result";
import { encodeHex, hmacSha256 } from "../../lib/webcrypto";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { parseJsonOrUndefined } from "../http";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, ParsedWebhook } from "../types";

/** The variable carrying our email id (`v:mailroom_id` on send, `user-variables.mailroom_id` in events). */
export const MAILGUN_ID_VARIABLE = "mailroom_id";
export const TIMESTAMP_TOLERANCE_MS = 5 * 60_000;
const DETAIL_MAX = 500;
const encoder = new TextEncoder();

const EVENT_TYPES = new Map<string, ProviderEventType>([
	["accepted", "sent"],
	["delivered", "delivered"],
	["failed", "bounced"],
	["rejected", "failed"],
	["complained", "complained"],
	["opened", "opened"],
	["clicked", "clicked"],
]);

/** Permanent failure reasons that mean the address will not take mail from us through Mailgun. */
const HARD_REASONS = new Set(["bounce", "suppress-bounce", "suppress-complaint", "suppress-unsubscribe"]);

const optionalString = z.string().optional().catch(undefined);

const Signature = z.object({
	timestamp: z.union([z.string().regex(/^\d{1,12}$/), z.number().int().nonnegative()]).transform(String),
	token: z.string().min(1).max(1_000),
	signature: z.string().min(1).max(1_000),
});

/** An event as webhooks and the Events API write it; only `event` is required, anything merely copied degrades. */
export const MailgunEvent = z.object({
	event: z.string().min(1),
	id: optionalString,
	timestamp: z.number().optional().catch(undefined),
	recipient: optionalString,
	severity: optionalString,
	reason: optionalString,
	url: optionalString,
	"delivery-status": z
		.object({ code: z.union([z.number(), z.string()]).optional().catch(undefined), message: optionalString, description: optionalString })
		.optional()
		.catch(undefined),
	reject: z.object({ reason: optionalString }).optional().catch(undefined),
	message: z
		.object({ headers: z.object({ "message-id": optionalString, to: optionalString }).optional().catch(undefined) })
		.optional()
		.catch(undefined),
	"user-variables": z.record(z.string(), z.unknown()).optional().catch(undefined),
});
export type MailgunEvent = z.infer<typeof MailgunEvent>;

const Payload = z.object({ signature: Signature, "event-data": z.unknown() });

/**
 * @example
 * const verified = await mailgunInbound.verify(request, { MAILGUN_WEBHOOK_SIGNING_KEY: "key-…" });
 */
export const mailgunInbound: InboundWebhookAdapter = {
	settings: ["MAILGUN_WEBHOOK_SIGNING_KEY"],
	events: EVENT_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const key = settings.MAILGUN_WEBHOOK_SIGNING_KEY;
		if (!key) return unauthorized("MAILGUN_WEBHOOK_SIGNING_KEY is not configured");
		const payload = readPayload(request.rawBody);
		if (payload === null) return badRequest("Body is not a Mailgun webhook: JSON with a signature block");
		const { timestamp, token, signature } = payload.signature;
		if (Math.abs(request.now - Number(timestamp) * 1000) > TIMESTAMP_TOLERANCE_MS) {
			return unauthorized("Timestamp is more than 5 minutes from now");
		}
		const expected = encodeHex(await hmacSha256(Uint8Array.from(encoder.encode(key)), timestamp + token));
		return (await constantTimeEqual(expected, signature.toLowerCase())) ? ok(undefined) : unauthorized("Signature does not match");
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const payload = readPayload(request.rawBody);
		if (payload === null) return badRequest("Body is not a Mailgun webhook: JSON with a signature block");
		const data = MailgunEvent.safeParse(payload["event-data"]);
		if (!data.success) return badRequest("event-data is not a Mailgun event: an object with an event name");
		const { timestamp, token } = payload.signature;
		const replay = { nonce: token, expiresAt: Number(timestamp) * 1000 + TIMESTAMP_TOLERANCE_MS, repeat: "refuse" } as const;
		if (!EVENT_TYPES.has(data.data.event)) return ok({ events: [], ignored: 1, replay });
		const event = mailgunEventOf(data.data, request.now);
		if (event === null) return badRequest(`${data.data.event} event without a message id or our ${MAILGUN_ID_VARIABLE}`);
		return ok({ events: [event], ignored: 0, replay });
	},
};

/**
 * A Mailgun event in our vocabulary; null for an event we do not track or cannot tie to an email (neither Mailgun's
 * message id nor our variable).
 */
export function mailgunEventOf(event: MailgunEvent, now: number): InboundEvent | null {
	const mapped = EVENT_TYPES.get(event.event);
	if (mapped === undefined) return null;
	const providerMessageId = bareMessageId(event.message?.headers?.["message-id"]);
	const ours = event["user-variables"]?.[MAILGUN_ID_VARIABLE];
	const emailId = typeof ours === "string" && ours !== "" ? ours : undefined;
	if (providerMessageId === undefined && emailId === undefined) return null;
	const recipient = recipientOf(event.recipient ?? (event.event === "rejected" ? event.message?.headers?.to : undefined));
	const at = event.timestamp === undefined ? now : Math.round(event.timestamp * 1000);
	const status = event["delivery-status"];
	const message = cut(status?.message || status?.description || event.reject?.reason);
	const reason = cut(event.reason);
	const base = {
		at,
		...(providerMessageId !== undefined && { providerMessageId }),
		...(emailId !== undefined && { emailId }),
		...(event.id && providerMessageId !== undefined && { providerEventId: `${providerMessageId}/${event.id}` }),
		...(recipient !== undefined && { recipient }),
	};
	switch (mapped) {
		case "bounced": {
			if (event.severity === "temporary") {
				return { ...base, type: "bounced", bounce: "soft", detail: { ...(reason && { subtype: reason }), ...(message && { message }) } };
			}
			if (HARD_REASONS.has(event.reason ?? "")) {
				return { ...base, type: "bounced", bounce: "hard", detail: { ...(reason && { subtype: reason }), ...(message && { message }) } };
			}
			return { ...base, type: "failed", detail: { reason: reason ?? "failed", ...(message && { message }) } };
		}
		case "failed":
			return { ...base, type: "failed", detail: { reason: "rejected", ...(message && { message }) } };
		case "clicked":
			return { ...base, type: "clicked", detail: event.url ? { link: cut(event.url) } : {} };
		default:
			return { ...base, type: mapped, detail: {} };
	}
}

/** Mailgun's message id as events write it: without the `<…>` its send answer wraps it in. */
export function bareMessageId(id: string | undefined): string | undefined {
	const bare = id?.trim().replace(/^<(.*)>$/, "$1");
	return bare ? bare : undefined;
}

function readPayload(rawBody: string): z.infer<typeof Payload> | null {
	const payload = Payload.safeParse(parseJsonOrUndefined(rawBody));
	return payload.success ? payload.data : null;
}

function recipientOf(address: string | undefined): string | undefined {
	return address === undefined ? undefined : parseMailbox(address)?.address.toLowerCase();
}

function cut(text: string | undefined): string | undefined {
	return text ? text.slice(0, DETAIL_MAX) : undefined;
}

function unauthorized(message: string): { ok: false; error: InboundError } {
	return err({ status: 401, message });
}

function badRequest(message: string): { ok: false; error: InboundError } {
	return err({ status: 400, message });
}
