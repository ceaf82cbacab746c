/**
 * Amazon SES events through SNS: a configuration-set event destination publishes to an SNS topic, whose HTTPS
 * subscription posts to `/provider-webhooks/ses` (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html,
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html).
 *
 * Verification (./sns.ts): the SNS signature against the certificate at an allow-listed `SigningCertURL`, and the
 * topic: `SES_SNS_TOPIC_ARN` must be configured and equal the envelope's `TopicArn`. SNS signs for any topic, so
 * without this anyone with an AWS account could subscribe our URL to a topic of theirs and post signed events.
 *
 * Parsing by SNS `Type`:
 * - `SubscriptionConfirmation`: no event; `confirmUrl` is its `SubscribeURL` (checked by `verify`), which the route
 *   fetches once to confirm the subscription.
 * - `UnsubscribeConfirmation`: ignored.
 * - `Notification`: `Message` is the SES event as JSON. `eventType` (configuration-set events; `notificationType` for
 *   identity notifications, which carry no tags) maps: Send → sent, Delivery → delivered (one per recipient),
 *   Bounce → bounced per bounced recipient (`bounceType` Permanent = hard, Transient and Undetermined = soft),
 *   Complaint → complained per recipient, DeliveryDelay → delivery_delayed per delayed recipient, Reject and
 *   Rendering Failure → failed, Open → opened, Click → clicked; others (Subscription…) are ignored. `emailId` is our
 *   `mailroom_id` email tag (`mail.tags`, values are arrays), `providerMessageId` is `mail.messageId` (what SendEmail
 *   returned).
 * SNS retries a delivery with its original `Timestamp` and signature, so there is no timestamp tolerance. Every
 * delivery's replay key is its SNS `MessageId`: SNS retries with the same one, so a repeat is answered 200 and
 * ignored; it is kept a day (SNS's default policy retries for about a minute; later repeats are still no-ops through
 * the events' dedupe keys, `<MessageId>/<index>`).
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { parseJsonOrUndefined } from "../http";
import type { InboundError, InboundEvent, InboundRequest, InboundWebhookAdapter, ParsedWebhook, ReplayKey } from "../types";
import { readEnvelope, type SnsEnvelope, verifySnsSignature } from "./sns";

/** The email tag carrying our email id. */
export const SES_ID_TAG = "mailroom_id";
export const SNS_REPLAY_WINDOW_MS = 86_400_000;
const DETAIL_MAX = 500;

const EVENT_TYPES = new Map<string, ProviderEventType>([
	["Send", "sent"],
	["Delivery", "delivered"],
	["Bounce", "bounced"],
	["Complaint", "complained"],
	["DeliveryDelay", "delivery_delayed"],
	["Reject", "failed"],
	["Rendering Failure", "failed"],
	["Open", "opened"],
	["Click", "clicked"],
]);

const optionalString = z.string().optional().catch(undefined);
const Recipients = z.array(
	z.object({ emailAddress: z.string(), diagnosticCode: optionalString, status: optionalString }).catch({ emailAddress: "" }),
);

/** An SES event: `mail.messageId` is required, each section's fields degrade to absent. */
const SesEvent = z.object({
	eventType: optionalString,
	notificationType: optionalString,
	mail: z.object({
		messageId: z.string().min(1),
		timestamp: optionalString,
		tags: z.record(z.string(), z.array(z.string())).optional().catch(undefined),
	}),
	bounce: z
		.object({
			bounceType: optionalString,
			bounceSubType: optionalString,
			timestamp: optionalString,
			bouncedRecipients: Recipients.catch([]),
		})
		.optional()
		.catch(undefined),
	complaint: z
		.object({ timestamp: optionalString, complaintFeedbackType: optionalString, complainedRecipients: Recipients.catch([]) })
		.optional()
		.catch(undefined),
	delivery: z
		.object({ timestamp: optionalString, recipients: z.array(z.string()).catch([]) })
		.optional()
		.catch(undefined),
	deliveryDelay: z
		.object({ timestamp: optionalString, delayType: optionalString, delayedRecipients: Recipients.catch([]) })
		.optional()
		.catch(undefined),
	reject: z.object({ reason: optionalString }).optional().catch(undefined),
	failure: z.object({ errorMessage: optionalString, templateName: optionalString }).optional().catch(undefined),
	open: z.object({ timestamp: optionalString }).optional().catch(undefined),
	click: z.object({ timestamp: optionalString, link: optionalString }).optional().catch(undefined),
});
type SesEvent = z.infer<typeof SesEvent>;

/**
 * @example
 * const verified = await sesInbound.verify(request, { SES_SNS_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:mailroom-events" });
 */
