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
		message.addAttachment({
			filename: a.filename,
			contentType: a.contentType,
			data: a.content,
			...(a.contentId ? { inline: true, headers: { "Content-ID": `<${a.contentId.replace(/^<|>$/g, "")}>` } } : {}),
		});
	}
	const raw = message.asRaw();
	if (email.replyTo.length <= 1) return raw;
	// Header values were validated free of CR/LF at accept time, so the list cannot inject a header.
	return raw.replace(/\r?\n\r?\n/, (blank) => `\r\nReply-To: ${email.replyTo.join(", ")}${blank}`);
}

function mailboxObject(mailbox: string): { addr: string; name?: string } {
	const parsed = parseMailbox(mailbox);
	if (!parsed) return { addr: mailbox };
	return parsed.name ? { addr: parsed.address, name: parsed.name } : { addr: parsed.address };
}
