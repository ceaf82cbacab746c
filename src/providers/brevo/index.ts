/**
 * Brevo (https://developers.brevo.com/reference/send-transac-email): our id as `headers.idempotencyKey` (Brevo
 * refuses a repeat within 30 minutes, so an unknown outcome is retried at Brevo safely, and a refusal of the repeat
 * is resolved by our tag) and as `X-Mailin-custom` and a tag, echoed in webhooks; looked up through the
 * transactional events report; webhooks authenticated by a token (bearer header or basic auth in the URL). Brevo
 * documents 1,000 requests per second for `POST /v3/smtp/email` (https://developers.brevo.com/docs/api-limits).
 */
import type { ProviderModule } from "../types";
import { createBrevoProvider } from "./client";
import { brevoInbound } from "./webhook";

export const brevo = {
	name: "brevo",
	title: "Brevo",
	requiredSettings: ["BREVO_API_KEY"],
	optionalSettings: { BREVO_BASE_URL: "https://api.brevo.com" },
	defaultRate: { per_second: 1000, burst: 1000 },
	deduplicatesById: true,
	// Brevo refuses a repeated idempotencyKey for 30 minutes, then forgets it.
	idempotencyWindowSeconds: 1800,
	create: (settings, { timeoutMs }) =>
		createBrevoProvider({
			apiKey: settings.BREVO_API_KEY ?? "",
			baseUrl: settings.BREVO_BASE_URL ?? "https://api.brevo.com",
			timeoutMs,
		}),
	webhook: brevoInbound,
	tracking: {
		settings: "account",
		how: "Brevo tracks opens and clicks of transactional email by its account settings; its send API (https://developers.brevo.com/reference/sendtransacemail) takes no per-email setting.",
	},
} as const satisfies ProviderModule<"brevo">;
