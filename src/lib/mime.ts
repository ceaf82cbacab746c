/**
 * RFC 5322 messages built with mimetext: what `GET /emails/:id/raw` shows, and what providers that take raw MIME
 * are given. Bcc recipients are envelope-only and never appear in the headers.
 */
import { createMimeMessage, Mailbox } from "mimetext/browser";
import type { OutboundEmail } from "../providers/types";
import { parseMailbox } from "./address";

export type MimeOptions = { date: Date; messageId: string };

export function buildMime(email: OutboundEmail, options: MimeOptions): string {
	const message = createMimeMessage();
	message.setSender(email.fromMailbox.name ? { name: email.fromMailbox.name, addr: email.fromMailbox.address } : email.fromMailbox.address);
	message.setTo(email.to.map(mailboxObject));
	if (email.cc.length > 0) message.setCc(email.cc.map(mailboxObject));
	message.setSubject(email.subject);
	message.setHeader("Date", options.date.toUTCString());
	message.setHeader("Message-ID", options.messageId);
	// mimetext takes a single Reply-To mailbox; a list (RFC 5322 allows one) is added to the header block below.
	const [onlyReplyTo] = email.replyTo;
	if (email.replyTo.length === 1 && onlyReplyTo) message.setHeader("Reply-To", new Mailbox(mailboxObject(onlyReplyTo)));
	for (const [name, value] of Object.entries(email.headers)) message.setHeader(name, value);
	if (email.text !== null) message.addMessage({ contentType: "text/plain", data: email.text });
	if (email.html !== null) message.addMessage({ contentType: "text/html", data: email.html });
	for (const a of email.attachments) {
		const contentType = MIME_TYPE.test(a.contentType) ? a.contentType : "application/octet-stream";
		const part = a.externalUrl
			? // Not fetched (GET /emails/:id/raw never downloads): an RFC 2017 reference to where the bytes are fetched at send.
				{
					contentType: `message/external-body; access-type=URL; URL="${a.externalUrl}"`,
					data: `Content-Type: ${contentType}\r\n`,
					encoding: "7bit" as const,
				}
			: { contentType, data: a.content };
		message.addAttachment({
			filename: parameterValue(a.filename),
			...part,
			...(a.contentId ? { inline: true, headers: { "Content-ID": `<${a.contentId.replace(/^<|>$/g, "")}>` } } : {}),
		});
	}
	const raw = message.asRaw();
	if (email.replyTo.length <= 1) return raw;
	// Header values were validated free of CR/LF at accept time, so the list cannot inject a header.
	return raw.replace(/\r?\n\r?\n/, (blank) => `\r\nReply-To: ${email.replyTo.join(", ")}${blank}`);
}

/** `type/subtype` with RFC 2045 tokens only; anything else is sent as application/octet-stream. */
const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;

/**
 * A file name as mimetext writes it, inside double quotes in `name="…"` and `filename="…"`: kept as is when it is
 * printable ASCII without `"` or `\\`, else an RFC 2047 encoded word (`=?UTF-8?B?…?=`, which mail clients decode in
 * these parameters), so no file name can close the quotes and add a parameter of its own (`filename*=…`).
 */
export function parameterValue(filename: string): string {
	if (/^[\x20-\x7e]*$/.test(filename) && !/["\\]/.test(filename)) return filename;
	const bytes = new TextEncoder().encode(filename);
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return `=?UTF-8?B?${btoa(binary)}?=`;
}

function mailboxObject(mailbox: string): { addr: string; name?: string } {
	const parsed = parseMailbox(mailbox);
	if (!parsed) return { addr: mailbox };
	return parsed.name ? { addr: parsed.address, name: parsed.name } : { addr: parsed.address };
}
