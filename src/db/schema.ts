/**
 * D1 schema: the source of truth for tenants, keys, emails and their history.
 *
 * Times are epoch milliseconds (`integer`). JSON columns hold arrays/objects serialised by drizzle's
 * `mode: "json"`. Every tenant-owned table leads its indexes with `tenant_id`, because every query is scoped by it.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const EMAIL_STATUSES = [
	"scheduled",
	"queued",
	"sending",
	"sent",
	"delivery_delayed",
	"delivered",
	"bounced",
	"complained",
	"failed",
	"canceled",
	/** The provider may or may not have sent it (timeout after the request left); the reconciler decides. */
	"uncertain",
] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

/** Statuses an email can have while in the open set (`ended_at IS NULL`): on its way, or sent without a final event. */
export const OPEN_STATUSES = [
	"scheduled",
	"queued",
	"sending",
	"uncertain",
	"sent",
	"delivery_delayed",
] as const satisfies readonly EmailStatus[];

export const API_KEY_PERMISSIONS = ["full_access", "sending_access"] as const;
export type ApiKeyPermission = (typeof API_KEY_PERMISSIONS)[number];

export type Rate = { per_second: number; burst: number };

/**
 * An email's priority lane (README, "Priority lanes"): `high` and `normal` go through the transactional queue,
 * `bulk` through its own; pacing serves `high` first and holds a reserve of every bucket back from `bulk`.
 */
export const EMAIL_PRIORITIES = ["high", "normal", "bulk"] as const;
export type EmailPriority = (typeof EMAIL_PRIORITIES)[number];

export const tenants = sqliteTable("tenants", {
	id: text("id").primaryKey(),
	name: text("name").notNull(),
	/** The operator's override: domains (and their subdomains) the tenant may send from without verifying them. */
	allowedFromDomains: text("allowed_from_domains", { mode: "json" }).$type<string[]>().notNull(),
	apiRate: text("api_rate", { mode: "json" }).$type<Rate>().notNull(),
	sendRate: text("send_rate", { mode: "json" }).$type<Rate>().notNull(),
	dailyQuota: integer("daily_quota").notNull(),
	/** Ordered provider override; null means the deployment's PROVIDERS. */
	providers: text("providers", { mode: "json" }).$type<string[]>(),
	createdAt: integer("created_at").notNull(),
	updatedAt: integer("updated_at").notNull(),
	/** Set by `DELETE /admin/tenants/:id`: the tenant is gone from the admin API and its keys are revoked; its rows stay. */
	deletedAt: integer("deleted_at"),
});

export const apiKeys = sqliteTable(
	"api_keys",
	{
		id: text("id").primaryKey(),
		tenantId: text("tenant_id")
			.notNull()
			.references(() => tenants.id),
		name: text("name").notNull(),
		permission: text("permission", { enum: API_KEY_PERMISSIONS }).notNull(),
		/** A `sending_access` key restricted to one of the tenant's domains (Resend's `domain_id`): it sends from it only. */
		domainId: text("domain_id"),
		/** The priority of this key's sends that set none themselves; null: the batch-size default. */
		priority: text("priority", { enum: EMAIL_PRIORITIES }),
		/** Hex SHA-256 of the whole token; the token itself is never stored. */
		keyHash: text("key_hash").notNull(),
		createdAt: integer("created_at").notNull(),
		revokedAt: integer("revoked_at"),
	},
	(t) => [uniqueIndex("api_keys_key_hash").on(t.keyHash), index("api_keys_tenant").on(t.tenantId, t.createdAt)],
);

/** Attachment as stored on the email row: bytes live in R2 (`r2Key`) or are fetched at send time (`path`). */
export type StoredAttachment = {
	filename: string | null;
	contentType: string | null;
	contentId: string | null;
	size: number | null;
	r2Key: string | null;
	path: string | null;
};

export type Tag = { name: string; value: string };

/**
 * Open and click tracking of one email, resolved when it was accepted (src/tracking/settings.ts): the request's
 * `tracking`, else its sending domain's settings. `origin` is where its tracking links point (PUBLIC_URL, else the
 * origin the send request came in on).
 */
