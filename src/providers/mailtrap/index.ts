/**
 * Mailtrap Email Sending (https://docs.mailtrap.io/developers; spec mailtrap/mailtrap-openapi
 * `specs/email-sending-transactional.openapi.yml`): bearer token, our id in `custom_variables`; no idempotency key, so
 * an unknown outcome is reconciled through the Email Logs API of the account host (by Mailtrap's id, or by our custom
 * variable among the recipient's messages); webhooks signed with HMAC-SHA256 of the raw body. Mailtrap limits every
 * API token to 150 requests per 10 seconds (mailtrap/mailtrap-docs `api-docs/rate-limits.md`): 15/s, without a burst
 * that could spend a whole window at once.
 */
import type { ProviderModule } from "../types";
import { createMailtrapProvider } from "./client";
import { mailtrapInbound } from "./webhook";

export const mailtrap = {
	name: "mailtrap",
	title: "Mailtrap",
	requiredSettings: ["MAILTRAP_API_TOKEN"],
	optionalSettings: { MAILTRAP_BASE_URL: "https://send.api.mailtrap.io", MAILTRAP_ACCOUNT_BASE_URL: "https://mailtrap.io" },
	defaultRate: { per_second: 15, burst: 15 },
	deduplicatesById: false,
	create: (settings, { timeoutMs }) =>
		createMailtrapProvider({
			apiToken: settings.MAILTRAP_API_TOKEN ?? "",
			baseUrl: settings.MAILTRAP_BASE_URL ?? "https://send.api.mailtrap.io",
			accountBaseUrl: settings.MAILTRAP_ACCOUNT_BASE_URL ?? "https://mailtrap.io",
			timeoutMs,
		}),
	webhook: mailtrapInbound,
	tracking: {
		settings: "account",
		how: "Mailtrap tracks per sending domain (its Tracking Settings in the Mailtrap app); its send API (https://docs.mailtrap.io/developers) takes no per-email setting.",
	},
} as const satisfies ProviderModule<"mailtrap">;