export const sesInbound: InboundWebhookAdapter = {
	settings: ["SES_SNS_TOPIC_ARN"],
	events: EVENT_TYPES,

	async verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>> {
		const topic = settings.SES_SNS_TOPIC_ARN;
		if (!topic) return err({ status: 401, message: "SES_SNS_TOPIC_ARN is not configured" });
		const envelope = readEnvelope(request.rawBody);
		if (envelope === null) return badRequest("Body is not an SNS message");
		if (envelope.TopicArn !== topic) return err({ status: 401, message: "TopicArn is not the configured SES_SNS_TOPIC_ARN" });
		return verifySnsSignature(envelope, settings, request.now);
	},

	parse(request: InboundRequest): Result<ParsedWebhook, InboundError> {
		const envelope = readEnvelope(request.rawBody);
		if (envelope === null) return badRequest("Body is not an SNS message");
		const replay = { nonce: envelope.MessageId, expiresAt: request.now + SNS_REPLAY_WINDOW_MS, repeat: "ignore" } as const;
		switch (envelope.Type) {
			case "SubscriptionConfirmation":
				if (!envelope.SubscribeURL) return badRequest("SubscriptionConfirmation without SubscribeURL");
				return ok({ events: [], ignored: 0, replay, confirmUrl: envelope.SubscribeURL });
			case "Notification":
				return notification(envelope, request.now, replay);
			default:
				return ok({ events: [], ignored: 1, replay });
		}
	},
};

function notification(envelope: SnsEnvelope, now: number, replay: ReplayKey): Result<ParsedWebhook, InboundError> {
	const json = parseJsonOrUndefined(envelope.Message);
	if (json === undefined) return badRequest("The SNS Message is not JSON");
	const parsed = SesEvent.safeParse(json);
	if (!parsed.success) return badRequest("The SNS Message is not an SES event: it needs mail.messageId");
	const events = sesEventsOf(parsed.data, envelope.MessageId, now);
	return ok({ events, ignored: events.length === 0 ? 1 : 0, replay });
}

type Item = { recipient?: string; bounce?: "hard" | "soft"; detail: Record<string, unknown> };

/** The SES event in our vocabulary: one per recipient where SES names them; none for types we do not track. */
function sesEventsOf(event: SesEvent, snsMessageId: string, now: number): InboundEvent[] {
	const kind = event.eventType ?? event.notificationType ?? "";
	const type = EVENT_TYPES.get(kind);
	if (type === undefined) return [];
	const ours = event.mail.tags?.[SES_ID_TAG]?.[0];
	const mailAt = timeOf(event.mail.timestamp, now);
	/** One event per item (per recipient), or one `whole` event when SES names no recipient. */
	const each = (at: number, items: Item[], whole: Item = { detail: {} }): InboundEvent[] =>
		(items.length > 0 ? items : [whole]).map((item, i) => {
			const recipient = item.recipient === undefined ? undefined : recipientOf(item.recipient);
			return {
				type,
				at,
				providerMessageId: event.mail.messageId,
				...(ours && { emailId: ours }),
				providerEventId: `${snsMessageId}/${i}`,
				...(recipient !== undefined && { recipient }),
				...(item.bounce && { bounce: item.bounce }),
				detail: item.detail,
			};
		});
	switch (kind) {
		case "Delivery":
			return each(
				timeOf(event.delivery?.timestamp, mailAt),
				(event.delivery?.recipients ?? []).map((recipient) => ({ recipient, detail: {} })),
			);
		case "Bounce": {
			const bounce = event.bounce?.bounceType === "Permanent" ? "hard" : "soft";
			const subtype = cut([event.bounce?.bounceType, event.bounce?.bounceSubType].filter(Boolean).join("/"));
			const detail = subtype ? { subtype } : {};
			return each(
				timeOf(event.bounce?.timestamp, mailAt),
				(event.bounce?.bouncedRecipients ?? []).map((r) => ({
					recipient: r.emailAddress,
					bounce,
					detail: { ...detail, ...(r.diagnosticCode && { message: cut(r.diagnosticCode) }) },
				})),
				{ bounce, detail },
			);
		}
		case "Complaint": {
			const feedback = cut(event.complaint?.complaintFeedbackType);
			const detail = feedback ? { feedback } : {};
			return each(
				timeOf(event.complaint?.timestamp, mailAt),
				(event.complaint?.complainedRecipients ?? []).map((r) => ({ recipient: r.emailAddress, detail })),
			);
		}
		case "DeliveryDelay": {
			const reason = cut(event.deliveryDelay?.delayType);
			return each(
				timeOf(event.deliveryDelay?.timestamp, mailAt),
				(event.deliveryDelay?.delayedRecipients ?? []).map((r) => ({
					recipient: r.emailAddress,
					detail: { ...(reason && { reason }), ...(r.diagnosticCode && { message: cut(r.diagnosticCode) }) },
				})),
			);
		}
		case "Reject":
			return each(mailAt, [], { detail: { reason: "rejected", ...(event.reject?.reason && { message: cut(event.reject.reason) }) } });
		case "Rendering Failure":
			return each(mailAt, [], {
				detail: { reason: "rendering_failure", ...(event.failure?.errorMessage && { message: cut(event.failure.errorMessage) }) },
			});
		case "Open":
			return each(timeOf(event.open?.timestamp, mailAt), []);
		case "Click":
			return each(timeOf(event.click?.timestamp, mailAt), [], { detail: event.click?.link ? { link: cut(event.click.link) } : {} });
		default:
			return each(mailAt, []);
	}
}

function timeOf(value: string | undefined, fallback: number): number {
	const at = Date.parse(value ?? "");
	return Number.isNaN(at) ? fallback : at;
}

function recipientOf(address: string): string | undefined {
	return parseMailbox(address)?.address.toLowerCase();
}

function cut(text: string | undefined): string | undefined {
	return text ? text.slice(0, DETAIL_MAX) : undefined;
}

function badRequest(message: string): { ok: false; error: InboundError } {
	return err({ status: 400, message });
}
