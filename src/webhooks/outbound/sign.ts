/**
 * Standard Webhooks signing (the scheme Svix and Resend use): the secret is `whsec_` + base64 of 24 random
 * bytes; a signature is `v1,` + base64(HMAC-SHA256(secret bytes, `${id}.${timestamp}.${body}`)). Receivers verify
 * with `standardwebhooks`, `svix` or `resend.webhooks.verify()`.
 *
 * After a rotation both the new and the previous secret sign, for `PREVIOUS_SECRET_GRACE_MS`: the header then holds
 * two signatures separated by a space, which Standard Webhooks allows and its verifiers accept when any one matches.
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

/** How long a rotated-out secret keeps signing beside the new one. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;

/** The secrets that sign a delivery at `now`: the current one, and the previous one while it is in its grace period. */
export function signingSecrets(
	webhook: { signingSecret: string; previousSigningSecret: string | null; previousSecretExpiresAt: number | null },
	now: number,
): string[] {
	const previous =
		webhook.previousSigningSecret !== null && webhook.previousSecretExpiresAt !== null && webhook.previousSecretExpiresAt > now
			? [webhook.previousSigningSecret]
			: [];
	return [webhook.signingSecret, ...previous];
}

/** The `webhook-signature` value: one `v1,…` signature per secret, space-separated. */
export async function signWithAll(secrets: readonly string[], id: string, timestampSeconds: number, body: string): Promise<string> {
	return (await Promise.all(secrets.map((secret) => signPayload(secret, id, timestampSeconds, body)))).join(" ");
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
