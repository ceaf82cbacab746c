/**
 * Postmark (https://postmarkapp.com/developer/api/email-api): our id in `Metadata`; no idempotency key, so an unknown
 * outcome is reconciled by searching the Messages API for that metadata; webhooks authenticated by basic auth in the
 * webhook URL. Postmark publishes no per-second limit: 50/s is a start that its 429s adapt.
 * DNS (https://postmarkapp.com/blog/introducing-full-dmarc-support-with-custom): a DKIM TXT record under a selector
 * Postmark assigns per domain, and a custom Return-Path CNAME `pm-bounces` → `pm.mtasv.net`.
 */
import type { ProviderModule } from "../types";
import { createPostmarkProvider } from "./client";
import { postmarkInbound } from "./webhook";

export const postmark = {
	name: "postmark",
	title: "Postmark",
	requiredSettings: ["POSTMARK_SERVER_TOKEN"],
	optionalSettings: { POSTMARK_BASE_URL: "https://api.postmarkapp.com" },
	defaultRate: { per_second: 50, burst: 50 },
	deduplicatesById: false,
	create: (settings, { timeoutMs }) =>
		createPostmarkProvider({
			serverToken: settings.POSTMARK_SERVER_TOKEN ?? "",
			baseUrl: settings.POSTMARK_BASE_URL ?? "https://api.postmarkapp.com",
			timeoutMs,
		}),
	webhook: postmarkInbound,
	tracking: {
		settings: "message",
		how: "`TrackOpens` and `TrackLinks` (`HtmlOnly` or `None`) in each request (https://postmarkapp.com/developer/user-guide/tracking-opens/tracking-opens-per-email). A server whose own Open Tracking setting is on tracks opens whatever `TrackOpens` says, so keep it off there. Per-link opt-out: `data-pm-no-track`.",
	},
	dnsRecords: (domain) => [
		{
			record: "DKIM",
			type: "TXT",
			name: `<selector>pm._domainkey.${domain}`,
			value: "k=rsa;p=<public key>",
			purpose:
				"DKIM: lets Postmark sign as this domain. The selector (date-based) and key are generated per domain: Sender Signatures → the domain → DNS Settings.",
		},
		{
			record: "SPF",
			type: "CNAME",
			name: `pm-bounces.${domain}`,
			value: "pm.mtasv.net",
			purpose: "Custom Return-Path: bounces come back through Postmark under this domain, so SPF aligns with it for DMARC.",
		},
	],
} as const satisfies ProviderModule<"postmark">;
