/**
 * Postmark (https://postmarkapp.com/developer/api/email-api): our id in `Metadata`; no idempotency key, so an unknown
 * outcome is reconciled by searching the Messages API for that metadata; webhooks authenticated by basic auth in the
 * webhook URL. Postmark publishes no per-second limit: 50/s is a start that its 429s adapt.
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
} as const satisfies ProviderModule<"postmark">;
