/**
 * The provider interface (docs/architecture.md, "Provider events", "Sandbox"): every adapter turns one outbound email into one provider call and
 * classifies the outcome. Expected failures are values, never exceptions.
 *
 * How the consumer acts on each kind (docs/architecture.md, "Outcome classes"):
 * - `transient`     nothing was sent (a 503, 408, a refused download): retried with backoff; fails over at once to
 *                   the next provider in the order.
 * - `rate_limited`  429 or a provider "throttled": retried no sooner than `retryAfterSeconds`; fails over.
 * - `permanent`     the request itself is bad (4xx): `failed` at once, no failover; `suppress` lists recipients
 *                   the provider refuses for good (Postmark 406) so they are added to the tenant's suppressions.
 *                   With `scope: "provider"` (bad credentials, account suspended, quota) the provider cannot send
 *                   anything: it fails over and is retried like a transient error instead.
 * - `uncertain`     the request left and the answer does not say what happened: no answer (timeout, lost
 *                   connection), a 500/502/504 (a gateway may answer after the provider accepted), a 2xx without an
 *                   id. The provider may have sent it: retried only there where it deduplicates by our id (pinned),
 *                   otherwise `uncertain` and reconciled by lookup — never failed over blindly.
 */
import type { Tag } from "../db/schema";
import type { Mailbox } from "../lib/address";
import type { Result } from "../lib/result";
import type { ProviderEventType } from "../lifecycle/provider-events";
import type { ProviderName } from "./catalog";

export type OutboundAttachment = {
	filename: string;
	contentType: string;
	/** Base64 of the bytes. */
	content: string;
	contentId: string | null;
};

/** Everything a provider needs to send one email; addresses are the strings the client gave (`Name <a@b>`). */
export type OutboundEmail = {
	/** Our email id: the provider's idempotency key where it has one, and metadata everywhere. */
	id: string;
	tenantId: string;
	from: string;
	fromMailbox: Mailbox;
	to: string[];
	cc: string[];
	bcc: string[];
	replyTo: string[];
	subject: string;
	html: string | null;
	text: string | null;
	headers: Record<string, string>;
	tags: Tag[];
	attachments: OutboundAttachment[];
};

export type ProviderError =
	| { kind: "transient"; message: string; status?: number; retryAfterSeconds?: number }
	| { kind: "rate_limited"; message: string; status?: number; retryAfterSeconds?: number }
	| { kind: "permanent"; message: string; status?: number; code?: string; scope: "message" | "provider"; suppress?: string[] }
	| { kind: "uncertain"; message: string; status?: number; retryAfterSeconds?: number };

/**
 * What a provider will report later about a send it just accepted, when it knows at once (the sandbox simulates
 * its webhooks this way). Recorded right after the `sent` event, `afterMs` apart, through the provider-event path.
 */
export type FollowUpEvent = {
	type: ProviderEventType;
	afterMs: number;
	bounce?: "hard" | "soft";
	recipient?: string;
	detail: Record<string, unknown>;
};

export type SendOutcome = Result<{ providerMessageId: string; followUps?: FollowUpEvent[] }, ProviderError>;

export type SendContext = {
	/** 1 for the first provider call of this email, counted in D1 across retries. */
	attempt: number;
};

/** What the reconciler knows of an email when it asks the provider what became of it. */
export type LookupQuery = {
	emailId: string;
	/** The provider's id, when the send answered; null for an `uncertain` send (find it by our id instead). */
	providerMessageId: string | null;
	/** Bare, lower-cased to/cc/bcc addresses. */
	recipients: string[];
	/** When we sent it (epoch ms), to bound searches; null when unknown. */
	sentAt: number | null;
};

/** A delivery fact the provider reports, in our vocabulary (as a webhook would have said it). */
export type LookupEvent = {
	type: ProviderEventType;
	at: number;
	bounce?: "hard" | "soft";
	recipient?: string;
	detail: Record<string, unknown>;
};

/** `found: false` means the provider has no such message: an uncertain send that never happened. */
export type LookupResult = { found: false } | { found: true; providerMessageId: string | null; events: LookupEvent[] };

export interface EmailProvider {
	readonly name: ProviderName;
	/** True when a repeated request with our id as idempotency key cannot send twice (Resend, Brevo). */
	readonly supportsIdempotency: boolean;
	send(email: OutboundEmail, context: SendContext): Promise<SendOutcome>;
	/** Asks the provider what became of an email (reconciliation); absent where the provider has no such API. */
	lookup?(query: LookupQuery): Promise<Result<LookupResult, ProviderError>>;
}

/** Settings shared by the HTTP adapters. */
export type HttpProviderOptions = {
	baseUrl: string;
	/** Abort a provider call after this long; the outcome is then `uncertain`. */
	timeoutMs: number;
	fetch?: typeof fetch;
};
