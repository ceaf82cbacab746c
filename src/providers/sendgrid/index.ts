/**
 * SendGrid (Twilio) v3 Mail Send (https://www.twilio.com/docs/sendgrid/api-reference/mail-send): our id in
 * `custom_args`; no idempotency key, so an unknown outcome is reconciled through the Email Activity API (a paid add-on;
 * without it lookups fail and such emails end `unresolved_at_provider`); Event Webhook signed with ECDSA P-256.
 * SendGrid publishes no per-second limit: 100/s is a start that its 429s adapt.
 */
import type { ProviderModule } from "../types";
import { createSendGridProvider } from "./client";
import { sendgridInbound } from "./webhook";

export const sendgrid = {
	name: "sendgrid",
	title: "SendGrid",
	requiredSettings: ["SENDGRID_API_KEY"],
	optionalSettings: { SENDGRID_BASE_URL: "https://api.sendgrid.com" },
	defaultRate: { per_second: 100, burst: 100 },
	deduplicatesById: false,
	create: (settings, { timeoutMs }) =>
		createSendGridProvider({
			apiKey: settings.SENDGRID_API_KEY ?? "",
			baseUrl: settings.SENDGRID_BASE_URL ?? "https://api.sendgrid.com",
			timeoutMs,
		}),
	webhook: sendgridInbound,
} as const satisfies ProviderModule<"sendgrid">;
