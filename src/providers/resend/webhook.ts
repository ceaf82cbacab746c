/**
 * Resend webhooks (providers.md §1, §9). Resend signs through Svix, i.e. Standard Webhooks v1: HMAC-SHA256 keyed
 * with the base64 bytes after `whsec_` in `RESEND_WEBHOOK_SECRET`, over `${id}.${timestamp}.${rawBody}`, sent as
 * `svix-id`, `svix-timestamp`, `svix-signature` (each header may instead be its `webhook-*` twin, as `svix`'s
 * own verifier allows). The signature header is a space-separated list of `v1,<base64>` (several while a secret
 * rotates); one v1 match, compared in constant time, is enough. A timestamp more than 5 minutes from now in either
 * direction is refused (the Standard Webhooks tolerance), so a captured request cannot be replayed later.
 *
 * Parsing: one event per request. `email.*` delivery types map to ours (`email.suppressed` is `failed` with reason
 * `suppressed`); every other type (`email.scheduled`, `email.received`, `contact.*`, `domain.*`, …) is ignored.
 * `providerMessageId` is `data.email_id`, `emailId` our `mailroom_id` tag (`data.tags` comes as a `{name: value}`
 * map or as an array of `{name, value}`; both are read), `providerEventId` the message id header, which Resend keeps
 * across retries. A bounce is hard only when Resend says `Permanent` or gives no type (Resend documents
 * `email.bounced` as a permanent rejection); `Transient` and `Undetermined` are soft. The payload does not say which
 * recipient bounced or complained, so `recipient` is the first `data.to` address.
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { constantTimeEqual } from "../../lib/crypto";
import { err, ok, type Result } from "../../lib/result";
import { decodeBase64, encodeBase64, hmacSha256 } from "../../lib/webcrypto";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, ParsedWebhook } from "../types";
import { RESEND_ID_TAG } from "./client";

/** Standard Webhooks' `WEBHOOK_TOLERANCE_IN_SECONDS`. */
const TOLERANCE_SECONDS = 5 * 60;
const SECRET_PREFIX = "whsec_";
const DETAIL_MAX = 500;

const EVENT_TYPES = new Map<string, ProviderEventType>([
	["email.sent", "sent"],
	["email.delivered", "delivered"],
	["email.delivery_delayed", "delivery_delayed"],
	["email.bounced", "bounced"],
	["email.complained", "complained"],
	["email.opened", "opened"],
	["email.clicked", "clicked"],
	["email.failed", "failed"],
	["email.suppressed", "failed"],
]);

const optionalString = z.string().optional().catch(undefined);

const Envelope = z.object({ type: z.string().min(1), created_at: optionalString, data: z.unknown().optional() });

/** Only `email_id` is required: a field we merely copy into `detail` must not make Resend retry forever. */
const EmailData = z.object({
	email_id: z.string().min(1),
	to: z
		.union([z.array(z.string()), z.string().transform((to) => [to])])
		.optional()
		.catch(undefined),
	tags: z
		.union([z.record(z.string(), z.unknown()), z.array(z.object({ name: z.string(), value: z.unknown() }))])
		.optional()
		.catch(undefined),
	bounce: z.object({ type: optionalString, subType: optionalString, message: optionalString }).optional().catch(undefined),
	click: z.object({ link: optionalString }).optional().catch(undefined),
	failed: z.object({ reason: optionalString }).optional().catch(undefined),
});
type EmailData = z.infer<typeof EmailData>;

/**
 * @example
 * const verified = await resendInbound.verify(request, settingsOf(env));
 * if (verified.ok) { const parsed = resendInbound.parse(request); … }
 */
