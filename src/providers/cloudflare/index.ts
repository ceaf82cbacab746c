/**
 * Cloudflare Email Sending (`cloudflare`): no third party at all, through the Worker's `EMAIL` `send_email` binding
 * (wrangler.jsonc); the sending domain must be onboarded to Cloudflare Email Service
 * (https://developers.cloudflare.com/email-service/). Send and outcomes: ./client.ts; delivery events arrive on a
 * queue, not a webhook: ./events.ts. Limits (https://developers.cloudflare.com/email-service/platform/limits/):
 * 50 recipients, headers per ./headers.ts; daily sending limits are per account and undisclosed.
 */
import type { CarriedFields, ProviderModule } from "../types";
import { createCloudflareProvider } from "./client";
import { cannotCarryHeaders } from "./headers";

export const cloudflare = {
	name: "cloudflare",
	title: "Cloudflare Email Sending",
	requiredSettings: [],
	optionalSettings: {},
	// No documented rate; a conservative start that E_RATE_LIMIT_EXCEEDED answers then adapt.
	defaultRate: { per_second: 10, burst: 20 },
	deduplicatesById: false,
	create: (_settings, { timeoutMs, env }) => createCloudflareProvider({ binding: env?.EMAIL, timeoutMs }),
	noLookup:
		"Cloudflare Email Sending has no status API and no idempotency: an email whose send went unanswered stays uncertain (never resent blindly) until a delivery event settles it, or ends failed (unresolved_at_provider, with a dead letter to replay) after UNRESOLVED_AFTER_SECONDS.",
	cannotCarry: cannotCarry,
} as const satisfies ProviderModule<"cloudflare">;

/** Headers outside what the binding allows, or several Reply-To addresses for several recipients (./client.ts). */
function cannotCarry(email: CarriedFields): string | null {
	if (email.replyTo.length > 1 && email.recipients > 1) {
		return `reply_to has ${email.replyTo.length} addresses; Cloudflare Email Sending carries several only to a single recipient`;
	}
	return cannotCarryHeaders(email.headers);
}
