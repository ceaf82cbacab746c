/** Building provider webhook requests signed the way each provider signs them. */
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { call } from "./api";
import { mailtrapSignature } from "./signers";

let seq = 0;

/** A Resend (Svix) webhook for `body`, signed with the test secret unless `secret` says otherwise. */
export function resendWebhook(body: unknown, options: { secret?: string; id?: string; at?: Date } = {}) {
	const raw = JSON.stringify(body);
	const id = options.id ?? `msg_${++seq}_${crypto.randomUUID()}`;
	const at = options.at ?? new Date();
	const signature = new Webhook(options.secret ?? env.RESEND_WEBHOOK_SECRET).sign(id, at, raw);
	return {
		rawBody: raw,
		headers: {
			"content-type": "application/json",
			"svix-id": id,
			"svix-timestamp": String(Math.floor(at.getTime() / 1000)),
			"svix-signature": signature,
		},
	};
}

/** A SendGrid event webhook: ECDSA P-256 over timestamp + raw body (with SendGrid's trailing CRLF), DER, base64. */
export async function sendgridWebhook(events: unknown[]) {
	const raw = `${JSON.stringify(events)}\r\n`;
	const timestamp = String(Math.floor(Date.now() / 1000));
	const key = await crypto.subtle.importKey(
		"pkcs8",
		base64Bytes(env.TEST_SENDGRID_PRIVATE_KEY),
		{ name: "ECDSA", namedCurve: "P-256" },
		false,
		["sign"],
	);
	const p1363 = new Uint8Array(
		await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(timestamp + raw)),
	);
	return {
		rawBody: raw,
		headers: {
			"content-type": "application/json",
			"x-twilio-email-event-webhook-signature": btoa(String.fromCharCode(...toDer(p1363))),
			"x-twilio-email-event-webhook-timestamp": timestamp,
		},
	};
}

export function postmarkWebhook(body: unknown, credentials = `${env.POSTMARK_WEBHOOK_USER}:${env.POSTMARK_WEBHOOK_PASSWORD}`) {
	return { rawBody: JSON.stringify(body), headers: { "content-type": "application/json", authorization: `Basic ${btoa(credentials)}` } };
}

/** A Brevo webhook for `body` (one event or a batch), with the test token as a bearer token unless told otherwise. */
export function brevoWebhook(body: unknown, authorization = `Bearer ${env.BREVO_WEBHOOK_TOKEN}`) {
	return { rawBody: JSON.stringify(body), headers: { "content-type": "application/json", authorization } };
}

/** A Mailtrap webhook: `rawBody` as given, signed with the test secret (hex HMAC-SHA256) unless `secret` says otherwise. */
export async function mailtrapWebhook(rawBody: string, secret = env.MAILTRAP_WEBHOOK_SECRET) {
	return { rawBody, headers: { "content-type": "application/json", "mailtrap-signature": await mailtrapSignature(secret, rawBody) } };
}

export function postWebhook(provider: string, request: { rawBody: string; headers: Record<string, string> }) {
	return call<{ received: number; matched: number; unmatched: number; ignored: number; repeated?: boolean; name?: string }>(
		"POST",
		`/provider-webhooks/${provider}`,
		request,
	);
}

/** Rows provider webhooks write: email events (matched) and unmatched provider events; "nothing written" compares them. */
export async function providerEventCounts(): Promise<{ events: number; unmatched: number }> {
	const [events, unmatched] = await env.DB.batch<{ n: number }>([
		env.DB.prepare("SELECT count(*) AS n FROM email_events"),
		env.DB.prepare("SELECT count(*) AS n FROM unmatched_provider_events"),
	]);
	return { events: events?.results[0]?.n ?? 0, unmatched: unmatched?.results[0]?.n ?? 0 };
}

/** Rows a provider webhook may write: events, unmatched events, replay keys (for "nothing written" checks). */
export async function webhookWrites(): Promise<{ events: number; unmatched: number; nonces: number }> {
	const [events, unmatched, nonces] = await env.DB.batch<{ n: number }>([
		env.DB.prepare("SELECT count(*) AS n FROM email_events"),
		env.DB.prepare("SELECT count(*) AS n FROM unmatched_provider_events"),
		env.DB.prepare("SELECT count(*) AS n FROM webhook_nonces"),
	]);
	return { events: events?.results[0]?.n ?? 0, unmatched: unmatched?.results[0]?.n ?? 0, nonces: nonces?.results[0]?.n ?? 0 };
}

/** Marks a seeded email as sent through `provider` with its message id, as the consumer would have. */
export async function markSent(emailId: string, provider: string, providerMessageId: string): Promise<void> {
	await env.DB.prepare(
		"UPDATE emails SET status = 'sent', last_event = 'sent', provider = ?, provider_message_id = ?, sent_at = ? WHERE id = ?",
	)
		.bind(provider, providerMessageId, Date.now(), emailId)
		.run();
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
	const binary = atob(text);
	const out = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
	return out;
}

/** P1363 (r‖s) → DER SEQUENCE { INTEGER r, INTEGER s }, as SendGrid sends signatures. */
function toDer(p1363: Uint8Array): number[] {
	const int = (bytes: Uint8Array) => {
		let b = [...bytes];
		while (b.length > 1 && b[0] === 0) b = b.slice(1);
		if ((b[0] ?? 0) & 0x80) b = [0, ...b];
		return [0x02, b.length, ...b];
	};
	const body = [...int(p1363.slice(0, 32)), ...int(p1363.slice(32))];
	return [0x30, body.length, ...body];
}
