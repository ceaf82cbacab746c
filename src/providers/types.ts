/**
 * The provider contract (docs/architecture.md, "Providers"): every adapter turns one outbound email into one provider call and
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
import type { Rate, Tag } from "../db/schema";
import type { Mailbox } from "../lib/address";
import type { Result } from "../lib/result";
import type { ProviderEventType } from "../lifecycle/provider-events";

export type OutboundAttachment = {
	filename: string;
	contentType: string;
	/** Base64 of the bytes. */
	content: string;
	contentId: string | null;
	/**
	 * Only in `GET /emails/:id/raw`, which never downloads: a `path` attachment is shown as a reference to its URL
	 * (`message/external-body`), `content` then being empty. Providers never see it.
	 */
	externalUrl?: string;
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
	/**
	 * The open and click tracking this provider is asked to do itself: set for providers that track per message
	 * (`ProviderModule.tracking.settings: "message"`), whose adapters put it in their request, both `true` and `false`
	 * (Mailroom's settings win over the account's defaults). Absent when Mailroom rewrote the html itself or the
	 * provider takes no per-message settings: the adapter then sends no tracking fields.
	 */
	tracking?: TrackingSettings;
};

export type TrackingSettings = { open: boolean; click: boolean };

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
	/** Its module's name (src/providers/registry.ts checks they agree). */
	readonly name: string;
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

// ---------------------------------------------------------------------------------------------------------------
// Inbound webhooks: each provider's adapter verifies a request exactly as the provider documents it and maps its
// payload to our event vocabulary. Adapters are pure (no D1): the route finds the emails, deduplicates and records
// through src/lifecycle/provider-events.ts.

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

/**
 * 401: missing or bad credentials, signature or timestamp; 400: a body we cannot read; 503: the request could not be
 * checked right now (the provider's signing certificate is unreachable), so the provider should retry it.
 */
export type InboundError = { status: 400 | 401 | 503; message: string };

/**
 * What makes one delivery of a webhook unique at the provider (Mailgun's signature token, an SNS MessageId). The route
 * claims it in `webhook_nonces` together with the events it records; a delivery whose key was seen before is
 * `refuse`d with 401 (a captured request replayed: the provider never repeats it) or `ignore`d with 200 (the provider
 * retries with the same key, legitimately), and nothing is written either way.
 */
export type ReplayKey = {
	nonce: string;
	/** Epoch ms after which the key cannot pass `verify` again (timestamp tolerance) or the provider stops retrying. */
	expiresAt: number;
	repeat: "refuse" | "ignore";
};

export type ParsedWebhook = {
	events: InboundEvent[];
	/** Well-formed events we do not track (e.g. Resend contact.*, SendGrid group_unsubscribe), counted not stored. */
	ignored: number;
	/** Present when the provider marks each delivery uniquely: repeats are refused or ignored (see ReplayKey). */
	replay?: ReplayKey;
	/**
	 * A URL the provider asks us to GET once to confirm the webhook subscription (SNS SubscriptionConfirmation). The
	 * adapter has checked it against its allow-list; the route fetches it after the replay check.
	 */
	confirmUrl?: string;
};

export interface InboundWebhookAdapter {
	/**
	 * The settings (secrets) `verify` needs; without all of them every request is refused with 401. Read by the
	 * deploy script to say which to set and where the provider's webhook must point.
	 */
	readonly settings: readonly string[];
	/** The provider's event names it maps, and to what: the contract suite sends one webhook of each. */
	readonly events: ReadonlyMap<string, ProviderEventType>;
	/** Checks the request's credentials or signature; never reads D1. */
	verify(request: InboundRequest, settings: Record<string, string | undefined>): Promise<Result<void, InboundError>>;
	/** Parses a verified body. */
	parse(request: InboundRequest): Result<ParsedWebhook, InboundError>;
}

// ---------------------------------------------------------------------------------------------------------------
// Provider modules

/**
 * A DNS record a sending domain publishes so that a provider may send as it (`GET /domains/:id` lists them beside
 * Mailroom's ownership record). The provider checks these itself once the domain is added on its side; Mailroom
 * checks only its own TXT record.
 */
