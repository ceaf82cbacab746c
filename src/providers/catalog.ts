/**
 * The providers Mailroom knows, and the configuration each needs before it can send (DESIGN §2).
 * `GET /health/ready` reports a provider in PROVIDERS whose credentials are missing; the admin API refuses
 * unknown names in a tenant's override.
 */
export const PROVIDER_NAMES = [
	"sandbox",
	"resend",
	"sendgrid",
	"postmark",
	"mailgun",
	"ses",
	"brevo",
	"mailtrap",
	"cloudflare",
	"smtp",
] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

const REQUIRED_SETTINGS: Record<ProviderName, readonly string[]> = {
	sandbox: [],
	resend: ["RESEND_API_KEY"],
	sendgrid: ["SENDGRID_API_KEY"],
	postmark: ["POSTMARK_SERVER_TOKEN"],
	mailgun: ["MAILGUN_API_KEY", "MAILGUN_DOMAIN"],
	ses: ["SES_REGION", "SES_ACCESS_KEY_ID", "SES_SECRET_ACCESS_KEY"],
	brevo: ["BREVO_API_KEY"],
	mailtrap: ["MAILTRAP_API_TOKEN"],
	cloudflare: [],
	smtp: ["SMTP_HOST", "SMTP_PORT"],
};

export function isProviderName(name: string): name is ProviderName {
	return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** For each configured provider: ready, or the settings it lacks (unknown names are never ready). */
export function providerReadiness(env: Env, names: readonly string[]): Record<string, { ready: boolean; missing: string[] }> {
	const settings = env as unknown as Record<string, unknown>;
	const out: Record<string, { ready: boolean; missing: string[] }> = {};
	for (const name of names) {
		if (!isProviderName(name)) {
			out[name] = { ready: false, missing: ["unknown provider"] };
			continue;
		}
		const missing = REQUIRED_SETTINGS[name].filter((key) => typeof settings[key] !== "string" || settings[key] === "");
		if (name === "cloudflare" && !env.EMAIL) missing.push("EMAIL binding");
		out[name] = { ready: missing.length === 0, missing };
	}
	return out;
}
