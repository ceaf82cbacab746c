/**
 * Identifiers. Email ids are UUIDv7 (RFC 9562): the 48-bit millisecond timestamp leads, so lexicographic order
 * is creation order and the id itself is the pagination cursor. Other ids are random UUIDv4.
 */

/** @example newEmailId() // "019a5c3e-7b2a-7c41-9f0e-3d2b1a0c9e8f" */
export function newEmailId(now: number = Date.now()): string {
	const bytes = new Uint8Array(16);
	crypto.getRandomValues(bytes);
	let ms = now;
	for (let i = 5; i >= 0; i--) {
		bytes[i] = ms % 256;
		ms = Math.floor(ms / 256);
	}
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70; // version 7
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
	return formatUuid(bytes);
}

/**
 * A string that sorts before every UUIDv7 made at or after `ms` and after every one made before it: ids compare as
 * strings, and the timestamp leads. `id >= emailIdLowerBound(t)` is "created at t or later", through an id index.
 */
export function emailIdLowerBound(ms: number): string {
	const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}

/** A UUIDv7 for any row whose id is also its list cursor (templates, their draft versions). */
export const newSortableId = newEmailId;

export function newId(): string {
	return crypto.randomUUID();
}

/** A tenant webhook delivery's id (its Standard Webhooks `webhook-id`): `msg_` + 12 random bytes in hex, as fan-out writes them in SQL. */
export function newDeliveryId(): string {
	const bytes = new Uint8Array(12);
	crypto.getRandomValues(bytes);
	return `msg_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** An API key: `mr_` + 32 random bytes, base64url (docs/architecture.md, "Public API"). */
export function newApiKeyToken(): string {
	const bytes = new Uint8Array(32);
	crypto.getRandomValues(bytes);
	return `mr_${base64url(bytes)}`;
}

export function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The bytes of unpadded base64url text of 1 to `maxChars` characters; null for anything else. */
export function base64urlBytes(text: string, maxChars: number): Uint8Array<ArrayBuffer> | null {
	if (text.length === 0 || text.length > maxChars || !/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) return null;
	try {
		const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4));
		return Uint8Array.from(binary, (c) => c.charCodeAt(0));
	} catch {
		return null;
	}
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a canonical lower-case UUID; anything else cannot be one of our ids and is answered 404 early. */
export function isUuid(value: string): boolean {
	return UUID.test(value);
}

/** The 16 bytes of a canonical UUID; null when `value` is not one. */
export function uuidBytes(value: string): Uint8Array | null {
	if (!isUuid(value)) return null;
	const hex = value.replaceAll("-", "");
	return Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

/** The canonical lower-case UUID of 16 bytes. */
export function formatUuid(bytes: Uint8Array): string {
	const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
