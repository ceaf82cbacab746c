/**
 * Typed configuration, parsed once per `env` object from wrangler vars and secrets (docs/architecture.md, "Bindings and configuration").
 * A missing or malformed value fails loudly at the first request instead of misbehaving later.
 */
import { z } from "zod";

const intVar = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const boolVar = z
	.enum(["true", "false", "1", "0", ""])
	.default("false")
	.transform((v) => v === "true" || v === "1");

/** An optional var or secret: unset and empty are the same. */
const optionalVar = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

/** Shorter admin tokens are refused at the first request (and by `npm run deploy` before it uploads one). */
export const ADMIN_TOKEN_MIN_LENGTH = 16;

const ConfigSchema = z.object({
	ADMIN_TOKEN: z.string().min(ADMIN_TOKEN_MIN_LENGTH, `ADMIN_TOKEN must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`),
	PROVIDERS: z
		.string()
		.default("sandbox")
		.transform((v) =>
			v
				.split(",")
				.map((p) => p.trim())
				.filter(Boolean),
		),
	MAX_ATTEMPTS: intVar(8, 1),
	RETRY_BASE_SECONDS: intVar(30, 1),
	RETRY_MAX_SECONDS: intVar(3600, 1),
	SEND_LEASE_SECONDS: intVar(120, 10),
	PROVIDER_TIMEOUT_MS: intVar(15_000, 1),
	ATTACHMENT_TIMEOUT_MS: intVar(10_000, 1),
	RECONCILE_AFTER_SECONDS: intVar(900, 60),
	UNRESOLVED_AFTER_SECONDS: intVar(86_400, 60),
	RETENTION_DAYS: intVar(30, 1),
	ALLOW_HTTP_WEBHOOKS: boolVar,
	MAX_ATTACHMENT_BYTES: intVar(10 * 1024 * 1024, 1),
	MAX_REQUEST_BYTES: intVar(40_000_000, 1024),
	RATE_LIMITING: z.enum(["on", "off"]).default("on"),
	PROVIDER_RATES: z
		.string()
		.default("{}")
		.transform((text, ctx) => {
			try {
				return JSON.parse(text) as unknown;
			} catch {
				ctx.addIssue({ code: "custom", message: "PROVIDER_RATES must be JSON" });
				return z.NEVER;
			}
		})
		.pipe(z.record(z.string(), z.object({ per_second: z.number().positive(), burst: z.number().int().min(1) }))),
	CIRCUIT_FAILURE_THRESHOLD: intVar(5, 1),
	CIRCUIT_COOLDOWN_SECONDS: intVar(30, 1),
	DNS_RESOLVER_URL: z.url().default("https://cloudflare-dns.com/dns-query"),
	BULK_BATCH_THRESHOLD: intVar(10, 0),
	BULK_RESERVE: z.coerce.number().min(0).max(1).default(0.2),
	PUBLIC_URL: optionalVar(
		z
			.url({ protocol: /^https?$/, error: "PUBLIC_URL must be an http(s) URL such as https://mail.example.com" })
			.transform((url) => new URL(url).origin),
	),
	TRACKING_SECRET: optionalVar(
		z.string().min(ADMIN_TOKEN_MIN_LENGTH, `TRACKING_SECRET must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`),
	),
});

export type Config = {
	adminToken: string;
	providers: string[];
	maxAttempts: number;
	retryBaseSeconds: number;
	retryMaxSeconds: number;
	sendLeaseSeconds: number;
	/** One provider call may take this long; its outcome is then `uncertain`. */
	providerTimeoutMs: number;
	/** All `path` attachment downloads of one email, bodies included, within this time. */
	attachmentTimeoutMs: number;
	reconcileAfterSeconds: number;
	/** An `uncertain` email still unresolved this long into its episode ends `failed` (`unresolved_at_provider`). */
	unresolvedAfterSeconds: number;
	retentionDays: number;
	allowHttpWebhooks: boolean;
	maxAttachmentBytes: number;
	maxRequestBytes: number;
	/** Off only for measuring the limiter's cost (bench); tenants are then unlimited. */
	rateLimiting: boolean;
	/** Send rate per provider account, where PROVIDER_RATES sets one (else the provider module's default). */
	providerRates: Record<string, { per_second: number; burst: number }>;
	circuitFailureThreshold: number;
	circuitCoolDownMs: number;
	/** DNS-over-HTTPS endpoint (JSON API) that domain verification asks for TXT records. */
	dnsResolverUrl: string;
	/** A batch request of more than this many emails defaults to the bulk lane (README, "Priority lanes"). */
	bulkBatchThreshold: number;
	/** The fraction of every send bucket's burst that bulk sends leave to high and normal ones (services/pacing.ts). */
	bulkReserve: number;
	/**
	 * The origin recipients reach this Worker at (PUBLIC_URL), where open and click tracking links point; null: the
	 * origin the send request came in on.
	 */
	publicUrl: string | null;
	/**
	 * What tracking tokens are signed with (src/tracking/token.ts): TRACKING_SECRET, else ADMIN_TOKEN. Changing it
	 * breaks the tracked links of every email already sent, so a deployment that rotates ADMIN_TOKEN sets its own.
	 */
	trackingSecret: string;
};

/**
 * The longest `delaySeconds` a queue send may carry. Cloudflare documents 12 h in one place and 24 h in
 * another; 12 h is safe everywhere. Schedules further out stay `scheduled` in D1 for the release cron.
 */
