/**
 * Text that ends up in a MIME header or header parameter (subjects, display names, header values, attachment file
 * names and types): no control character at all — C0 (CR, LF, NUL, TAB, …), DEL, C1 — and no Unicode line or
 * paragraph separator (U+2028, U+2029), any of which can split or smuggle a header.
 */
export const HEADER_SAFE = /^[^\p{Cc}\p{Zl}\p{Zp}]*$/u;

/** The first character `text` may not carry in a header, described, or null when there is none. */
export function headerUnsafe(text: string): string | null {
	const m = /[\p{Cc}\p{Zl}\p{Zp}]/u.exec(text);
	if (!m) return null;
	const code = (m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
	return `U+${code}`;
}
