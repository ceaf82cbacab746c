/** Mailgun webhook requests signed as Mailgun signs them: hex HMAC-SHA256 of timestamp + token with the signing key. */
import { encodeHex, hmacSha256 } from "../../src/lib/webcrypto";
import type { InboundRequest } from "../../src/providers/types";

/** The body Mailgun posts for `eventData`, signed with `key` at `now` (or `signedAt`) with a fresh token. */
export async function mailgunWebhookBody(key: string, eventData: unknown, options: { now?: number; token?: string } = {}): Promise<string> {
	const timestamp = String(Math.floor((options.now ?? Date.now()) / 1000));
	const token = options.token ?? crypto.randomUUID().replaceAll("-", "").padEnd(50, "0");
	const signature = encodeHex(await hmacSha256(Uint8Array.from(new TextEncoder().encode(key)), timestamp + token));
	return JSON.stringify({ signature: { timestamp, token, signature }, "event-data": eventData });
}

export async function mailgunWebhook(
	key: string,
	eventData: unknown,
	options: { now?: number; token?: string } = {},
): Promise<InboundRequest> {
	const now = options.now ?? Date.now();
	return {
		rawBody: await mailgunWebhookBody(key, eventData, options),
		headers: new Headers({ "content-type": "application/json" }),
		now,
	};
}

/** `event-data` shaped like Mailgun's webhook payload examples, about `messageId` and our `emailId`. */
export function mailgunEventData(
	event: string,
	about: { emailId?: string; messageId: string; at?: number },
	fields: Record<string, unknown> = {},
): Record<string, unknown> {
	return {
		event,
		id: `evt-${crypto.randomUUID()}`,
		timestamp: (about.at ?? Date.now()) / 1000,
		"log-level": "info",
		recipient: "Alice@Example.com",
		"recipient-domain": "example.com",
		envelope: { sender: "hello@mg.acme.example.com", transport: "smtp", targets: "alice@example.com" },
		message: { headers: { to: "Alice <alice@example.com>", "message-id": about.messageId, from: "hello@acme.example.com", subject: "Hi" } },
		tags: ["category:receipt"],
		"user-variables": about.emailId === undefined ? {} : { mailroom_id: about.emailId },
		flags: { "is-test-mode": false },
		...fields,
	};
}
