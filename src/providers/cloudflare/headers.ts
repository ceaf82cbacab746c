/**
 * The headers Cloudflare Email Sending carries, as its reference lists them
 * (https://developers.cloudflare.com/email-service/reference/headers/): `X-` headers (name `X-[A-Za-z0-9-_]+`, at
 * most 100 bytes) and an allowlist of others (at most 20 of those); values non-empty, at most 2,048 bytes; all custom
 * headers together at most 16 KB counted as name + ": " + value + CRLF; a few allowlisted headers take only set
 * values. Anything else is `E_HEADER_*` at send time, so a tenant whose providers include Cloudflare is told at
 * accept time instead (`cannotCarryHeaders`).
 */
import { MAILROOM_ID_HEADER } from "../../lib/mime";

/** Allowlisted non-X headers, lower-cased, with the values they take where the reference restricts them. */
const ALLOWED = new Map<string, ((value: string) => string | null) | null>([
	["in-reply-to", null],
	["references", null],
	[
		"list-unsubscribe",
		(v) => (/<(?:https|mailto):[^>]+>/i.test(v) && !/<http:/i.test(v) ? null : "must hold <https://…> or <mailto:…> URIs"),
	],
	["list-unsubscribe-post", oneOf(["List-Unsubscribe=One-Click"], true)],
	["list-id", null],
	["list-archive", null],
	["list-help", null],
	["list-owner", null],
	["list-post", null],
	["list-subscribe", null],
	["precedence", oneOf(["bulk", "list", "junk"])],
	["auto-submitted", oneOf(["auto-generated", "auto-replied", "auto-notified"])],
	["content-language", null],
	["keywords", null],
	["comments", null],
	["importance", oneOf(["high", "normal", "low"])],
	["priority", oneOf(["normal", "non-urgent", "urgent"])],
	["sensitivity", oneOf(["personal", "private", "company-confidential"])],
	["organization", null],
	["require-recipient-valid-since", null],
	["expires", null],
	["reply-by", null],
	["archived-at", null],
]);

const X_HEADER = /^X-[A-Za-z0-9_-]+$/i;
const MAX_NAME_BYTES = 100;
const MAX_VALUE_BYTES = 2048;
const MAX_ALLOWLISTED = 20;
const MAX_TOTAL_BYTES = 16 * 1024;
const encoder = new TextEncoder();

function oneOf(values: string[], caseSensitive = false): (value: string) => string | null {
	return (value) =>
		values.some((allowed) => (caseSensitive ? value === allowed : value.toLowerCase() === allowed)) ? null : `must be ${values.join(", ")}`;
}

/** The first header Cloudflare Email Sending would refuse, named, with why; null when it carries them all. */
export function cannotCarryHeaders(headers: Readonly<Record<string, string>>): string | null {
	let allowlisted = 0;
	// Our own X-Mailroom-Id (an email id: 36 bytes) travels with them.
	let total = MAILROOM_ID_HEADER.length + 2 + 36 + 2;
	for (const [name, value] of Object.entries(headers)) {
		const lower = name.toLowerCase();
		if (lower === MAILROOM_ID_HEADER.toLowerCase()) continue;
		const bytes = encoder.encode(value).byteLength;
		if (!X_HEADER.test(name)) {
			if (!ALLOWED.has(lower)) return `Header ${name} is not carried by Cloudflare Email Sending (X- headers and its allowlist only)`;
			allowlisted += 1;
			const rule = ALLOWED.get(lower);
			const problem = rule ? rule(value) : null;
			if (problem) return `Header ${name} ${problem} for Cloudflare Email Sending`;
		}
		if (name.length > MAX_NAME_BYTES) return `Header ${name} has a name over ${MAX_NAME_BYTES} bytes`;
		if (value.trim() === "") return `Header ${name} is empty, which Cloudflare Email Sending refuses`;
		if (bytes > MAX_VALUE_BYTES) return `Header ${name} is ${bytes} bytes; Cloudflare Email Sending carries at most ${MAX_VALUE_BYTES}`;
		total += name.length + 2 + bytes + 2;
	}
	if (allowlisted > MAX_ALLOWLISTED) return `${allowlisted} non-X headers; Cloudflare Email Sending carries at most ${MAX_ALLOWLISTED}`;
	if (total > MAX_TOTAL_BYTES) return `Headers total ${total} bytes; Cloudflare Email Sending carries at most ${MAX_TOTAL_BYTES}`;
	return null;
}
