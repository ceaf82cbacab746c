/**
 * SMTP (`smtp`): any relay — your own Postfix, Google Workspace (smtp-relay.gmail.com), Office 365, Amazon SES SMTP,
 * SendGrid SMTP — over `cloudflare:sockets` (https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/),
 * with a client of our own (./session.ts) because `worker-mailer` reports failures as message strings without the
 * reply code or the stage, and builds its own MIME where ours must be the one `/emails/:id/raw` shows.
 * Outcome classes and connection reuse: ./client.ts.
 *
 * What SMTP cannot do, and how Mailroom compensates: it has no idempotency key (a `Resend-Idempotency-Key`-style
 * header means nothing to a relay) and no way to ask what became of a message, so an email whose final reply was
 * lost is `uncertain`, never sent again blindly. It stays so, visible, until `UNRESOLVED_AFTER_SECONDS`, then ends
 * `failed` (`unresolved_at_provider`) with a dead letter an operator may replay; `Message-ID: <id@sender's domain>`
 * and `X-Mailroom-Id` let the relay's logs or a recipient's copy settle it. Nor does it report delivery: `sent`
 * means the relay accepted the message; refused recipients are reported as bounces at once.
 */
import type { CarriedFields, ProviderModule, ProviderSettings } from "../types";
import { SmtpProvider, type SmtpSecurity } from "./client";

const SECURITY = new Set<SmtpSecurity>(["tls", "starttls", "none"]);
const DEFAULT_PORT: Record<SmtpSecurity, number> = { tls: 465, starttls: 587, none: 25 };

export const smtp = {
	name: "smtp",
	title: "SMTP",
	requiredSettings: ["SMTP_HOST"],
	optionalSettings: {
		SMTP_SECURE: "starttls",
		SMTP_PORT: "465 for tls, 587 for starttls, 25 for none",
		SMTP_USER: "(none: no AUTH)",
		SMTP_PASSWORD: "(none: no AUTH)",
		SMTP_HELO_NAME: "the sender's domain",
		SMTP_MESSAGES_PER_CONNECTION: "100",
		ALLOW_INSECURE_SMTP: "false",
	},
	// Relays publish no common limit (Workspace: 10,000 recipients a day; SES SMTP: the account's rate): a
	// conservative start that 4xx throttling replies then adapt.
	defaultRate: { per_second: 5, burst: 10 },
	deduplicatesById: false,
	create: (settings, { timeoutMs }) => new SmtpProvider({ ...smtpSettings(settings), timeoutMs }),
	cannotCarry: cannotCarry,
	noLookup:
		"SMTP has no status API and no idempotency: an email whose final reply was lost stays uncertain (never resent blindly) and ends failed (unresolved_at_provider, with a dead letter to replay) after UNRESOLVED_AFTER_SECONDS; its Message-ID and X-Mailroom-Id let the relay's logs settle it.",
} as const satisfies ProviderModule<"smtp">;

/** SMTP's line limit (RFC 5321 §4.5.3.1.6) without the CRLF. */
const MAX_LINE_OCTETS = 998;

/**
 * A header whose line would be longer than SMTP carries. Values that are not printable ASCII are sent as folded
 * encoded words (src/lib/mime.ts), which always fit; printable ASCII is sent as given, on one line.
 */
function cannotCarry(email: CarriedFields): string | null {
	for (const [name, value] of Object.entries(email.headers)) {
		const octets = name.length + 2 + value.length;
		if (/^[\x20-\x7e]*$/.test(value) && octets > MAX_LINE_OCTETS) {
			return `Header ${name} makes a ${octets}-octet line; SMTP carries at most ${MAX_LINE_OCTETS}`;
		}
	}
	return null;
}

/** The adapter's settings from the environment's strings; an SMTP_SECURE it cannot read makes every send refuse. */
export function smtpSettings(settings: ProviderSettings) {
	const secureSetting = (settings.SMTP_SECURE ?? "starttls").toLowerCase();
	const known = SECURITY.has(secureSetting as SmtpSecurity);
	const secure: SmtpSecurity = known ? (secureSetting as SmtpSecurity) : "tls";
	const port = Number(settings.SMTP_PORT ?? DEFAULT_PORT[secure]);
	const perConnection = Number(settings.SMTP_MESSAGES_PER_CONNECTION ?? 100);
	return {
		host: settings.SMTP_HOST ?? "",
		port: Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_PORT[secure],
		secure,
		user: settings.SMTP_USER ?? null,
		password: settings.SMTP_PASSWORD ?? null,
		heloName: settings.SMTP_HELO_NAME ?? null,
		messagesPerConnection: Number.isInteger(perConnection) && perConnection >= 1 ? perConnection : 100,
		allowInsecure: settings.ALLOW_INSECURE_SMTP === "true",
		misconfigured: known ? null : `SMTP_SECURE must be tls, starttls or none, not ${JSON.stringify(settings.SMTP_SECURE)}`,
	};
}
