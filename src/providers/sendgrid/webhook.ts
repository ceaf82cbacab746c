/**
 * SendGrid Event Webhook (providers.md §2). Signed ECDSA P-256 / SHA-256 over `timestamp + rawBody`: the raw
 * body byte for byte, including the `\r\n` SendGrid appends. `X-Twilio-Email-Event-Webhook-Signature` is a base64
 * DER signature, converted to P1363 for WebCrypto; the key is `SENDGRID_WEBHOOK_PUBLIC_KEY`, the base64 SPKI DER
 * shown in SendGrid's settings (PEM armour tolerated). The timestamp header must be present but has no tolerance:
 * SendGrid retries with the original signature, and replays are deduplicated downstream.
 *
 * Parsing: the body is a JSON array of events. An element we cannot read (no `event` or `email`) or do not track
 * (`unsubscribe`, `group_*`, …) is counted in `ignored`, so one odd element never makes SendGrid retry the whole
 * batch. `emailId` is our `mailroom_id` custom arg (echoed as a top-level key), `providerMessageId` the
 * `sg_message_id` up to its first `.` (the `X-Message-Id` our send stored). There is no `providerEventId`:
 * `sg_event_id` changes between retries. `bounce` is hard unless its `type` is `blocked` (SendGrid's temporary
 * block); `dropped` is `failed` with SendGrid's reason.
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import { decodeBase64, derToP1363 } from "../../lib/webcrypto";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, ParsedWebhook } from "../types";

const SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature";
const TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp";
const DETAIL_MAX = 500;
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const encoder = new TextEncoder();

const EVENT_TYPES = new Map<string, ProviderEventType>([
	["processed", "sent"],
	["delivered", "delivered"],
	["deferred", "delivery_delayed"],
	["bounce", "bounced"],
	["dropped", "failed"],
	["spamreport", "complained"],
	["open", "opened"],
	["click", "clicked"],
]);

const optionalString = z.string().optional().catch(undefined);

/** Only `event` and `email` are required; anything we merely copy degrades to absent rather than failing. */
const SendGridEvent = z.object({
	event: z.string().min(1),
	email: z.string().min(1),
	timestamp: z.number().optional().catch(undefined),
	sg_message_id: optionalString,
	mailroom_id: optionalString,
	type: optionalString,
	reason: optionalString,
	response: optionalString,
	url: optionalString,
});
type SendGridEvent = z.infer<typeof SendGridEvent>;

/**
 * @example
 * const verified = await sendgridInbound.verify({ rawBody: await c.req.text(), headers: c.req.raw.headers, now: Date.now() }, settings);
 */
export const sendgridInbound: InboundWebhookAdapter = {
	settings: ["SENDGRID_WEBHOOK_PUBLIC_KEY"],
	events: EVENT_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const configured = settings.SENDGRID_WEBHOOK_PUBLIC_KEY;
		if (!configured) return unauthorized("SENDGRID_WEBHOOK_PUBLIC_KEY is not configured");
		const signature = request.headers.get(SIGNATURE_HEADER);
		const timestamp = request.headers.get(TIMESTAMP_HEADER);
		if (!signature || !timestamp) return unauthorized(`Missing ${SIGNATURE_HEADER} or ${TIMESTAMP_HEADER} header`);

		const key = await importPublicKey(configured);
		if (key === null) return unauthorized("SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 P-256 public key");
		const der = decodeBase64(signature);
		const p1363 = der === null ? null : derToP1363(der);
		if (p1363 === null) return unauthorized(`${SIGNATURE_HEADER} is not a base64 DER ECDSA signature`);
		const valid = await crypto.subtle
			.verify({ name: "ECDSA", hash: "SHA-256" }, key, p1363, encoder.encode(timestamp + request.rawBody))
			.catch(() => false);
		return valid ? ok(undefined) : unauthorized("Signature does not match");
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const body = parseJson(request.rawBody);
		if (!Array.isArray(body)) return err({ status: 400, message: "Body is not a JSON array of SendGrid events" });
		const events: InboundEvent[] = [];
		let ignored = 0;
		for (const element of body) {
			const parsed = SendGridEvent.safeParse(element);
			const type = parsed.success ? EVENT_TYPES.get(parsed.data.event) : undefined;
			if (!parsed.success || type === undefined) {
				ignored++;
				continue;
			}
			events.push(toInboundEvent(type, parsed.data, request.now));
		}
		return ok({ events, ignored });
	},
};

function toInboundEvent(type: ProviderEventType, event: SendGridEvent, now: number): InboundEvent {
	const recipient = parseMailbox(event.email)?.address.toLowerCase();
	const providerMessageId = event.sg_message_id?.split(".")[0];
	const at = event.timestamp === undefined ? Number.NaN : event.timestamp * 1000;
	return {
		type,
		at: Number.isFinite(at) ? at : now,
		...(event.mailroom_id && { emailId: event.mailroom_id }),
		...(providerMessageId && { providerMessageId }),
		...(recipient !== undefined && { recipient }),
		...(type === "bounced" && { bounce: event.type === "blocked" ? "soft" : "hard" }),
		detail: detailOf(type, event),
	};
}

function detailOf(type: ProviderEventType, event: SendGridEvent): Record<string, unknown> {
	switch (type) {
		case "bounced":
			return {
				...(event.reason && { message: event.reason.slice(0, DETAIL_MAX) }),
				...(event.type && { subtype: event.type.slice(0, DETAIL_MAX) }),
			};
		case "delivery_delayed":
			return event.response ? { message: event.response.slice(0, DETAIL_MAX) } : {};
		case "failed":
			return event.reason ? { reason: event.reason.slice(0, DETAIL_MAX) } : {};
		case "clicked":
			return event.url ? { link: event.url.slice(0, DETAIL_MAX) } : {};
		default:
			return {};
	}
}

/** The dashboard's base64 SPKI, or the same wrapped in PEM armour; null when it is not a P-256 key. */
async function importPublicKey(configured: string): Promise<CryptoKey | null> {
	const spki = decodeBase64(configured.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\\n/g, ""));
	if (spki === null) return null;
	return crypto.subtle.importKey("spki", spki, ECDSA_P256, false, ["verify"]).catch(() => null);
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

function unauthorized(message: string): { ok: false; error: InboundError } {
	return err({ status: 401, message });
}
