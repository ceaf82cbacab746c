/**
 * Resend (https://resend.com/docs/api-reference): send with our id as `Idempotency-Key` (Resend replays the first
 * answer for 24 h, so an unknown outcome is retried there safely); look up by Resend's id; webhooks signed through
 * Svix (Standard Webhooks). Resend documents 2 requests per second per team.
 * DNS (https://resend.com/docs/dashboard/domains/introduction): a DKIM TXT record at `resend._domainkey` and, for the
 * return path on the `send` subdomain, an MX to Amazon SES's feedback host and an SPF TXT record.
 */
import type { ProviderModule } from "../types";
import { createResendProvider } from "./client";
import { resendInbound } from "./webhook";

export const resend = {
	name: "resend",
	title: "Resend",
	requiredSettings: ["RESEND_API_KEY"],
	optionalSettings: { RESEND_BASE_URL: "https://api.resend.com" },
	defaultRate: { per_second: 2, burst: 2 },
	deduplicatesById: true,
	create: (settings, { timeoutMs }) =>
		createResendProvider({
			apiKey: settings.RESEND_API_KEY ?? "",
			baseUrl: settings.RESEND_BASE_URL ?? "https://api.resend.com",
			timeoutMs,
		}),
	webhook: resendInbound,
	tracking: {
		settings: "account",
		how: "Resend tracks per domain only: set `open_tracking` / `click_tracking` on the domain in Resend (https://resend.com/docs/dashboard/domains/tracking) as on the Mailroom domain; its send API takes no per-email setting.",
	},
	dnsRecords: (domain) => [
		{
			record: "DKIM",
			type: "TXT",
			name: `resend._domainkey.${domain}`,
			value: "p=<public key>",
			purpose: "DKIM: lets Resend sign as this domain. The key is generated per domain: add the domain in Resend (Domains) to see it.",
		},
		{
			record: "SPF",
			type: "MX",
			name: `send.${domain}`,
			value: "feedback-smtp.us-east-1.amazonses.com",
			priority: 10,
			purpose:
				"Return path: bounces and complaints for mail Resend sends come back here (us-east-1; a domain added to Resend in another region uses that region's name).",
		},
		{
			record: "SPF",
			type: "TXT",
			name: `send.${domain}`,
			value: "v=spf1 include:amazonses.com ~all",
			purpose: "SPF for the return path: allows Resend's sending servers (Amazon SES) to send with the send subdomain as envelope sender.",
		},
	],
} as const satisfies ProviderModule<"resend">;
