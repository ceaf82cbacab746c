/**
 * RFC 5322 messages built with mimetext: what `GET /emails/:id/raw` shows, and what transports that take a whole
 * message (SMTP, raw MIME APIs) send. Bcc recipients are envelope-only and never appear in the headers.
 *
 * Around mimetext, so the message can cross any SMTP hop (RFC 5321 §4.5.3.1.6: lines of at most 998 octets, and
 * 7-bit headers without SMTPUTF8):
 * - a text part that is not plain ASCII, or has a line over 998 octets, is base64 (RFC 2045, 76-character lines);
 *   attachments are base64 in 76-character lines too (mimetext writes what it is given on one line);
 * - the Subject and custom header values that are not printable ASCII become RFC 2047 encoded words of at most 75
 *   characters, folded onto continuation lines;
 * - `X-Mailroom-Id` carries our id, and the Message-ID is `<id@sender's domain>` (`messageIdOf`).
 */
import { createMimeMessage, Mailbox } from "mimetext/browser";
import type { OutboundEmail } from "../providers/types";
import { domainOf, parseMailbox } from "./address";
import { encodeBase64 } from "./webcrypto";

export type MimeOptions = { date: Date; messageId: string };

/** Our id's header: in every message we build, so a copy found anywhere names its email. */
export const MAILROOM_ID_HEADER = "X-Mailroom-Id";

/** SMTP's line limit without the CRLF. */
const MAX_LINE_OCTETS = 998;
/** UTF-8 bytes per encoded word: base64 of 39 is 52 characters, `=?utf-8?B?…?=` 64, so `Subject: ` and one word fit 78. */
const ENCODED_WORD_BYTES = 39;
const encoder = new TextEncoder();

/** The Message-ID of an email: our id at the sender's domain, the domain the message is signed for. */
export function messageIdOf(email: Pick<OutboundEmail, "id" | "fromMailbox">): string {
	return `<${email.id}@${domainOf(email.fromMailbox.address)}>`;
}

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
	for (const [name, value] of Object.entries(email.headers)) {
		if (name.toLowerCase() !== MAILROOM_ID_HEADER.toLowerCase()) message.setHeader(name, encodeHeaderValue(value));
	}
	message.setHeader(MAILROOM_ID_HEADER, email.id);
	if (email.text !== null) message.addMessage({ contentType: "text/plain", ...textBody(email.text) });
	if (email.html !== null) message.addMessage({ contentType: "text/html", ...textBody(email.html) });
	for (const a of email.attachments) {
		const contentType = MIME_TYPE.test(a.contentType) ? a.contentType : "application/octet-stream";
		const part = a.externalUrl
			? // Not fetched (GET /emails/:id/raw never downloads): an RFC 2017 reference to where the bytes are fetched at send.
				{
					contentType: `message/external-body; access-type=URL; URL="${a.externalUrl}"`,
					data: `Content-Type: ${contentType}\r\n`,
					encoding: "7bit" as const,
				}
			: { contentType, data: wrapBase64(a.content) };
		message.addAttachment({
			filename: parameterValue(a.filename),
			...part,
			...(a.contentId ? { inline: true, headers: { "Content-ID": `<${a.contentId.replace(/^<|>$/g, "")}>` } } : {}),
		});
	}
	// mimetext writes the Subject as one encoded word, however long: it is replaced by a folded one.
	const raw = message.asRaw().replace(/^Subject: [^\r\n]*/m, () => `Subject: ${encodeWords(email.subject)}`);
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

/** A header value as it can travel: printable ASCII as is, anything else as folded RFC 2047 encoded words. */
export function encodeHeaderValue(value: string): string {
	return /^[\x20-\x7e]*$/.test(value) ? value : encodeWords(value);
}

/** `=?utf-8?B?…?=` words of at most ENCODED_WORD_BYTES bytes each (never splitting a character), folded. */
function encodeWords(value: string): string {
	const words: string[] = [];
	let chunk = "";
	for (const char of value) {
		if (encoder.encode(chunk + char).byteLength > ENCODED_WORD_BYTES) {
			words.push(chunk);
			chunk = "";
		}
		chunk += char;
	}
	if (chunk !== "" || words.length === 0) words.push(chunk);
	return words.map((w) => `=?utf-8?B?${encodeBase64(encoder.encode(w))}?=`).join("\r\n ");
}

/** 7bit where the text is ASCII with short lines, else base64. */
function textBody(text: string): { data: string; encoding: "7bit" | "base64" } {
	const sevenBit = /^\p{ASCII}*$/u.test(text) && text.split(/\r?\n/).every((line) => line.length <= MAX_LINE_OCTETS);
	return sevenBit ? { data: text, encoding: "7bit" } : { data: wrapBase64(encodeBase64(encoder.encode(text))), encoding: "base64" };
}

function wrapBase64(base64: string): string {
	return base64.replace(/\s+/g, "").replace(/.{76}(?=.)/g, "$&\r\n");
}

function mailboxObject(mailbox: string): { addr: string; name?: string } {
	const parsed = parseMailbox(mailbox);
	if (!parsed) return { addr: mailbox };
	return parsed.name ? { addr: parsed.address, name: parsed.name } : { addr: parsed.address };
}