export const resendInbound: InboundWebhookAdapter = {
	settings: ["RESEND_WEBHOOK_SECRET"],
	events: EVENT_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const secret = settings.RESEND_WEBHOOK_SECRET;
		if (!secret) return unauthorized("RESEND_WEBHOOK_SECRET is not configured");
		const key = decodeBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
		if (key === null || key.length === 0) return unauthorized("RESEND_WEBHOOK_SECRET is not whsec_ followed by base64");

		const id = header(request.headers, "id");
		const timestamp = header(request.headers, "timestamp");
		const signature = header(request.headers, "signature");
		if (id === undefined || timestamp === undefined || signature === undefined) {
			return unauthorized("Missing svix-id, svix-timestamp or svix-signature header");
		}
		if (!/^\d{1,15}$/.test(timestamp)) return unauthorized("svix-timestamp is not an integer");
		if (Math.abs(Math.floor(request.now / 1000) - Number(timestamp)) > TOLERANCE_SECONDS) {
			return unauthorized("svix-timestamp is more than 5 minutes from now");
		}

		const candidates = signature
			.split(" ")
			.filter((entry) => entry.startsWith("v1,"))
			.map((entry) => entry.slice("v1,".length));
		if (candidates.length === 0) return unauthorized("svix-signature has no v1 signature");
		const expected = encodeBase64(await hmacSha256(key, `${id}.${timestamp}.${request.rawBody}`));
		const matches = await Promise.all(candidates.map((candidate) => constantTimeEqual(candidate, expected)));
		return matches.includes(true) ? ok(undefined) : unauthorized("No svix-signature entry matches");
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const envelope = Envelope.safeParse(parseJson(request.rawBody));
		if (!envelope.success) return badRequest("Body is not a Resend event: JSON with a type is required");
		const type = EVENT_TYPES.get(envelope.data.type);
		if (type === undefined) return ok({ events: [], ignored: 1 });
		const data = EmailData.safeParse(envelope.data.data);
		if (!data.success) return badRequest(`${envelope.data.type} without data.email_id`);

		const at = Date.parse(envelope.data.created_at ?? "");
		const emailId = mailroomIdOf(data.data.tags);
		const providerEventId = header(request.headers, "id");
		const recipient = type === "bounced" || type === "complained" ? firstRecipient(data.data.to) : undefined;
		const event: InboundEvent = {
			type,
			at: Number.isNaN(at) ? request.now : at,
			providerMessageId: data.data.email_id,
			...(emailId !== undefined && { emailId }),
			...(providerEventId !== undefined && { providerEventId }),
			...(recipient !== undefined && { recipient }),
			...(type === "bounced" && { bounce: bounceKind(data.data.bounce?.type) }),
			detail: detailOf(envelope.data.type, data.data),
		};
		return ok({ events: [event], ignored: 0 });
	},
};

/** `svix-<name>`, else `webhook-<name>`; empty counts as missing. */
function header(headers: Headers, name: "id" | "timestamp" | "signature"): string | undefined {
	return headers.get(`svix-${name}`) || headers.get(`webhook-${name}`) || undefined;
}

function bounceKind(type: string | undefined): "hard" | "soft" {
	return type === undefined || type === "Permanent" ? "hard" : "soft";
}

function mailroomIdOf(tags: EmailData["tags"]): string | undefined {
	const value = Array.isArray(tags) ? tags.find((tag) => tag.name === RESEND_ID_TAG)?.value : tags?.[RESEND_ID_TAG];
	return typeof value === "string" && value !== "" ? value : undefined;
}

function firstRecipient(to: string[] | undefined): string | undefined {
	const first = to?.[0];
	return first === undefined ? undefined : parseMailbox(first)?.address.toLowerCase();
}

function detailOf(resendType: string, data: EmailData): Record<string, unknown> {
	switch (resendType) {
		case "email.bounced":
			return {
				...(data.bounce?.message && { message: data.bounce.message.slice(0, DETAIL_MAX) }),
				...(data.bounce?.subType && { subtype: data.bounce.subType.slice(0, DETAIL_MAX) }),
			};
		case "email.clicked":
			return data.click?.link ? { link: data.click.link.slice(0, DETAIL_MAX) } : {};
		case "email.failed":
			return data.failed?.reason ? { reason: data.failed.reason.slice(0, DETAIL_MAX) } : {};
		case "email.suppressed":
			return { reason: "suppressed" };
		default:
			return {};
	}
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

function badRequest(message: string): { ok: false; error: InboundError } {
	return err({ status: 400, message });
}
