/**
 * Resend (https://resend.com/docs/api-reference): send with our id as `Idempotency-Key` (Resend replays the first
 * answer for 24 h, so an unknown outcome is retried there safely); look up by Resend's id; webhooks signed through
 * Svix (Standard Webhooks). Resend documents 2 requests per second per team.
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
} as const satisfies ProviderModule<"resend">;
