/**
 * The providers, one line each. Everything else is derived from this list: the names `PROVIDERS` and tenants may use,
 * which settings each needs (readiness, the deploy script), default send rates, the webhook route, `/stats` and the
 * README's provider sections (a test checks one per provider).
 *
 * Which providers send a tenant's email, in failover order: the tenant's own list if it has one, else the
 * deployment's `PROVIDERS`. A provider without its required settings is skipped, as if its circuit were open.
 */
import { type Config, getConfig } from "../config";
import type { Rate, TenantRow } from "../db/schema";
import { brevo } from "./brevo";
import { cloudflare } from "./cloudflare";
import { mailgun } from "./mailgun";
import { mailtrap } from "./mailtrap";
import { postmark } from "./postmark";
import { resend } from "./resend";
import { sandbox } from "./sandbox";
import { sendgrid } from "./sendgrid";
import { ses } from "./ses";
import { smtp } from "./smtp";
import type { CarriedFields, EmailProvider, InboundWebhookAdapter, ProviderModule, ProviderSettings } from "./types";

const MODULES = [sandbox, resend, sendgrid, postmark, ses, mailgun, brevo, mailtrap, smtp, cloudflare] as const;

export type ProviderName = (typeof MODULES)[number]["name"];

/** Every provider, in the order docs list them. */
export const PROVIDERS: readonly ProviderModule<ProviderName>[] = MODULES;

export const PROVIDER_NAMES = PROVIDERS.map((p) => p.name) as [ProviderName, ...ProviderName[]];

const BY_NAME = new Map<string, ProviderModule<ProviderName>>(PROVIDERS.map((p) => [p.name, p]));

export function isProviderName(name: string): name is ProviderName {
	return BY_NAME.has(name);
}

/** The module of a provider name, or undefined for names Mailroom does not have. */
export function providerModule(name: string): ProviderModule<ProviderName> | undefined {
	return BY_NAME.get(name);
}

/** The inbound webhook adapter for a name taken from a request; undefined for unknown names and providers without one. */
export function webhookOf(name: string): InboundWebhookAdapter | undefined {
	return BY_NAME.get(name)?.webhook;
}

/** Send rate of one provider account when PROVIDER_RATES does not set it. */
export function defaultRateOf(name: string): Rate | undefined {
	return BY_NAME.get(name)?.defaultRate;
}

/** The settings (vars and secrets) of the environment, as strings; secrets are optional, so not in `Env`. */
export function settingsOf(env: Env): ProviderSettings {
	const out: ProviderSettings = {};
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
		const module = BY_NAME.get(name);
		const missing = module ? module.requiredSettings.filter((key) => settings[key] === undefined) : ["unknown provider"];
		out[name] = { ready: missing.length === 0, missing };
	}
	return out;
}

/** An adapter built by the registry: its name is its module's. */
export type NamedProvider = EmailProvider & { readonly name: ProviderName };

export type ProviderFactory = (name: ProviderName) => NamedProvider | null;

/**
 * Builds providers from the environment's settings; null when the provider's required settings are missing. A call
 * unanswered after `timeoutMs` (PROVIDER_TIMEOUT_MS) is `uncertain`.
 */
export function providerFactory(env: Env, timeoutMs: number = getConfig(env).providerTimeoutMs): ProviderFactory {
	const settings = settingsOf(env);
	const cache = new Map<ProviderName, NamedProvider | null>();
	const build = (name: ProviderName): NamedProvider | null => {
		const module = BY_NAME.get(name);
		if (!module || module.requiredSettings.some((key) => settings[key] === undefined)) return null;
		const adapter = module.create(settings, { timeoutMs, env });
		if (adapter.name !== name) throw new Error(`The ${name} module built an adapter named ${adapter.name}`);
		return adapter as NamedProvider;
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

/** The first reason a provider of `order` could not carry the email, naming the provider; null when all can. */
export function carryProblem(order: readonly ProviderName[], email: CarriedFields): string | null {
	for (const name of order) {
		const module = BY_NAME.get(name);
		const problem = module?.cannotCarry?.(email) ?? null;
		if (problem !== null) return `${problem} (${module?.title ?? name} is in this tenant's providers)`;
	}
	return null;
}

/** A provider that deduplicates by our id, and for how long (null: for ever). */
export type Deduplication = { name: ProviderName; windowMs: number | null };

/** Configured providers that deduplicate by our id: asking them again about an email cannot send it twice. */
export function idempotentProviders(factory: ProviderFactory): Deduplication[] {
	return PROVIDERS.flatMap((m) =>
		factory(m.name) !== null && m.deduplicatesById
			? [{ name: m.name, windowMs: m.idempotencyWindowSeconds === undefined ? null : m.idempotencyWindowSeconds * 1000 }]
			: [],
	);
}

/**
 * Whether asking `name` again about this email still cannot send it twice: it deduplicates by our id, and (for a
 * provider that forgets) the email's first possible call — accept time, or its schedule — is within the window.
 */
export function stillDeduplicates(name: ProviderName, email: { createdAt: number; scheduledAt: number | null }, now: number): boolean {
	const module = BY_NAME.get(name);
	if (!module?.deduplicatesById) return false;
	if (module.idempotencyWindowSeconds === undefined) return true;
	const firstCall = Math.max(email.createdAt, email.scheduledAt ?? 0);
	return now - firstCall < module.idempotencyWindowSeconds * 1000;
}
