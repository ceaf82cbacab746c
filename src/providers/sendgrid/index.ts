/**
 * SendGrid (Twilio) v3 Mail Send (https://www.twilio.com/docs/sendgrid/api-reference/mail-send): our id in
 * `custom_args`; no idempotency key, so an unknown outcome is reconciled through the Email Activity API (a paid add-on;
 * without it lookups fail and such emails end `unresolved_at_provider`); Event Webhook signed with ECDSA P-256.
 * SendGrid publishes no per-second limit: 100/s is a start that its 429s adapt.
 * DNS (https://www.twilio.com/docs/sendgrid/ui/account-and-settings/how-to-set-up-domain-authentication): domain
 * authentication with automated security, three CNAME records whose targets SendGrid generates per account.
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
	tracking: {
		settings: "message",
		how: "`tracking_settings.open_tracking.enable` and `tracking_settings.click_tracking.enable` (`enable_text: false`: html links only) in each request (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send); they override the account's Tracking Settings. Per-link opt-out: `clicktracking=off`.",
	},
	dnsRecords: (domain) => {
		const where = "SendGrid generates the exact name and target per account: Settings → Sender Authentication → Authenticate Your Domain.";
		return [
			{
				record: "SPF",
				type: "CNAME",
				name: `em<n>.${domain}`,
				value: "u<account>.wl<n>.sendgrid.net",
				purpose: `Return path and SPF: SendGrid's bounce host for this domain. ${where}`,
			},
			{
				record: "DKIM",
				type: "CNAME",
				name: `s1._domainkey.${domain}`,
				value: "s1.domainkey.u<account>.wl<n>.sendgrid.net",
				purpose: `DKIM (first key, which SendGrid rotates for you). ${where}`,
			},
			{
				record: "DKIM",
				type: "CNAME",
				name: `s2._domainkey.${domain}`,
				value: "s2.domainkey.u<account>.wl<n>.sendgrid.net",
				purpose: `DKIM (second key, used during rotation). ${where}`,
			},
		];
	},
} as const satisfies ProviderModule<"sendgrid">;
