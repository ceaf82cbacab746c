/** Signing provider webhooks the way the providers do, for tests that must produce requests they would send. */
import { encodeBase64 } from "../../src/lib/webcrypto";

/** A DER INTEGER for an unsigned big-endian value: leading zeros dropped, 0x00 added when the high bit is set. */
function derInteger(bytes: Uint8Array): number[] {
	let start = 0;
	while (start < bytes.length - 1 && bytes[start] === 0) start++;
	const value = [...bytes.subarray(start)];
	if ((value[0] ?? 0) >= 0x80) value.unshift(0);
	return [0x02, value.length, ...value];
}

/** An ECDSA P-256 signature as WebCrypto gives it (r ‖ s) in the DER form SendGrid sends. */
export function p1363ToDer(signature: Uint8Array): Uint8Array {
	const body = [...derInteger(signature.subarray(0, 32)), ...derInteger(signature.subarray(32))];
	return Uint8Array.from([0x30, body.length, ...body]);
}

export type Signer = { publicKey: string; sign(timestamp: string, rawBody: string): Promise<string> };

/** A fresh P-256 key pair signing timestamp + body as SendGrid's Event Webhook does (base64 SPKI public key). */
export async function generatedSigner(): Promise<Signer & { p1363(timestamp: string, rawBody: string): Promise<Uint8Array> }> {
	const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
	if (!("privateKey" in pair)) throw new Error("ECDSA generateKey returned a single key");
	const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
	const p1363 = async (timestamp: string, rawBody: string) =>
		new Uint8Array(
			await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, new TextEncoder().encode(timestamp + rawBody)),
		);
	return {
		publicKey: encodeBase64(spki),
		p1363,
		sign: async (timestamp, rawBody) => encodeBase64(p1363ToDer(await p1363(timestamp, rawBody))),
	};
}

/** Signs a body as Mailtrap does: lowercase hex HMAC-SHA256 of the raw body, keyed with the signing secret's text. */
export async function mailtrapSignature(secret: string, rawBody: string): Promise<string> {
	const encoder = new TextEncoder();
	const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(rawBody)));
	return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
