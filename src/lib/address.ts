/**
 * Mailbox parsing for `from`, `to`, `cc`, `bcc` and `reply_to`: `a@b.co`, `<a@b.co>`, `Name <a@b.co>` or
 * `"Name, Inc." <a@b.co>`. Deliberately stricter than RFC 5322 (no comments, no quoted local parts, no
 * control characters or line separators), as providers are.
 */
import { headerUnsafe } from "./header-text";

export type Mailbox = { name: string | null; address: string };

const LOCAL = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;
const TLD = /^(?:[\p{L}]{2,63}|xn--[a-z0-9-]{1,59})$/iu;
const WITH_NAME = /^\s*(?:"((?:[^"\\]|\\.)*)"|([^<>"]*?))\s*<([^<>\s]+)>\s*$/u;
/** RFC 5322 specials: a display name containing one must be quoted. */
const SPECIALS = /[()<>[\]:;@\\,."]/;

export function parseMailbox(input: string): Mailbox | null {
	if (headerUnsafe(input) !== null) return null;
	const trimmed = input.trim();
	const named = WITH_NAME.exec(trimmed);
	if (named) {
		const address = named[3] ?? "";
		if (!isAddress(address)) return null;
		const rawName = named[1] !== undefined ? named[1].replace(/\\(.)/g, "$1") : (named[2] ?? "");
		const name = rawName.trim();
		return { name: name.length > 0 ? name : null, address };
	}
	return isAddress(trimmed) ? { name: null, address: trimmed } : null;
}

function isAddress(address: string): boolean {
	if (address.length > 254) return false;
	const at = address.lastIndexOf("@");
	if (at < 1) return false;
	const local = address.slice(0, at);
	const domain = address.slice(at + 1);
	if (local.length > 64 || !LOCAL.test(local)) return false;
	const labels = domain.split(".");
	if (labels.length < 2) return false;
	if (!labels.every((l) => LABEL.test(l))) return false;
	return TLD.test(labels[labels.length - 1] ?? "");
}

/**
 * A mailbox string as the `{email, name}` object JSON email APIs take (Brevo, Mailtrap); a string that does not parse
 * (it passed validation at accept time, so it should) is sent as given, for the provider to judge.
 */
export function emailAndName(mailbox: string | Mailbox): { email: string; name?: string } {
	const parsed = typeof mailbox === "string" ? (parseMailbox(mailbox) ?? { name: null, address: mailbox }) : mailbox;
	return parsed.name === null ? { email: parsed.address } : { email: parsed.address, name: parsed.name };
}

/** `a@b.co` or `Name <a@b.co>`, quoting the name when it holds a special (`"Acme, Inc." <a@b.co>`). */
export function formatMailbox(mailbox: Mailbox): string {
	if (mailbox.name === null) return mailbox.address;
	const name = SPECIALS.test(mailbox.name) ? `"${mailbox.name.replace(/["\\]/g, "\\$&")}"` : mailbox.name;
	return `${name} <${mailbox.address}>`;
}

/** A validated mailbox string written as `formatMailbox` writes it (a string that does not parse is kept as is). */
export function normalizedMailbox(mailbox: string): string {
	return formatMailbox(parseMailbox(mailbox) ?? { name: null, address: mailbox });
}

/** The lower-cased bare address of a mailbox string that already passed validation. */
export function bareAddress(mailbox: string): string {
	return (parseMailbox(mailbox)?.address ?? mailbox).toLowerCase();
}

export function domainOf(address: string): string {
	return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

/** True when `domain` is one of `allowed` or a subdomain of one (subdomains inherit, as SES identities do). */
export function isDomainAllowed(domain: string, allowed: readonly string[]): boolean {
	const d = domain.toLowerCase();
	return allowed.some((a) => {
		const base = a.toLowerCase();
		return d === base || d.endsWith(`.${base}`);
	});
}
