/**
 * WebCrypto building blocks for verifying provider webhooks on Workers (no node:crypto, no Buffer): standard
 * base64, HMAC-SHA256, and the DER → IEEE P1363 conversion WebCrypto's ECDSA needs, since providers send DER
 * signatures (`SEQUENCE { INTEGER r, INTEGER s }`) while `crypto.subtle.verify` takes `r ‖ s`, each padded.
 */

const encoder = new TextEncoder();

/** Standard base64, padded or not, whitespace tolerated; null when it is not base64. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
	let binary: string;
	try {
		binary = atob(text.replace(/\s+/g, ""));
	} catch {
		return null;
	}
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
	let binary = "";
	const step = 0x8000;
	for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
	return btoa(binary);
}

/** Lower-case hex of `bytes`. */
export function encodeHex(bytes: Uint8Array): string {
	return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** HMAC-SHA256 of the UTF-8 bytes of `message`. */
export async function hmacSha256(key: Uint8Array<ArrayBuffer>, message: string): Promise<Uint8Array<ArrayBuffer>> {
	const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(message)));
}

/**
 * A DER ECDSA signature as P1363 `r ‖ s`, each left-padded to `size` bytes (32 for P-256); null when `der` is not
 * exactly one SEQUENCE of two INTEGERs that fit. DER adds a 0x00 before an integer whose high bit is set and
 * drops leading zero bytes, so an integer may be 33 bytes or shorter than 32.
 *
 * @example
 * const signature = derToP1363(decodeBase64(header) ?? new Uint8Array());
 * if (signature) await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, data);
 */
export function derToP1363(der: Uint8Array, size = 32): Uint8Array<ArrayBuffer> | null {
	let at = 0;
	const readLength = (): number | null => {
		const first = der[at++];
		if (first === undefined) return null;
		if (first < 0x80) return first;
		// Long form: only 0x81 is possible for the curves we meet (a P-521 signature is ≤ 139 bytes).
		if (first !== 0x81) return null;
		return der[at++] ?? null;
	};
	const readInteger = (): Uint8Array | null => {
		if (der[at++] !== 0x02) return null;
		const length = readLength();
		if (length === null || length === 0 || at + length > der.length) return null;
		let value = der.subarray(at, at + length);
		at += length;
		while (value.length > 0 && value[0] === 0) value = value.subarray(1);
		return value.length <= size ? value : null;
	};

	if (der[at++] !== 0x30) return null;
	const sequenceLength = readLength();
	if (sequenceLength === null || at + sequenceLength !== der.length) return null;
	const r = readInteger();
	const s = readInteger();
	if (r === null || s === null || at !== der.length) return null;
	const out = new Uint8Array(2 * size);
	out.set(r, size - r.length);
	out.set(s, 2 * size - s.length);
	return out;
}
