/**
 * Which providers send a tenant's email, in failover order: the tenant's own list if it has one, else the
 * deployment's `PROVIDERS`. A provider without credentials is skipped, as if its circuit were open.
 */
import { type Config, getConfig } from "../config";
import type { TenantRow } from "../db/schema";
import { isProviderName, PROVIDER_NAMES, type ProviderName, REQUIRED_SETTINGS, settingsOf } from "./catalog";
import { createPostmarkProvider } from "./postmark";
import { createResendProvider } from "./resend";
import { SandboxProvider } from "./sandbox";
import { createSendGridProvider } from "./sendgrid";
import type { EmailProvider } from "./types";

export type ProviderFactory = (name: ProviderName) => EmailProvider | null;

/**
 * Builds providers from the environment's settings; null when the provider's credentials are missing. A call
 * unanswered after `timeoutMs` (PROVIDER_TIMEOUT_MS) is `uncertain`.
 */
export function providerFactory(env: Env, timeoutMs: number = getConfig(env).providerTimeoutMs): ProviderFactory {
	const settings = settingsOf(env);
	const cache = new Map<ProviderName, EmailProvider | null>();
	const build = (name: ProviderName): EmailProvider | null => {
		if (REQUIRED_SETTINGS[name].some((key) => settings[key] === undefined)) return null;
		switch (name) {
			case "sandbox":
				return new SandboxProvider();
			case "resend":
				return createResendProvider({
					apiKey: settings.RESEND_API_KEY ?? "",
					baseUrl: settings.RESEND_BASE_URL ?? "https://api.resend.com",
					timeoutMs,
				});
			case "sendgrid":
				return createSendGridProvider({
					apiKey: settings.SENDGRID_API_KEY ?? "",
					baseUrl: settings.SENDGRID_BASE_URL ?? "https://api.sendgrid.com",
					timeoutMs,
				});
			case "postmark":
				return createPostmarkProvider({
					serverToken: settings.POSTMARK_SERVER_TOKEN ?? "",
					baseUrl: settings.POSTMARK_BASE_URL ?? "https://api.postmarkapp.com",
					timeoutMs,
				});
		}
	};
	return (name) => {
		if (!cache.has(name)) cache.set(name, build(name));
		return cache.get(name) ?? null;
	};
}

/** The tenant's failover order, known names only. */
export function providerOrder(config: Config, tenant: Pick<TenantRow, "providers"> | undefined): ProviderName[] {
	const names = tenant?.providers && tenant.providers.length > 0 ? tenant.providers : config.providers;
	return names.filter(isProviderName);
}

/** Configured providers that deduplicate by our id: asking them again about an email cannot send it twice. */
export function idempotentProviders(factory: ProviderFactory): ProviderName[] {
	return PROVIDER_NAMES.filter((name) => factory(name)?.supportsIdempotency === true);
}
