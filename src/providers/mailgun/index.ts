/**
 * Mailgun (https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages): multipart sends with our
 * id as the `v:mailroom_id` variable; no idempotency key, so an unknown outcome is reconciled through the Events API
 * (by Mailgun's id, or by our variable among the recipient's `accepted` events); webhooks signed with HMAC-SHA256 over
 * timestamp + token (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks). Mailgun
 * publishes no per-second sending limit (its 429s name the wait): 20/s is a start that its 429s adapt.
 */
import type { ProviderModule } from "../types";
import { createMailgunProvider } from "./client";
import { mailgunInbound } from "./webhook";

const DEFAULT_BASE_URL = "https://api.mailgun.net";

export const mailgun = {
	name: "mailgun",
	title: "Mailgun",
	requiredSettings: ["MAILGUN_API_KEY", "MAILGUN_DOMAIN"],
	// EU domains: https://api.eu.mailgun.net
	optionalSettings: { MAILGUN_BASE_URL: DEFAULT_BASE_URL },
	defaultRate: { per_second: 20, burst: 20 },
	deduplicatesById: false,
	create: (settings, { timeoutMs }) =>
		createMailgunProvider({
			apiKey: settings.MAILGUN_API_KEY ?? "",
			domain: settings.MAILGUN_DOMAIN ?? "",
			baseUrl: settings.MAILGUN_BASE_URL ?? DEFAULT_BASE_URL,
			timeoutMs,
		}),
	webhook: mailgunInbound,
	tracking: {
		settings: "message",
		how: "`o:tracking-opens` (`yes`/`no`) and `o:tracking-clicks` (`htmlonly`/`no`) in each request, which override the domain's tracking settings (https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/tracking-opens).",
	},
} as const satisfies ProviderModule<"mailgun">;
