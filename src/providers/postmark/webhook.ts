/**
 * Postmark webhooks (providers.md §3). Postmark signs nothing; the webhook URL carries basic-auth credentials
 * (`https://user:pass@host/…`), which Postmark sends as `Authorization: Basic …`. Both `POSTMARK_WEBHOOK_USER` and
 * `POSTMARK_WEBHOOK_PASSWORD` must be configured, and both must match, each compared in constant time.
 *
 * Parsing: one JSON object per request, by `RecordType`: `Delivery`, `Bounce`, `SpamComplaint`, `Open` and
 * `Click` are tracked (they need a `MessageID`); `SubscriptionChange` and anything else is ignored. `emailId` is
 * `Metadata.mailroom_id`, `providerMessageId` the `MessageID`, and a bounce's or complaint's `ID` (stable across
 * retries) is the `providerEventId`, kept digit for digit even beyond 2^53. Bounce `Type`s split three ways:
 * - hard (the address refuses mail: ends delivery, suppresses): the ones in `HARD_BOUNCES`;
 * - failed (this email cannot be sent for a reason on the sender's side, so nothing to suppress): `Unconfirmed`
 *   (sender signature), `SMTPApiError`, `TemplateRenderingFailed`;
 * - soft (only delays) for everything else, including `Transient`, `SoftBounce`, `DnsError`, auto-replies,
 *   `Unknown` and types Postmark adds later: a guess must never suppress an address.
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { constantTimeEqual } from "../../lib/crypto";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { basicCredentials } from "../http";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, ParsedWebhook } from "../types";

const DETAIL_MAX = 500;

const RECORD_TYPES = new Map<string, ProviderEventType>([
	["Delivery", "delivered"],
	["Bounce", "bounced"],
	["SpamComplaint", "complained"],
	["Open", "opened"],
	["Click", "clicked"],
]);

/** Bounce types that mean the address will not take mail from us (django-anymail maps these to bounced/rejected). */
export const HARD_BOUNCES = new Set([
	"HardBounce",
	"BadEmailAddress",
	"ManuallyDeactivated",
	"ManualSuppression",
	"SpamNotification",
	"SpamComplaint",
	"Blocked",
	"DMARCPolicy",
	"Unsubscribe",
]);
/** Bounce types that end this email because of the sender's setup, not the recipient. */
export const SENDER_FAILURES = new Set(["Unconfirmed", "SMTPApiError", "TemplateRenderingFailed"]);

const optionalString = z.string().optional().catch(undefined);

const PostmarkRecord = z.object({
	RecordType: z.string().min(1),
	MessageID: optionalString,
	ID: z.union([z.number(), z.string()]).optional().catch(undefined),
	Type: optionalString,
	Email: optionalString,
	Recipient: optionalString,
	DeliveredAt: optionalString,
	BouncedAt: optionalString,
	ReceivedAt: optionalString,
	Details: optionalString,
	Description: optionalString,
	OriginalLink: optionalString,
	Metadata: z.record(z.string(), z.unknown()).optional().catch(undefined),
});
type PostmarkRecord = z.infer<typeof PostmarkRecord>;

/**
 * @example
 * const verified = await postmarkInbound.verify(request, { POSTMARK_WEBHOOK_USER: "hooks", POSTMARK_WEBHOOK_PASSWORD: "…" });
 */
