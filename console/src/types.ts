/** The API's shapes as the console reads them (src/routes/*.ts and src/schemas/*.ts are the source of truth). */

/** Who is signed in (console/src/session.ts keeps it). */
export type Session = { kind: "tenant"; token: string; permission: "full_access" | "sending_access" } | { kind: "operator"; token: string };

export type List<T> = { object: "list"; has_more?: boolean; data: T[] };

/** The Worker's own type (a type-only import: nothing of src/ is bundled into the page). */
export type { EmailObject } from "../../src/services/email-object";

export type EmailEvent = { type: string; at: string; provider: string | null; detail: Record<string, unknown> | null };

export type Suppression = { object: "suppression"; email: string; reason: string; source: string; created_at: string };

export type DeadLetter = {
	object: "dead_letter";
	id: string;
	email_id: string | null;
	reason: string;
	provider: string | null;
	attempts: number;
	last_error: string | null;
	created_at: string;
	replayed_at: string | null;
};

export type Webhook = {
	object: "webhook";
	id: string;
	endpoint: string;
	events: string[];
	status: "enabled" | "disabled";
	created_at: string;
};

export type WebhookDelivery = {
	object: "webhook_delivery";
	id: string;
	event_type: string;
	email_id: string;
	status: string;
	attempts: number;
	last_status_code: number | null;
	last_error: string | null;
	created_at: string;
	delivered_at: string | null;
	attempt_log: { attempt: number; at: string; status_code: number | null; error: string | null; duration_ms: number }[];
};

export type ApiKey = { id: string; name: string; permission: "full_access" | "sending_access"; created_at: string };

export type Circuit = "closed" | "open" | "half_open";

export type Stats = {
	object: "stats";
	emails: Record<string, number>;
	pending: { count: number; oldest_age_seconds: number | null };
	/** The tenant's own figures (circuits and shared rates are the operator's). */
	providers: Record<string, { error_rate_1h: number | null; attempts_1h: number; reconcilable: boolean }>;
	sent_without_final_event_over_1d: number;
};

export type Analytics = {
	object: "analytics";
	group_by: "hour" | "day";
	from: string;
	to: string;
	data: { start: string; counts: Record<string, number> }[];
};

export type Rate = { per_second: number; burst: number };

export type Tenant = {
	object: "tenant";
	id: string;
	name: string;
	allowed_from_domains: string[];
	api_rate: Rate;
	send_rate: Rate;
	daily_quota: number;
	providers: string[] | null;
	created_at: string;
	updated_at: string;
};

/** `checks` only with the admin token. */
export type Readiness = {
	status: "ready" | "not_ready";
	checks?: { d1: { ok: boolean; error?: string }; providers: Record<string, { ready: boolean; missing: string[]; circuit?: Circuit }> };
};

/** Resend's template shapes (issue 13); only what the send page reads. */
export type TemplateListItem = { id: string; name: string; alias?: string | null; status?: "draft" | "published" };
export type TemplateVariable = { key: string; type: "string" | "number" | "boolean" | "object" | "list"; fallback_value?: unknown };
export type Template = TemplateListItem & {
	from?: string | null;
	subject?: string | null;
	variables?: TemplateVariable[] | null;
};
