/** Hashing and comparison helpers on WebCrypto. */
import { ApiError } from "../errors";
import { encodeHex } from "./webcrypto";

const encoder = new TextEncoder();

export async function sha256Hex(input: string | Uint8Array): Promise<string> {
	const data = typeof input === "string" ? encoder.encode(input) : input;
	const digest = await crypto.subtle.digest("SHA-256", data);
	return encodeHex(new Uint8Array(digest));
}

/**
 * Compares two secrets without leaking where they differ. Both sides are hashed first so the comparison
 * also hides the length of the expected value.
 */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
	const [ha, hb] = await Promise.all([
		crypto.subtle.digest("SHA-256", encoder.encode(a)),
		crypto.subtle.digest("SHA-256", encoder.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(ha, hb);
}

/**
 * JSON with object keys sorted at every depth: two bodies that differ only in key order hash the same,
 * which is what idempotency compares.
 */
export function canonicalJson(value: unknown): string {
	try {
		return sortedJson(value);
	} catch (err) {
		// Thousands of nesting levels overflow the stack: refuse the body, as nothing of ours nests that deep.
		if (err instanceof RangeError) throw new ApiError("validation_error", "The request body is nested too deeply", 400);
		throw err;
	}
}

function sortedJson(value: unknown): string {
	return JSON.stringify(value, (_key, v: unknown) => {
		if (v && typeof v === "object" && !Array.isArray(v)) {
			const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
			return Object.fromEntries(entries);
		}
		return v;
	});
}