export const postmarkInbound: InboundWebhookAdapter = {
	settings: ["POSTMARK_WEBHOOK_USER", "POSTMARK_WEBHOOK_PASSWORD"],
	events: RECORD_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const user = settings.POSTMARK_WEBHOOK_USER;
		const password = settings.POSTMARK_WEBHOOK_PASSWORD;
		if (!user || !password) return unauthorized("POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD must both be configured");
		const credentials = basicCredentials(request.headers.get("Authorization"));
		if (credentials === null) return unauthorized("Missing Basic credentials");
		const [userMatches, passwordMatches] = await Promise.all([
			constantTimeEqual(credentials.user, user),
			constantTimeEqual(credentials.password, password),
		]);
		return userMatches && passwordMatches ? ok(undefined) : unauthorized("Wrong credentials");
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const body = parseWithIdSource(request.rawBody);
		const record = PostmarkRecord.safeParse(body?.value);
		if (body === null || !record.success) return badRequest("Body is not a Postmark webhook: a JSON object with RecordType");
		const type = RECORD_TYPES.get(record.data.RecordType);
		if (type === undefined) return ok({ events: [], ignored: 1 });
		const { MessageID: providerMessageId } = record.data;
		if (!providerMessageId) return badRequest(`${record.data.RecordType} without MessageID`);
		return ok({ events: [toInboundEvent(type, record.data, providerMessageId, body.idSource, request.now)], ignored: 0 });
	},
};

function toInboundEvent(
	recordType: ProviderEventType,
	record: PostmarkRecord,
	providerMessageId: string,
	idSource: string | undefined,
	now: number,
): InboundEvent {
	const bounce = record.Type ?? "";
	const type = recordType === "bounced" && SENDER_FAILURES.has(bounce) ? "failed" : recordType;
	const at = Date.parse(timeOf(record) ?? "");
	const address = recordType === "bounced" || recordType === "complained" ? record.Email : record.Recipient;
	const recipient = address === undefined ? undefined : parseMailbox(address)?.address.toLowerCase();
	const emailId = record.Metadata?.mailroom_id;
	const providerEventId = recordType === "bounced" || recordType === "complained" ? eventIdOf(record.ID, idSource) : undefined;
	const message = (record.Details || record.Description)?.slice(0, DETAIL_MAX);
	return {
		type,
		at: Number.isNaN(at) ? now : at,
		providerMessageId,
		...(typeof emailId === "string" && emailId !== "" && { emailId }),
		...(providerEventId !== undefined && { providerEventId }),
		...(recipient !== undefined && { recipient }),
		...(type === "bounced" && { bounce: HARD_BOUNCES.has(bounce) ? "hard" : "soft" }),
		detail: {
			...(type === "bounced" && { subtype: bounce.slice(0, DETAIL_MAX) }),
			...(type === "failed" && { reason: bounce }),
			...((type === "bounced" || type === "failed") && message && { message }),
			...(type === "clicked" && record.OriginalLink && { link: record.OriginalLink.slice(0, DETAIL_MAX) }),
		},
	};
}

function timeOf(record: PostmarkRecord): string | undefined {
	switch (record.RecordType) {
		case "Delivery":
			return record.DeliveredAt;
		case "Bounce":
		case "SpamComplaint":
			return record.BouncedAt;
		default:
			return record.ReceivedAt;
	}
}

/** A bounce `ID` as Postmark wrote it: a number past 2^53 loses digits in JSON.parse, so its source text wins. */
function eventIdOf(id: number | string | undefined, source: string | undefined): string | undefined {
	if (typeof id === "string") return id === "" ? undefined : id;
	if (id === undefined) return undefined;
	if (Number.isSafeInteger(id)) return String(id);
	return source !== undefined && /^\d+$/.test(source) ? source : undefined;
}

/**
 * JSON.parse that also returns the source text of a top-level numeric `ID` (the reviver's `context.source`, where
 * the runtime has it); null for invalid JSON.
 */
function parseWithIdSource(text: string): { value: unknown; idSource: string | undefined } | null {
	const sources = new WeakMap<object, string>();
	let value: unknown;
	try {
		value = JSON.parse(text, function (this: unknown, key: string, parsed: unknown, context?: { source?: string }) {
			if (key === "ID" && typeof parsed === "number" && typeof this === "object" && this !== null && context?.source) {
				sources.set(this, context.source);
			}
			return parsed;
		});
	} catch {
		return null;
	}
	return { value, idSource: typeof value === "object" && value !== null ? sources.get(value) : undefined };
}

function unauthorized(message: string): { ok: false; error: InboundError } {
	return err({ status: 401, message });
}

function badRequest(message: string): { ok: false; error: InboundError } {
	return err({ status: 400, message });
}
