/**
 * Attachments of sent emails as Resend lists them (`GET /emails/:id/attachments`): each gets a stable id and, when its
 * bytes are in R2, a short-lived signed download URL the Worker itself serves (`GET /attachments/:email_id/:id`).
 *
 * - Ids are derived, not stored: a UUIDv8 from SHA-256 of `<email id>/<index>`, so emails accepted before ids
 *   existed have them too, and an attachment id can only ever match the email it belongs to.
 * - Links carry `expires` (epoch seconds) and `signature` = HMAC-SHA256 over `<email id>/<attachment id>/<expires>`
 *   with a key derived from ADMIN_TOKEN (HMAC of a fixed label): no further secret to deploy, the link never reveals
 *   the token, and rotating ADMIN_TOKEN invalidates every outstanding link. A link is valid for
 *   `ATTACHMENT_LINK_TTL_SECONDS`; listing the attachments again gives fresh ones.
 * - `path` attachments are never fetched here: their `download_url` is the URL the email was sent with.
 */
import type { StoredAttachment } from "../db/schema";
import { base64url, base64urlBytes } from "../lib/ids";
import { hmacSha256 } from "../lib/webcrypto";

export const ATTACHMENT_LINK_TTL_SECONDS = 3600;

const encoder = new TextEncoder();
const LINK_KEY_LABEL = "mailroom/attachment-links/v1";

/** @example await attachmentId("019a…", 0) // "5d41402a-bc4b-8a76-b971-9d911017c592" */
export async function attachmentId(emailId: string, index: number): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(`${emailId}/${index}`))).slice(0, 16);
	digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x80; // version 8 (RFC 9562: custom)
	digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
	const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function linkSignature(adminToken: string, emailId: string, id: string, expires: number): Promise<Uint8Array<ArrayBuffer>> {
	const key = await hmacSha256(new Uint8Array(encoder.encode(adminToken)), LINK_KEY_LABEL);
	return hmacSha256(key, `${emailId}/${id}/${expires}`);
}

/** An attachment of an email with its derived id, in the email's order. */
export type IdentifiedAttachment = StoredAttachment & { id: string; index: number };

export async function identified(emailId: string, attachments: readonly StoredAttachment[] | null): Promise<IdentifiedAttachment[]> {
	return Promise.all((attachments ?? []).map(async (a, index) => ({ ...a, index, id: await attachmentId(emailId, index) })));
}

/** What Resend's attachment object says of one attachment; `source` (Mailroom extension) tells stored bytes from a URL. */
export async function attachmentObject(
	a: IdentifiedAttachment,
	emailId: string,
	link: { origin: string; adminToken: string; now: number },
) {
	const common = {
		id: a.id,
		filename: a.filename,
		content_type: a.contentType ?? "application/octet-stream",
		...(a.contentId !== null ? { content_id: a.contentId } : {}),
		content_disposition: a.contentId !== null ? ("inline" as const) : ("attachment" as const),
		...(a.size !== null ? { size: a.size } : {}),
	};
	if (a.r2Key === null) return { ...common, download_url: a.path ?? "", source: "path" as const };
	const expires = Math.floor(link.now / 1000) + ATTACHMENT_LINK_TTL_SECONDS;
	const signature = base64url(await linkSignature(link.adminToken, emailId, a.id, expires));
	const url = `${link.origin}/attachments/${emailId}/${a.id}?expires=${expires}&signature=${signature}`;
	return { ...common, download_url: url, expires_at: new Date(expires * 1000).toISOString(), source: "stored" as const };
}

/** Whether a download link's `expires` and `signature` are ours and still valid, compared in constant time. */
export async function checkLink(
	adminToken: string,
	link: { emailId: string; id: string; expires: string | undefined; signature: string | undefined },
	now: number,
): Promise<"valid" | "expired" | "invalid"> {
	if (link.expires === undefined || link.signature === undefined || !/^\d{1,12}$/.test(link.expires)) return "invalid";
	const expected = await linkSignature(adminToken, link.emailId, link.id, Number(link.expires));
	const given = base64urlBytes(link.signature, 100);
	if (given === null || given.byteLength !== expected.byteLength || !crypto.subtle.timingSafeEqual(given, expected)) return "invalid";
	return Number(link.expires) * 1000 < now ? "expired" : "valid";
}