export type EmailTracking = { open: boolean; click: boolean; origin: string };

export const emails = sqliteTable(
	"emails",
	{
		/** UUIDv7: sorts by creation time, so it doubles as the pagination cursor. */
		id: text("id").primaryKey(),
		tenantId: text("tenant_id")
			.notNull()
			.references(() => tenants.id),
		status: text("status", { enum: EMAIL_STATUSES }).notNull(),
		/** Resend's `last_event`: the status, or the latest engagement event (opened, clicked). */
		lastEvent: text("last_event").notNull(),
		/** Chosen at accept, never changed: every re-enqueue (retry, recovery, release, requeue, replay) uses its lane. */
		priority: text("priority", { enum: EMAIL_PRIORITIES }).notNull().default("normal"),
		from: text("from_address").notNull(),
		to: text("to_addresses", { mode: "json" }).$type<string[]>().notNull(),
		cc: text("cc_addresses", { mode: "json" }).$type<string[]>().notNull(),
		bcc: text("bcc_addresses", { mode: "json" }).$type<string[]>().notNull(),
		replyTo: text("reply_to", { mode: "json" }).$type<string[]>().notNull(),
		/** Bare lower-cased addresses of to, cc and bcc: what suppressions are checked against at send time. */
		recipients: text("recipients", { mode: "json" }).$type<string[]>().notNull().default([]),
		subject: text("subject").notNull(),
		html: text("html"),
		text: text("text_body"),
		headers: text("headers", { mode: "json" }).$type<Record<string, string>>(),
		tags: text("tags", { mode: "json" }).$type<Tag[]>().notNull(),
		attachments: text("attachments", { mode: "json" }).$type<StoredAttachment[]>(),
		/** For a templated send: the template and the published version it was rendered from, and the values given. */
		templateId: text("template_id"),
		templateVersionId: text("template_version_id"),
		templateVariables: text("template_variables", { mode: "json" }).$type<Record<string, unknown>>(),
		/** Null when neither opens nor clicks are tracked. */
		tracking: text("tracking", { mode: "json" }).$type<EmailTracking>(),
		scheduledAt: integer("scheduled_at"),
		/**
		 * The provider of the current attempt, written by the claim before any call is made (so recovery never has to
		 * guess where a send may have gone); for a `queued` email, the one its next attempt will use (after a failover,
		 * the next in the order); null only before the first claim.
		 */
		provider: text("provider"),
		providerMessageId: text("provider_message_id"),
		sentAt: integer("sent_at"),
		/**
		 * When the queue message for this row is due (epoch ms): set whenever one is sent for it (accept, retry,
		 * deferral, release, recovery); null for a schedule beyond the queue's delay limit (not enqueued yet). The
		 * recover cron re-enqueues `queued`/`scheduled` rows overdue by a grace period: their message was lost.
		 */
		nextAttemptAt: integer("next_attempt_at"),
		/**
		 * Set once this email may already have been sent at this provider (an unknown outcome there, a lease that
		 * expired mid-send): from then on it is only ever retried there, under the same idempotency key, and never
		 * failed over, since a second provider would send it twice.
		 */
		pinnedProvider: text("pinned_provider"),
		/** Last time the reconciler asked the provider about this email. */
		reconciledAt: integer("reconciled_at"),
		/** Provider attempts so far; incremented by the consumer's claim. */
		attempts: integer("attempts").notNull().default(0),
		/**
		 * The token of the claim that owns this row while `sending` (a new one per claim): every outcome write is
		 * guarded by it, so an attempt whose lease expired can never overwrite what a newer attempt decided.
		 */
		attemptId: text("attempt_id"),
		leaseUntil: integer("lease_until"),
		/**
		 * When the current `uncertain` episode began: the reconciler counts "not found" answers only since then, and
		 * gives up (`failed`, reason `unresolved_at_provider`) UNRESOLVED_AFTER_SECONDS after it.
		 */
		uncertainSince: integer("uncertain_since"),
		lastError: text("last_error"),
		/**
		 * The latest provider event that moved the status (delivered, bounced…), held on the row instead of in
		 * `email_events`: the common path (sent → delivered) then writes no event row. When a later event moves the
		 * status again, this one is moved into `email_events` first (src/lifecycle/provider-events.ts).
		 */
		statusEvent: text("status_event", { mode: "json" }).$type<StatusEvent>(),
		/**
		 * When the email left the open set (our clock): a final status, or a `sent` that nothing more is expected
		 * of (a transport without delivery events, or reconcile stopped asking). Null while open: `emails_open`.
		 */
		endedAt: integer("ended_at"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	// WITHOUT ROWID (migrations/0010_cost.sql; drizzle cannot say so): the id is the key, with no rowid beside it.
	// Each index entry a write changes is a row D1 bills, so there are three, chosen so the common path touches few
	// (docs/architecture.md, "Cost"): none of them keyed or filtered on `status`, which changes at every step.
	(t) => [
		// Lists, lookups and analytics per tenant, newest first (UUIDv7 ids sort by creation time).
		index("emails_tenant_id").on(t.tenantId, t.id),
		// The open set, in the order the crons want it: recover (lost messages, expired leases), release (far-future
		// schedules: null next_attempt_at, by scheduled_at) and reconcile (uncertain, sent without a final event).
		index("emails_open").on(t.nextAttemptAt, t.scheduledAt).where(sql`ended_at IS NULL`),
		// Cloudflare Email Sending's events carry only its message id; every other provider's carry ours.
		index("emails_cloudflare_message").on(t.providerMessageId).where(sql`provider = 'cloudflare' AND provider_message_id IS NOT NULL`),
	],
);

/** A provider event kept on its email's row (`emails.status_event`); `key` is its dedupe key. */
export type StatusEvent = {
	key: string;
	type: string;
	at: number;
	provider: string | null;
	detail: Record<string, unknown> | null;
	/** Our clock when it was recorded: orders it among the email's events. */
	recordedAt: number;
};

/**
 * An email's events that its row cannot say. `queued`/`scheduled` (the row's `created_at`), `sent` (`sent_at`) and
 * the latest status event (`status_event`) are read from the row (src/db/emails.ts `timelineOf`); everything else
 * (retries, failures, uncertainty, engagement, earlier status events) is a row here. WITHOUT ROWID, keyed by email
 * and `key`: one row written per event, read per email by the key's prefix, deduplicated by the key itself.
 */
export const emailEvents = sqliteTable(
	"email_events",
	{
		emailId: text("email_id").notNull(),
		/** The provider's dedupe key for provider events (the same every time it is delivered); ours are `o:<uuid>`. */
		key: text("key").notNull(),
		tenantId: text("tenant_id").notNull(),
		type: text("type").notNull(),
		at: integer("at").notNull(),
		provider: text("provider"),
		detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>(),
		/** Our clock when it was recorded: the order of an email's events (provider times may be skewed). */
		recordedAt: integer("recorded_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.emailId, t.key] })],
);

/** Where a cron that walks a table in key order stopped (retention: the last email id it read). WITHOUT ROWID. */
export const cronCursors = sqliteTable("cron_cursors", {
	name: text("name").primaryKey(),
	value: text("value").notNull(),
});

/** Emails retention passed while they were still on their way; purged once they end. WITHOUT ROWID. */
export const retentionWaiting = sqliteTable("retention_waiting", {
	emailId: text("email_id").primaryKey(),
});

export const IDEMPOTENCY_STATES = ["in_flight", "completed"] as const;

export const idempotencyKeys = sqliteTable(
	"idempotency_keys",
	{
		tenantId: text("tenant_id").notNull(),
		/** `METHOD /path` of the route, so one key may be reused across endpoints (Resend's scoping). */
		endpoint: text("endpoint").notNull(),
		key: text("key").notNull(),
		/** SHA-256 of the canonical JSON body: same key + different body is a 409. */
		requestHash: text("request_hash").notNull(),
		state: text("state", { enum: IDEMPOTENCY_STATES }).notNull(),
		/** Random per request: only the request that claimed the key may complete it. */
		owner: text("owner").notNull(),
		responseStatus: integer("response_status"),
		responseBody: text("response_body"),
		createdAt: integer("created_at").notNull(),
		expiresAt: integer("expires_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.tenantId, t.endpoint, t.key] }), index("idempotency_expires").on(t.expiresAt)],
);

export const suppressions = sqliteTable(
	"suppressions",
	{
		tenantId: text("tenant_id").notNull(),
		/** Lower-cased bare address. */
		email: text("email").notNull(),
		reason: text("reason").notNull(),
		/** Where it came from: `manual`, `api`, or the event that caused it (e.g. `bounce:<email id>`). */
		source: text("source").notNull(),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.tenantId, t.email] })],
);

/** Emails that ended without delivery because retries ran out or the queue gave up; replayable by the tenant. */
export const deadLetters = sqliteTable(
	"dead_letters",
	{
		id: text("id").primaryKey(),
		/** Null only for a queue message too malformed to name its tenant. */
		tenantId: text("tenant_id"),
		emailId: text("email_id"),
		reason: text("reason").notNull(),
		provider: text("provider"),
		attempts: integer("attempts").notNull(),
		lastError: text("last_error"),
		/** The raw queue body, for messages that could not be parsed. */
		payload: text("payload"),
		createdAt: integer("created_at").notNull(),
		replayedAt: integer("replayed_at"),
	},
	(t) => [index("dead_letters_tenant").on(t.tenantId, t.createdAt), index("dead_letters_email").on(t.emailId)],
);

export const WEBHOOK_EVENT_TYPES = [
	"email.sent",
	"email.delivered",
	"email.delivery_delayed",
	"email.bounced",
	"email.complained",
	"email.opened",
	"email.clicked",
	"email.failed",
	"email.scheduled",
	"email.canceled",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A tenant's webhook endpoint (docs/architecture.md, "Tenant webhooks"). The secret is kept to sign deliveries and shown only at creation. */
export const webhooks = sqliteTable(
	"webhooks",
	{
		id: text("id").primaryKey(),
		tenantId: text("tenant_id")
			.notNull()
			.references(() => tenants.id),
		endpoint: text("endpoint").notNull(),
		events: text("events", { mode: "json" }).$type<WebhookEventType[]>().notNull(),
		signingSecret: text("signing_secret").notNull(),
		/**
		 * The secret a rotation replaced, still signing (beside the new one) until `previousSecretExpiresAt`, so receivers
		 * can switch over without losing a delivery.
		 */
		previousSigningSecret: text("previous_signing_secret"),
		previousSecretExpiresAt: integer("previous_secret_expires_at"),
		createdAt: integer("created_at").notNull(),
		/** Set when the endpoint answered 410 Gone, or by `PATCH /webhooks/:id` with `status: disabled`. */
		disabledAt: integer("disabled_at"),
		/** Deleted endpoints stay for their delivery history; nothing new is sent to them. */
		deletedAt: integer("deleted_at"),
	},
	(t) => [index("webhooks_tenant").on(t.tenantId, t.createdAt)],
);

export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "failed", "canceled"] as const;

/** One event for one endpoint. Its id is the Standard Webhooks `webhook-id`, the same on every retry. */
export const webhookDeliveries = sqliteTable(
	"webhook_deliveries",
	{
		id: text("id").primaryKey(),
		webhookId: text("webhook_id").notNull(),
		tenantId: text("tenant_id").notNull(),
		emailId: text("email_id").notNull(),
		eventType: text("event_type").notNull(),
		eventAt: integer("event_at").notNull(),
		eventDetail: text("event_detail", { mode: "json" }).$type<Record<string, unknown>>(),
		status: text("status", { enum: WEBHOOK_DELIVERY_STATUSES }).notNull(),
		attempts: integer("attempts").notNull(),
		lastStatusCode: integer("last_status_code"),
		lastError: text("last_error"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
		deliveredAt: integer("delivered_at"),
		/** When the queue message for this delivery is due; the recover cron re-enqueues pending ones long overdue. */
		nextAttemptAt: integer("next_attempt_at"),
	},
	(t) => [
		index("webhook_deliveries_webhook").on(t.webhookId, t.createdAt),
		index("webhook_deliveries_status").on(t.status, t.nextAttemptAt),
	],
);

export const webhookAttempts = sqliteTable(
	"webhook_attempts",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		deliveryId: text("delivery_id").notNull(),
		attempt: integer("attempt").notNull(),
		at: integer("at").notNull(),
		statusCode: integer("status_code"),
		error: text("error"),
		durationMs: integer("duration_ms").notNull(),
	},
	(t) => [index("webhook_attempts_delivery").on(t.deliveryId, t.id)],
);

/** Verified provider events for emails we cannot find: kept for inspection, answered 200 so providers stop. */
export const unmatchedProviderEvents = sqliteTable(
	"unmatched_provider_events",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		provider: text("provider").notNull(),
		dedupeKey: text("dedupe_key").notNull(),
		eventType: text("event_type").notNull(),
		emailId: text("email_id"),
		providerMessageId: text("provider_message_id"),
		event: text("event", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
		receivedAt: integer("received_at").notNull(),
	},
	(t) => [
		uniqueIndex("unmatched_provider_events_dedupe").on(t.dedupeKey),
		index("unmatched_provider_events_message").on(t.providerMessageId),
	],
);

/** A domain's verification state (Resend's names): added, waiting for its TXT record, proven, given up on. */
export const DOMAIN_STATUSES = ["not_started", "pending", "verified", "failed"] as const;
export type DomainStatus = (typeof DOMAIN_STATUSES)[number];

/**
 * What the last DNS check found: the record, no record, only other tokens, another tenant already holding the name, or
 * no usable answer from the resolver (timeout, error, garbage: a temporary failure).
 */
export const DOMAIN_CHECK_OUTCOMES = ["verified", "missing", "wrong_token", "taken", "resolver_error"] as const;
export type DomainCheckOutcome = (typeof DOMAIN_CHECK_OUTCOMES)[number];

/**
 * A tenant's sending domain (`/domains`, docs/architecture.md "Domains"). A tenant may send from a verified domain and
 * its subdomains. Verified means the TXT record `mailroom-verification=<token>` was found at `name` over DNS; only one
 * tenant can hold a name verified at a time (the partial unique index).
 */
export const domains = sqliteTable(
	"domains",
	{
		/** UUIDv7: the list cursor, as for emails. */
		id: text("id").primaryKey(),
		tenantId: text("tenant_id")
			.notNull()
			.references(() => tenants.id),
		/** Lower-cased, no trailing dot. */
		name: text("name").notNull(),
		status: text("status", { enum: DOMAIN_STATUSES }).notNull(),
		/** The secret part of the ownership record; random per domain, never reused. */
		token: text("token").notNull(),
		/** Resend's region, kept for compatibility: Mailroom sends through its configured providers wherever they are. */
		region: text("region").notNull(),
		/** Per-domain tracking settings (read by open and click tracking). */
		openTracking: integer("open_tracking", { mode: "boolean" }).notNull(),
		clickTracking: integer("click_tracking", { mode: "boolean" }).notNull(),
		tls: text("tls", { enum: ["opportunistic", "enforced"] }).notNull(),
		trackingSubdomain: text("tracking_subdomain"),
		/** DNS checks so far in the current verification (the cron's backoff grows with it). */
		checks: integer("checks").notNull(),
		/** When the cron checks a `pending` domain next; null otherwise. */
		nextCheckAt: integer("next_check_at"),
		lastCheckedAt: integer("last_checked_at"),
		lastCheck: text("last_check", { enum: DOMAIN_CHECK_OUTCOMES }),
		/** Why the last check did not verify, in words (which record was missing, what the resolver did…). */
		lastError: text("last_error"),
		verifiedAt: integer("verified_at"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [
		uniqueIndex("domains_tenant_name").on(t.tenantId, t.name),
		uniqueIndex("domains_verified_name").on(t.name).where(sql`status = 'verified'`),
		index("domains_pending_check").on(t.nextCheckAt).where(sql`status = 'pending'`),
	],
);

export const VARIABLE_TYPES = ["string", "number"] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

/** A declared template variable as stored in a template's draft and its versions (Resend's `TemplateVariable`). */
export type StoredVariable = {
	id: string;
	key: string;
	type: VariableType;
	fallback_value: string | number | null;
	created_at: string;
	updated_at: string;
};

/** What a template's draft and each of its versions hold (fresh builders per table, as drizzle needs). */
const templateContentColumns = () => ({
	name: text("name").notNull(),
	from: text("from_address"),
	subject: text("subject"),
	replyTo: text("reply_to", { mode: "json" }).$type<string[]>(),
	html: text("html").notNull(),
	text: text("text_body"),
	variables: text("variables", { mode: "json" }).$type<StoredVariable[]>().notNull(),
});

/**
 * A tenant's template: its draft (the fields below, edited by PATCH) and a pointer to the published version that
 * sends use. `draftVersionId` is the id the draft will carry once published: it equals `publishedVersionId` while
 * the draft has no unpublished changes, and the first edit after a publish gives the draft a new one.
 */
export const templates = sqliteTable(
	"templates",
	{
		/** UUIDv7, the list cursor (as for emails). */
		id: text("id").primaryKey(),
		tenantId: text("tenant_id")
			.notNull()
			.references(() => tenants.id),
		/** Unique per tenant; never UUID-shaped, so `/templates/:id_or_alias` is unambiguous. */
		alias: text("alias"),
		...templateContentColumns(),
		draftVersionId: text("draft_version_id").notNull(),
		publishedVersionId: text("published_version_id"),
		publishedAt: integer("published_at"),
		/** Incremented by every change; PATCH writes only if nobody changed the row since it was read. */
		revision: integer("revision").notNull(),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [
		index("templates_tenant_id").on(t.tenantId, t.id),
		uniqueIndex("templates_tenant_alias").on(t.tenantId, t.alias).where(sql`alias IS NOT NULL`),
	],
);

/** A published version: a frozen copy of the draft. Sends render from these only. */
export const templateVersions = sqliteTable(
	"template_versions",
	{
		id: text("id").primaryKey(),
		templateId: text("template_id").notNull(),
		tenantId: text("tenant_id").notNull(),
		/** 1, 2, 3… per template, in publish order. */
		number: integer("number").notNull(),
		...templateContentColumns(),
		publishedAt: integer("published_at").notNull(),
	},
	(t) => [uniqueIndex("template_versions_template_number").on(t.templateId, t.number)],
);

/**
 * Provider webhook deliveries already seen (src/routes/provider-webhooks.ts): a replay key the adapter names (Mailgun's
 * signature token, an SNS MessageId) is claimed here in the same transaction as the events it carries, so a repeat is
 * refused or ignored. Rows are kept until `expires_at` (past the provider's timestamp tolerance or retry window) and
 * purged by the retention cron.
 */
export const webhookNonces = sqliteTable(
	"webhook_nonces",
	{
		provider: text("provider").notNull(),
		nonce: text("nonce").notNull(),
		expiresAt: integer("expires_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.provider, t.nonce] }), index("webhook_nonces_expires").on(t.expiresAt)],
);

export type TenantRow = typeof tenants.$inferSelect;
export type DomainRow = typeof domains.$inferSelect;
export type TemplateRow = typeof templates.$inferSelect;
export type TemplateVersionRow = typeof templateVersions.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeadLetterRow = typeof deadLetters.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type EmailRow = typeof emails.$inferSelect;
export type NewEmailRow = typeof emails.$inferInsert;
export type EmailEventRow = typeof emailEvents.$inferSelect;
export type SuppressionRow = typeof suppressions.$inferSelect;
