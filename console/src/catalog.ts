/**
 * Lists the console shows that mirror the Worker's own (statuses, event types, tenant defaults, sandbox behaviours;
 * providers come from the API's OpenAPI document instead, see `useProviderNames`). The console cannot import src/ (that would bundle zod and drizzle into the page), so
 * test/console/catalog.test.ts checks each list against its source.
 */

/** Every status an email can have (src/db/schema.ts EMAIL_STATUSES). */
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
	"uncertain",
] as const;

/** Tenant webhook event types (src/db/schema.ts WEBHOOK_EVENT_TYPES). */
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

/** The admin API's defaults for a new tenant (src/config.ts TENANT_DEFAULTS). */
export const TENANT_DEFAULTS = {
	api_rate: { per_second: 10, burst: 20 },
	send_rate: { per_second: 10, burst: 100 },
	daily_quota: 10_000,
} as const;

/** The sandbox provider's behaviours by recipient local part (src/providers/sandbox/client.ts). */
export const SANDBOX_ADDRESSES: { local: string; does: string }[] = [
	{ local: "delivered", does: "Sent, then delivered (any other address does the same)." },
	{ local: "bounced", does: "Hard bounce: the email ends bounced and the address is suppressed." },
	{ local: "complained", does: "Delivered, then marked as spam: the address is suppressed." },
	{ local: "delayed", does: "Delivery delayed, then delivered." },
	{ local: "rejected", does: "Refused by the provider at once: the email fails without retries." },
	{ local: "flaky", does: "Fails twice with a temporary error (retried with backoff), then delivered." },
	{ local: "slow", does: "The provider takes 2 seconds to answer, then delivered." },
];
