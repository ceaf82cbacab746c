/**
 * Brevo transactional webhooks (https://developers.brevo.com/docs/transactional-webhooks). Brevo signs nothing; of
 * the protections it offers (https://developers.brevo.com/docs/secured-webhooks) this adapter takes a secret token,
 * `BREVO_WEBHOOK_TOKEN`, either way Brevo can send it:
 * - a bearer token set on the webhook (`"auth": {"type": "bearer", "token": …}`): `Authorization: Bearer <token>`;
 * - basic auth in the webhook URL (`https://brevo:<token>@<worker>/provider-webhooks/brevo`), for webhooks made in
 *   Brevo's dashboard: `Authorization: Basic …` whose password is the token (the user name is not checked).
 * Compared in constant time. Without a timestamp or signature a captured request could be replayed; replays are
 * no-ops downstream, as every event is deduplicated.
 *
 * Parsing: one JSON event per request, or an array of them (Brevo's batched webhooks,
 * https://developers.brevo.com/docs/batch-webhooks). An element we cannot read (not an object, no `event`) or do
 * not track (`unsubscribe`, proxy opens, marketing events) is counted in `ignored`, so one odd element never makes
 * Brevo retry the whole batch. Events map as `EVENT_TYPES` says: `hard_bounce` and `invalid_email` are hard
 * bounces; `soft_bounce` a soft one; `blocked` (Brevo refused to send to a blocklisted contact) and `error` are
 * `failed`; `spam` and `complaint` complaints; `opened` and `unique_opened` both opens. `emailId` is our
 * `mailroom_id` from `X-Mailin-custom` (JSON we sent), else from the `mailroom_id:<id>` tag; `providerMessageId` is
 * `message-id` (`<…@smtp-relay.mailin.fr>`, as the send answered it). Brevo has no event id (`id` is the webhook's),
 * so the route's dedupe key hashes the event, and a retry (same `ts_epoch`) is recognised. Times: `ts_epoch` is UTC
 * milliseconds (the only UTC field; `date` is in the account's zone), else `ts_event` seconds, else now.
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { constantTimeEqual } from "../../lib/crypto";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { basicCredentials, parseJsonOrUndefined } from "../http";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, ParsedWebhook } from "../types";
import { BREVO_ID_KEY, brevoDetail } from "./client";

/** Below this, `ts_epoch` must be seconds (Brevo's own example shows seconds in a field documented as milliseconds). */
const MILLISECONDS_FROM = 100_000_000_000;

const EVENT_TYPES = new Map<string, ProviderEventType>([
	["request", "sent"],
	["delivered", "delivered"],
	["deferred", "delivery_delayed"],
	["soft_bounce", "bounced"],
	["hard_bounce", "bounced"],
	["invalid_email", "bounced"],
	["blocked", "failed"],
	["error", "failed"],
	["spam", "complained"],
	["complaint", "complained"],
	["opened", "opened"],
	["unique_opened", "opened"],
	["click", "clicked"],
]);
const SOFT_BOUNCES = new Set(["soft_bounce"]);

const optionalString = z.string().optional().catch(undefined);
const optionalNumber = z.number().optional().catch(undefined);

/** Only `event` is required; a field we merely copy degrades to absent rather than failing the batch. */
const BrevoEvent = z.object({
	event: z.string().min(1),
	email: optionalString,
	"message-id": optionalString,
	"X-Mailin-custom": optionalString,
	tags: z.array(z.unknown()).optional().catch(undefined),
	ts_epoch: optionalNumber,
	ts_event: optionalNumber,
	reason: optionalString,
	link: optionalString,
});
type BrevoEvent = z.infer<typeof BrevoEvent>;

/**
 * @example
 * const verified = await brevoInbound.verify(request, { BREVO_WEBHOOK_TOKEN: "…" });
 * if (verified.ok) { const parsed = brevoInbound.parse(request); … }
 */
export const brevoInbound: InboundWebhookAdapter = {
	settings: ["BREVO_WEBHOOK_TOKEN"],
	events: EVENT_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const token = settings.BREVO_WEBHOOK_TOKEN;
		if (!token) return unauthorized("BREVO_WEBHOOK_TOKEN is not configured");
		const authorization = request.headers.get("Authorization");
		const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
		const given = bearer ?? basicCredentials(authorization)?.password;
		if (given === undefined) return unauthorized("Missing Bearer token or Basic credentials");
		return (await constantTimeEqual(given, token)) ? ok(undefined) : unauthorized("Wrong token");
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const body = parseJsonOrUndefined(request.rawBody);
		const elements = Array.isArray(body) ? body : typeof body === "object" && body !== null ? [body] : null;
		if (elements === null) return badRequest("Body is not a Brevo webhook: a JSON event or an array of them");
		const events: InboundEvent[] = [];
		let ignored = 0;
		for (const element of elements) {
			const parsed = BrevoEvent.safeParse(element);
			const type = parsed.success ? EVENT_TYPES.get(parsed.data.event) : undefined;
			const event = parsed.success && type !== undefined ? toInboundEvent(type, parsed.data, request.now) : undefined;
			if (event === undefined) ignored++;
			else events.push(event);
		}
		return ok({ events, ignored });
	},
};

/** The event in our vocabulary; undefined when nothing ties it to an email (no message id, no id of ours). */
function toInboundEvent(type: ProviderEventType, event: BrevoEvent, now: number): InboundEvent | undefined {
	const emailId = ourIdOf(event);
	const providerMessageId = event["message-id"] || undefined;
	if (emailId === undefined && providerMessageId === undefined) return undefined;
	const recipient = event.email === undefined ? undefined : parseMailbox(event.email)?.address.toLowerCase();
	return {
		type,
		at: timeOf(event, now),
		...(emailId !== undefined && { emailId }),
		...(providerMessageId !== undefined && { providerMessageId }),
		...(recipient !== undefined && { recipient }),
		...(type === "bounced" && { bounce: SOFT_BOUNCES.has(event.event) ? "soft" : "hard" }),
		detail: brevoDetail(type, event.event, event.reason, event.link),
	};
}

/** `mailroom_id` from `X-Mailin-custom` (the JSON we sent), else from our `mailroom_id:<id>` tag. */
function ourIdOf(event: BrevoEvent): string | undefined {
	const custom = parseJsonOrUndefined(event["X-Mailin-custom"] ?? "");
	const fromHeader = typeof custom === "object" && custom !== null ? (custom as Record<string, unknown>)[BREVO_ID_KEY] : undefined;
	if (typeof fromHeader === "string" && fromHeader !== "") return fromHeader;
	const prefix = `${BREVO_ID_KEY}:`;
	const tag = event.tags?.find((t): t is string => typeof t === "string" && t.startsWith(prefix));
	return tag === undefined || tag.length === prefix.length ? undefined : tag.slice(prefix.length);
}

function timeOf(event: BrevoEvent, now: number): number {
	const epoch = event.ts_epoch;
	if (epoch !== undefined && epoch > 0) return epoch >= MILLISECONDS_FROM ? epoch : epoch * 1000;
	return event.ts_event !== undefined && event.ts_event > 0 ? event.ts_event * 1000 : now;
}

function unauthorized(message: string): { ok: false; error: InboundError } {
	return err({ status: 401, message });
}

function badRequest(message: string): { ok: false; error: InboundError } {
	return err({ status: 400, message });
}