export type DnsRecord = {
	/** Resend's kinds: `DKIM` (signing key) or `SPF` (the return path, i.e. the envelope sender bounces go to). */
	record: "DKIM" | "SPF";
	type: "TXT" | "CNAME" | "MX";
	/** Fully qualified; `<…>` marks a part the provider generates (see `purpose`). */
	name: string;
	/** The value to publish; `<…>` marks a part the provider generates per account or domain and shows on its side. */
	value: string;
	/** MX records only. */
	priority?: number;
	/** What the record does and, for a `<…>` part, where the provider shows it. */
	purpose: string;
};

/** Settings (wrangler vars and secrets) as strings; a name that is unset or empty is absent. */
export type ProviderSettings = Record<string, string | undefined>;

/**
 * One provider, whole: everything Mailroom knows about it is read from this object (src/providers/registry.ts lists
 * them). Adding a provider is one folder with its module, one line in the registry, a README section and its tests.
 */
export type ProviderModule<N extends string = string> = {
	readonly name: N;
	/** As people write it ("Amazon SES"): README sections and messages. */
	readonly title: string;
	/** Settings it cannot send without; the provider is skipped (like an open circuit) while one is missing. */
	readonly requiredSettings: readonly string[];
	/** Optional settings and their defaults (base URLs, regions, streams), for docs and the deploy script. */
	readonly optionalSettings: Readonly<Record<string, string>>;
	/**
	 * Sends per second and burst for one account when PROVIDER_RATES says nothing (the provider's documented limit,
	 * or a conservative start that its 429s then adapt).
	 */
	readonly defaultRate: Rate;
	/** True when a repeated request with our email id cannot send twice: uncertain sends are retried there. */
	readonly deduplicatesById: boolean;
	/**
	 * How long the provider remembers our id, when not for ever (Brevo: 30 minutes). Past it, a send that may have
	 * happened is no longer retried there but left `uncertain` for the reconciler, since a repeat could go out again.
	 */
	readonly idempotencyWindowSeconds?: number;
	/**
	 * Builds the adapter (send, lookup) once its required settings are present. `env` gives the bindings a transport
	 * may use instead of HTTP (Cloudflare Email Sending's `EMAIL`); the factory always passes it.
	 */
	create(settings: ProviderSettings, options: { timeoutMs: number; env?: Env }): EmailProvider;

	/** How its delivery events reach `POST /provider-webhooks/<name>`; absent when it reports none over HTTP. */
	readonly webhook?: InboundWebhookAdapter;
	/** When the provider cannot be asked about an email: why, and how Mailroom compensates (docs, `/stats`). */
	readonly noLookup?: string;
	/**
	 * The DNS records `domain` must publish for this provider to send as it (DKIM, return path), from the provider's
	 * documentation; listed by `/domains` for every provider the deployment is configured with. Absent when the
	 * provider needs none (the sandbox).
	 */
	readonly dnsRecords?: (domain: string, settings: ProviderSettings) => readonly DnsRecord[];
	/**
	 * How the provider tracks opens and clicks itself (README "Tracking"). Present: Mailroom never rewrites an email
	 * it sends there, so an email is never tracked twice. With `settings: "message"` its adapter passes
	 * `OutboundEmail.tracking` in each request; with `"account"` only what is set in the provider's account or domain
	 * applies, and the tenant's settings must be mirrored there. Absent (SMTP, Cloudflare Email Sending, the
	 * sandbox): Mailroom tracks by rewriting the html (src/tracking/rewrite.ts).
	 */
	readonly tracking?: ProviderTracking;
	/**
	 * Why this transport could not carry an email as the request gives it (a header too long for an SMTP line, one
	 * the binding does not allow), or null. Checked at accept time when the tenant's provider order contains the
	 * provider, so the request is refused with a 422 naming the header instead of failing at send time.
	 */
	readonly cannotCarry?: (email: CarriedFields) => string | null;
};

export type ProviderTracking = {
	readonly settings: "message" | "account";
	/** The request fields it sets, or where the provider's own settings are; with its documentation URL. */
	readonly how: string;
};

/** What `cannotCarry` looks at, as the request gave it (already validated by the API schema). */
export type CarriedFields = {
	headers: Readonly<Record<string, string>>;
	replyTo: readonly string[];
	/** To, cc and bcc together. */
	recipients: number;
};
