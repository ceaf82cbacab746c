/**
 * The providers Mailroom has adapters for, and the configuration each needs before it can send (docs/architecture.md, "Bindings and configuration").
 * `GET /health/ready` reports a provider in PROVIDERS whose credentials are missing; the admin API refuses
 * other names in a tenant's override.
 */
export const PROVIDER_NAMES = ["sandbox", "resend", "sendgrid", "postmark"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export const REQUIRED_SETTINGS: Record<ProviderName, readonly string[]> = {
	sandbox: [],
	resend: ["RESEND_API_KEY"],
	sendgrid: ["SENDGRID_API_KEY"],
	postmark: ["POSTMARK_SERVER_TOKEN"],
};

export function isProviderName(name: string): name is ProviderName {
	return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** The settings (vars and secrets) of the environment, as strings; secrets are optional, so not in `Env`. */
export function settingsOf(env: Env): Record<string, string | undefined> {
	const out: Record<string, string | undefined> = {};
	for (const [key, value] of Object.entries(env as unknown as Record<string, unknown>)) {
		if (typeof value === "string" && value !== "") out[key] = value;
	}
	return out;
}

/** For each configured provider: ready, or the settings it lacks (unknown names are never ready). */
export function providerReadiness(env: Env, names: readonly string[]): Record<string, { ready: boolean; missing: string[] }> {
	const settings = settingsOf(env);
	const out: Record<string, { ready: boolean; missing: string[] }> = {};
	for (const name of names) {
		if (!isProviderName(name)) {
			out[name] = { ready: false, missing: ["unknown provider"] };
			continue;
		}
		const missing = REQUIRED_SETTINGS[name].filter((key) => settings[key] === undefined);
		out[name] = { ready: missing.length === 0, missing };
	}
	return out;
}
