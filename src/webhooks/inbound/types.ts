/**
 * Inbound provider webhooks: each provider's adapter verifies a request exactly as the provider documents it
 * and maps its payload to our event vocabulary. Adapters are pure (no D1): the route finds the emails,
 * deduplicates and records through services/events.ts.
 */
import type { Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import type { ProviderName } from "../../providers/catalog";

export type InboundRequest = {
	/** The body exactly as received: signatures cover the raw bytes (SendGrid's include the trailing CRLF). */
	rawBody: string;
	headers: Headers;
	/** Epoch milliseconds, for timestamp tolerance checks. */
	now: number;
};

export type InboundEvent = {
	type: ProviderEventType;
	/** For `bounced`: hard ends delivery and suppresses; soft only delays. */
	bounce?: "hard" | "soft";
	/** Lower-cased bare address the event is about, when the provider says. */
	recipient?: string;
	/** When it happened, per the provider (epoch ms). */
	at: number;
	/** Our email id, from the metadata we sent (Resend tag / SendGrid custom_args / Postmark Metadata `mailroom_id`). */
	emailId?: string;
	/** The provider's own message id (what the send returned). */
	providerMessageId?: string;
	/** A stable id of this event at the provider, when it has one that survives retries (dedupe key). */
	providerEventId?: string;
	/** Small, provider-neutral facts worth keeping: bounce message, clicked link, failure reason. */
	detail: Record<string, unknown>;
};

/** 401: missing or bad credentials, signature or timestamp; 400: a verified body we cannot read. */
export type InboundError = { status: 400 | 401; message: string };

export type ParsedWebhook = {
	events: InboundEvent[];
	/** Well-formed events we do not track (e.g. Resend contact.*, SendGrid group_unsubscribe), counted not stored. */
	ignored: number;
};

export interface InboundWebhookAdapter {
	readonly provider: ProviderName;
	/**
	 * The settings (secrets) `verify` needs; without all of them every request is refused with 401. Read by the
	 * deploy script to say which to set and where the provider's webhook must point.
	 */
	readonly settings: readonly string[];
	/** Checks the request's credentials or signature; never reads D1. */
	verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>>;
	/** Parses a verified body. */
	parse(request: InboundRequest): Result<ParsedWebhook, InboundError>;
}
