/**
 * Standard Webhooks signing (the scheme Svix and Resend use): the secret is `whsec_` + base64 of 24 random
 * bytes; a signature is `v1,` + base64(HMAC-SHA256(secret bytes, `${id}.${timestamp}.${body}`)). Receivers verify
 * with `standardwebhooks`, `svix` or `resend.webhooks.verify()`.
 */

import { decodeBase64, encodeBase64, hmacSha256 } from "../../lib/webcrypto";

export function newSigningSecret(): string {
	const bytes = new Uint8Array(24);
	crypto.getRandomValues(bytes);
	return `whsec_${encodeBase64(bytes)}`;
}

/** @example await signPayload(secret, "msg_123", 1767225600, '{"type":"email.delivered"}') // "v1,K5oZ…" */
export async function signPayload(secret: string, id: string, timestampSeconds: number, body: string): Promise<string> {
	const key = decodeBase64(secret.replace(/^whsec_/, ""));
	if (!key) throw new Error("signing secret is not whsec_ + base64");
	return `v1,${encodeBase64(await hmacSha256(key, `${id}.${timestampSeconds}.${body}`))}`;
}

/** Both header families with identical values, so every Standard Webhooks and Svix verifier accepts them. */
export function signatureHeaders(id: string, timestampSeconds: number, signature: string): Record<string, string> {
	const ts = String(timestampSeconds);
	return {
		"webhook-id": id,
		"webhook-timestamp": ts,
		"webhook-signature": signature,
		"svix-id": id,
		"svix-timestamp": ts,
		"svix-signature": signature,
	};
}
