/**
 * Tracking tokens: what `/t/o/<token>` (open pixel) and `/t/c/<token>` (tracked link) carry, signed so that nobody
 * can make one Mailroom did not put in an email.
 *
 * A token is unpadded base64url of
 *
 *     kind (1 byte: 1 open, 2 click) ‖ email id (16 bytes) ‖ [click: link index (2 bytes, big-endian) ‖ URL (UTF-8)] ‖ MAC (16 bytes)
 *
 * with MAC = the first 128 bits of HMAC-SHA-256 over everything before it. The key is derived with HKDF-SHA-256 from
 * TRACKING_SECRET, else ADMIN_TOKEN (src/config.ts), so the secret itself never signs anything and rotating it
 * invalidates every token. The link's URL is signed inside its token: nothing is stored per link, and the redirect
 * can only ever go where the email's html pointed (no open redirect). Tokens do not expire, so links in old emails
 * keep working; only the recording of hits stops with retention (src/tracking/record.ts).
 */
import { base64url, base64urlBytes, formatUuid, uuidBytes } from "../lib/ids";

export type TrackingKind = "open" | "click";

export type OpenToken = { kind: "open"; emailId: string };
export type ClickToken = { kind: "click"; emailId: string; linkIndex: number; url: string };
export type TrackingToken = OpenToken | ClickToken;

const KIND_BYTE = { open: 1, click: 2 } as const;
const MAC_BYTES = 16;
const ID_BYTES = 16;
/** The most links of one email that get tracked (the index is two bytes); further links are left as they are. */
export const MAX_TRACKED_LINKS = 1000;
/** Longer URLs are left as they are: their token would make a link some clients cut off. */
export const MAX_TRACKED_URL_BYTES = 4096;
/** Anything longer cannot be a token of ours (the longest URL, base64url-encoded, plus room). */
const MAX_TOKEN_CHARS = Math.ceil(((1 + ID_BYTES + 2 + MAX_TRACKED_URL_BYTES + MAC_BYTES) * 4) / 3);
const KEY_INFO = "mailroom/tracking-tokens/v1";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for `secret`, derived once per isolate. */
function keyFor(secret: string): Promise<CryptoKey> {
	let key = keys.get(secret);
	if (!key) {
		key = crypto.subtle
			.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
			.then((base) =>
				crypto.subtle.deriveKey(
					{ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(KEY_INFO) },
					base,
					{ name: "HMAC", hash: "SHA-256", length: 256 },
					false,
					["sign"],
				),
			);
		keys.set(secret, key);
	}
	return key;
}

async function macOf(secret: string, body: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
	const full = await crypto.subtle.sign("HMAC", await keyFor(secret), body);
	return new Uint8Array(full, 0, MAC_BYTES).slice();
}

/**
 * The signed token of an open pixel or a link; null when the email id is not a UUID, the index is out of range or
 * the URL too long (such a link is left untracked).
 *
 * @example
 * const token = await signToken(secret, { kind: "click", emailId, linkIndex: 0, url: "https://acme.com/" });
 */
export async function signToken(secret: string, token: TrackingToken): Promise<string | null> {
	const id = uuidBytes(token.emailId);
	if (!id) return null;
	let tail = new Uint8Array(0);
	if (token.kind === "click") {
		const url = encoder.encode(token.url);
		if (!Number.isInteger(token.linkIndex) || token.linkIndex < 0 || token.linkIndex >= MAX_TRACKED_LINKS) return null;
		if (url.byteLength > MAX_TRACKED_URL_BYTES) return null;
		tail = new Uint8Array(2 + url.byteLength);
		new DataView(tail.buffer).setUint16(0, token.linkIndex);
		tail.set(url, 2);
	}
	const body = new Uint8Array(1 + ID_BYTES + tail.byteLength);
	body[0] = KIND_BYTE[token.kind];
	body.set(id, 1);
	body.set(tail, 1 + ID_BYTES);
	const mac = await macOf(secret, body);
	const out = new Uint8Array(body.byteLength + MAC_BYTES);
	out.set(body);
	out.set(mac, body.byteLength);
	return base64url(out);
}

/**
 * What a token says, when it is one of ours of the `expected` kind and intact; null for anything else (altered,
 * truncated, another kind, not base64url, signed with another secret). Compared in constant time.
 */
export async function verifyToken(secret: string, text: string, expected: "open"): Promise<OpenToken | null>;
export async function verifyToken(secret: string, text: string, expected: "click"): Promise<ClickToken | null>;
export async function verifyToken(secret: string, text: string, expected: TrackingKind): Promise<TrackingToken | null> {
	const bytes = base64urlBytes(text, MAX_TOKEN_CHARS);
	const minimum = 1 + ID_BYTES + (expected === "click" ? 2 : 0) + MAC_BYTES;
	if (!bytes || bytes.byteLength < minimum || bytes[0] !== KIND_BYTE[expected]) return null;
	if (expected === "open" && bytes.byteLength !== minimum) return null;
	const body = bytes.subarray(0, bytes.byteLength - MAC_BYTES);
	const given = bytes.slice(bytes.byteLength - MAC_BYTES);
	if (!crypto.subtle.timingSafeEqual(given, await macOf(secret, body))) return null;
	const emailId = formatUuid(body.subarray(1, 1 + ID_BYTES));
	if (expected === "open") return { kind: "open", emailId };
	const linkIndex = new DataView(body.buffer, body.byteOffset + 1 + ID_BYTES, 2).getUint16(0);
	let url: string;
	try {
		url = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body.subarray(1 + ID_BYTES + 2));
	} catch {
		return null;
	}
	// Signed by us, so always one of these; checked again so that a key leak cannot turn this into a javascript: link.
	if (!isTrackableUrl(url)) return null;
	return { kind: "click", emailId, linkIndex, url };
}

/** An absolute http(s) URL: the only kind of link that is ever tracked (and redirected to). */
export function isTrackableUrl(url: string): boolean {
	if (!URL.canParse(url)) return false;
	const { protocol } = new URL(url);
	return protocol === "http:" || protocol === "https:";
}