export const QUEUE_MAX_DELAY_SECONDS = 43_200;

/**
 * Time an attempt keeps in hand after its provider call for recording the outcome: a call is started only when the
 * lease covers its worst case (attachment downloads, the provider's timeout) plus this.
 */
export const LEASE_MARGIN_MS = 5_000;

/**
 * How long an isolate may answer from an API key it looked up (src/services/auth-cache.ts): the bound within which
 * a key revoked, a tenant deleted, or a tenant's limits or domains changed through another isolate take effect.
 */
export const AUTH_CACHE_MS = 30_000;

/** How long an idempotency key is remembered (Resend: 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * How long an `in_flight` idempotency claim blocks a retry with the same key. A request that crashed between
 * claim and completion stops blocking after this, and the next retry takes the key over.
 */
export const IDEMPOTENCY_IN_FLIGHT_MS = 60 * 1000;

/** Limits of one email, Resend's where it has them. */
export const EMAIL_LIMITS = {
	recipientsPerField: 50,
	batchSize: 100,
	subjectChars: 998,
	/** html + text, UTF-8 bytes: keeps the D1 row under its 2 MB limit with room for the rest. */
	bodyBytes: 1_500_000,
	headers: 50,
	headerValueChars: 2048,
	tags: 50,
	tagChars: 256,
	attachments: 100,
	/** Resend accepts scheduling up to 30 days ahead. */
	scheduleAheadDays: 30,
} as const;

/**
 * Limits of stored templates and of a templated send. Each is answered with a 422 naming it.
 * - `fieldBytes`: html and text each, UTF-8. Parsing a template costs about 0.2 ms per KB once per isolate and
 *   version (then cached), and a template row plus its versions must stay well under D1's 2 MB row limit.
 * - `variables`: declared per template (Resend's documented 50). `sendVariables`: values given per send.
 * - `valueChars`: one value's length; the rendered email must still fit `EMAIL_LIMITS.bodyBytes`, which is
 *   computed before rendering so a small template cannot be blown up into a huge string.
 */
export const TEMPLATE_LIMITS = {
	fieldBytes: 500_000,
	nameChars: 200,
	aliasChars: 100,
	variables: 50,
	variableKeyChars: 100,
	sendVariables: 100,
	valueChars: 20_000,
	/** Resend reserves these for contacts and broadcasts; a template may not declare them. */
	reservedKeys: ["FIRST_NAME", "LAST_NAME", "EMAIL", "UNSUBSCRIBE_URL", "contact", "this"],
} as const;

/** Tenant limits applied when the admin API does not set them. */
export const TENANT_DEFAULTS = {
	apiRate: { per_second: 10, burst: 20 },
	sendRate: { per_second: 10, burst: 100 },
	dailyQuota: 10_000,
} as const;

const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
	const hit = cache.get(env);
	if (hit) return hit;
	const parsed = ConfigSchema.safeParse(env);
	if (!parsed.success) {
		throw new Error(`Invalid configuration: ${z.prettifyError(parsed.error)}`);
	}
	const v = parsed.data;
	const worstCall = v.ATTACHMENT_TIMEOUT_MS + v.PROVIDER_TIMEOUT_MS + LEASE_MARGIN_MS;
	if (v.SEND_LEASE_SECONDS * 1000 < worstCall) {
		throw new Error(
			`Invalid configuration: SEND_LEASE_SECONDS (${v.SEND_LEASE_SECONDS}) must cover one send's worst case, ATTACHMENT_TIMEOUT_MS + PROVIDER_TIMEOUT_MS + ${LEASE_MARGIN_MS} ms = ${worstCall} ms`,
		);
	}
	const config: Config = {
		adminToken: v.ADMIN_TOKEN,
		providers: v.PROVIDERS.length > 0 ? v.PROVIDERS : ["sandbox"],
		maxAttempts: v.MAX_ATTEMPTS,
		retryBaseSeconds: v.RETRY_BASE_SECONDS,
		retryMaxSeconds: v.RETRY_MAX_SECONDS,
		sendLeaseSeconds: v.SEND_LEASE_SECONDS,
		providerTimeoutMs: v.PROVIDER_TIMEOUT_MS,
		attachmentTimeoutMs: v.ATTACHMENT_TIMEOUT_MS,
		reconcileAfterSeconds: v.RECONCILE_AFTER_SECONDS,
		unresolvedAfterSeconds: v.UNRESOLVED_AFTER_SECONDS,
		retentionDays: v.RETENTION_DAYS,
		allowHttpWebhooks: v.ALLOW_HTTP_WEBHOOKS,
		maxAttachmentBytes: v.MAX_ATTACHMENT_BYTES,
		maxRequestBytes: v.MAX_REQUEST_BYTES,
		rateLimiting: v.RATE_LIMITING === "on",
		providerRates: v.PROVIDER_RATES,
		circuitFailureThreshold: v.CIRCUIT_FAILURE_THRESHOLD,
		circuitCoolDownMs: v.CIRCUIT_COOLDOWN_SECONDS * 1000,
		dnsResolverUrl: v.DNS_RESOLVER_URL,
		bulkBatchThreshold: v.BULK_BATCH_THRESHOLD,
		bulkReserve: v.BULK_RESERVE,
		publicUrl: v.PUBLIC_URL ?? null,
		trackingSecret: v.TRACKING_SECRET ?? v.ADMIN_TOKEN,
	};
	cache.set(env, config);
	return config;
}
