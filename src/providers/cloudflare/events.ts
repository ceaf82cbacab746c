/**
 * Delivery events of Cloudflare Email Sending: a Queues event subscription (`cf.email.sending.message.*`,
 * https://developers.cloudflare.com/email-service/platform/event-subscriptions/) publishes them to the
 * `mailroom-email-events` queue, which this Worker consumes. Messages come from inside the account, so nothing is
 * signed; each is read with zod, mapped to our vocabulary and recorded through the one event path
 * (src/services/provider-inbound.ts): matched by `payload.messageId` (what the binding's send returned),
 * deduplicated by `payload.eventId`, forward-only.
 *
 * Mapping: delivered → delivered; deferred → delivery_delayed; bounced → bounced, hard (suppressed) unless
 * `bounce.type` is `soft`, which for this terminal event means retries ran out: failed, without suppressing;
 * failed → failed; rejected → bounced hard when the reason is `suppressed` (Cloudflare holds the address
 * suppressed, so we do too), else failed; complained → complained. There are no opened or clicked events.
 * A message that is not such an event is acked and counted as ignored (it will never become one); a D1 failure
 * throws, so the queue redelivers the batch and the dedupe key keeps replays harmless.
 */
import { z } from "zod";
import type { Db } from "../../db/client";
import { errorFields, log } from "../../lib/log";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import { recordInboundEvents } from "../../services/provider-inbound";
import { enqueueDeliveries, type WebhookQueueMessage } from "../../services/webhook-fanout";
import type { InboundEvent } from "../types";

const PREFIX = "cf.email.sending.message.";
const DETAIL_MAX = 500;

/** The event types mapped, and to what (before the bounce and rejection refinements above). */
export const EMAIL_SENDING_EVENTS: ReadonlyMap<string, ProviderEventType> = new Map([
	[`${PREFIX}delivered`, "delivered"],
	[`${PREFIX}deferred`, "delivery_delayed"],
	[`${PREFIX}bounced`, "bounced"],
	[`${PREFIX}failed`, "failed"],
	[`${PREFIX}rejected`, "failed"],
	[`${PREFIX}complained`, "complained"],
]);

const text = z.string().optional().catch(undefined);
const EventMessage = z.object({
	type: z.string(),
	payload: z.object({
		eventId: z.string().min(1),
		messageId: z.string().min(1),
		recipient: text,
		delivery: z
			.object({ status: text, smtpStatusCode: text, smtpEnhancedStatusCode: text, smtpResponse: text })
			.optional()
			.catch(undefined),
		bounce: z.object({ type: text, classification: text, reason: text }).optional().catch(undefined),
		rejection: z.object({ reason: text, party: text, detail: text }).optional().catch(undefined),
		failure: z.object({ reason: text }).optional().catch(undefined),
		complaint: z.object({ type: text }).optional().catch(undefined),
	}),
	metadata: z.object({ eventTimestamp: text }).optional().catch(undefined),
});

/** One queue message as our event; null for a well-formed event type we do not track; an error for anything else. */
export function parseEmailSendingEvent(body: unknown, now: number): Result<InboundEvent | null, string> {
	const parsed = EventMessage.safeParse(body);
	if (!parsed.success) return err(`not an Email Sending event: ${z.prettifyError(parsed.error).slice(0, DETAIL_MAX)}`);
	const event = parsed.data;
	const mapped = EMAIL_SENDING_EVENTS.get(event.type);
	if (mapped === undefined) return ok(null);
	const { payload } = event;
	const at = Date.parse(event.metadata?.eventTimestamp ?? "");
	const recipient = payload.recipient?.trim().toLowerCase() || undefined;
	const base = {
		at: Number.isNaN(at) ? now : at,
		providerMessageId: payload.messageId,
		providerEventId: payload.eventId,
		...(recipient !== undefined && { recipient }),
	};
	const smtp = compact({
		smtp_status: payload.delivery?.smtpStatusCode,
		enhanced_status: payload.delivery?.smtpEnhancedStatusCode,
		message: payload.delivery?.smtpResponse ?? payload.bounce?.reason,
	});
	const kind = event.type.slice(PREFIX.length);
	switch (kind) {
		case "bounced":
			if (payload.bounce?.type === "soft") {
				return ok({ ...base, type: "failed", detail: { reason: "soft_bounce_retries_exhausted", ...smtp } });
			}
			return ok({ ...base, type: "bounced", bounce: "hard", detail: compact({ subtype: payload.bounce?.classification, ...smtp }) });
		case "rejected": {
			const reason = payload.rejection?.reason ?? "rejected";
			if (reason === "suppressed") return ok({ ...base, type: "bounced", bounce: "hard", detail: { subtype: "suppressed_at_cloudflare" } });
			return ok({ ...base, type: "failed", detail: compact({ reason, message: payload.rejection?.detail }) });
		}
		case "failed":
			return ok({ ...base, type: "failed", detail: compact({ reason: payload.failure?.reason ?? "failed", ...smtp }) });
		case "deferred":
			return ok({ ...base, type: "delivery_delayed", detail: smtp });
		default:
			return ok({ ...base, type: mapped, detail: kind === "complained" ? compact({ complaint: payload.complaint?.type }) : smtp });
	}
}

export type EventConsumerDeps = { db: Db; webhookQueue: Queue<WebhookQueueMessage>; now: () => number };

/** The queue consumer of `mailroom-email-events`: records every event of the batch in two D1 round trips. */
export async function consumeEmailSendingEvents(batch: MessageBatch<unknown>, deps: EventConsumerDeps): Promise<void> {
	const now = deps.now();
	const events: InboundEvent[] = [];
	let ignored = 0;
	for (const message of batch.messages) {
		const parsed = parseEmailSendingEvent(message.body, now);
		if (!parsed.ok) {
			log.warn("email_event_unreadable", { messageId: message.id, problem: parsed.error });
			ignored += 1;
		} else if (parsed.value === null) {
			ignored += 1;
		} else {
			events.push(parsed.value);
		}
	}
	try {
		const recorded = await recordInboundEvents(deps.db, "cloudflare", events, now);
		await enqueueDeliveries(deps.webhookQueue, recorded.deliveryIds);
		log.info("email_events_recorded", {
			received: batch.messages.length,
			matched: recorded.matched,
			unmatched: recorded.unmatched,
			ignored,
		});
	} catch (e) {
		log.error("email_events_not_recorded", { count: events.length, ...errorFields(e) });
		throw e;
	}
	batch.ackAll();
}

function compact(fields: Record<string, string | undefined>): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== "") out[key] = value.slice(0, DETAIL_MAX);
	return out;
}
