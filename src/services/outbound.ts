/**
 * Builds what a provider receives from an email row: addresses, bodies, and attachment bytes from R2 or from
 * their `path` URL (within the URL policy, size-capped), base64-encoded. Every failure is a value: all `path` downloads of one
 * email, bodies included, share one deadline (`timeoutMs`), so a URL that stalls mid-body ends as this email's
 * transient error instead of an exception that would take its whole batch down.
 */
import type { EmailRow } from "../db/schema";
import { parseMailbox } from "../lib/address";
import { err, ok, type Result } from "../lib/result";
import { fetchWithinPolicy, type UrlPolicy } from "../lib/url-policy";
import { encodeBase64 } from "../lib/webcrypto";
import type { OutboundAttachment, OutboundEmail, ProviderError } from "../providers/types";
import { type OutboundTracking, trackedContent } from "../tracking/outbound";

export type AttachmentSource = {
	bucket: R2Bucket;
	/** Decoded bytes allowed per email (MAX_ATTACHMENT_BYTES). */
	maxBytes: number;
	fetch?: typeof fetch;
	/** For all `path` downloads of one email together (ATTACHMENT_TIMEOUT_MS). */
	timeoutMs: number;
	/** Which URLs may be fetched (src/lib/url-policy.ts), checked again here and on every redirect. */
	policy: UrlPolicy;
	/** `reference`: `path` attachments are not downloaded but shown by URL (`GET /emails/:id/raw`). */
	paths?: "fetch" | "reference";
};

/**
 * @param tracking the provider the email goes to and the tracking secret: the html is rewritten for Mailroom's own
 *   tracking, or the provider is asked to track (src/tracking/outbound.ts). Without it the email is built as stored.
 */
export async function buildOutboundEmail(
	row: EmailRow,
	source: AttachmentSource,
	tracking?: OutboundTracking,
): Promise<Result<OutboundEmail, ProviderError>> {
	const fromMailbox = parseMailbox(row.from);
	if (!fromMailbox) return err({ kind: "permanent", scope: "message", message: `Stored from address is invalid: ${row.from}` });
	const attachments = await loadAttachments(row, source);
	if (!attachments.ok) return attachments;
	const content = tracking ? await trackedContent(row, tracking) : { html: row.html };
	return ok({
		id: row.id,
		tenantId: row.tenantId,
		from: row.from,
		fromMailbox,
		to: row.to,
		cc: row.cc,
		bcc: row.bcc,
		replyTo: row.replyTo,
		subject: row.subject,
		html: content.html,
		text: row.text,
		headers: row.headers ?? {},
		tags: row.tags,
		attachments: attachments.value,
		...(content.tracking && { tracking: content.tracking }),
	});
}

async function loadAttachments(row: EmailRow, source: AttachmentSource): Promise<Result<OutboundAttachment[], ProviderError>> {
	const out: OutboundAttachment[] = [];
	let total = 0;
	const deadline = AbortSignal.timeout(source.timeoutMs);
	for (const [index, a] of (row.attachments ?? []).entries()) {
		let bytes: Uint8Array;
		let contentType = a.contentType;
		let filename = a.filename;
		if (a.r2Key) {
			try {
				const object = await source.bucket.get(a.r2Key);
				if (!object) return err({ kind: "permanent", scope: "message", message: `Attachment ${index} is missing from storage` });
				bytes = new Uint8Array(await object.arrayBuffer());
			} catch (e) {
				return err({ kind: "transient", message: `R2 read of attachment ${index} failed: ${e instanceof Error ? e.message : String(e)}` });
			}
		} else if (a.path && source.paths === "reference") {
			out.push({
				filename: filename ?? new URL(a.path).pathname.split("/").filter(Boolean).pop() ?? `attachment-${index}`,
				contentType: contentType ?? "application/octet-stream",
				content: "",
				contentId: a.contentId,
				externalUrl: a.path,
			});
			continue;
		} else if (a.path) {
			const downloaded = await download(a.path, source, source.maxBytes - total, deadline);
			if (!downloaded.ok) return err({ ...downloaded.error, message: `Attachment ${index} (${a.path}): ${downloaded.error.message}` });
			bytes = downloaded.value.bytes;
			contentType ??= downloaded.value.contentType;
			filename ??= new URL(a.path).pathname.split("/").filter(Boolean).pop() ?? `attachment-${index}`;
		} else {
			return err({ kind: "permanent", scope: "message", message: `Attachment ${index} has neither stored bytes nor a path` });
		}
		total += bytes.byteLength;
		if (total > source.maxBytes) {
			return err({ kind: "permanent", scope: "message", message: `Attachments exceed ${source.maxBytes} bytes` });
		}
		out.push({
			filename: filename ?? `attachment-${index}`,
			contentType: contentType ?? "application/octet-stream",
			content: encodeBase64(bytes),
			contentId: a.contentId,
		});
	}
	return ok(out);
}

type Download = { bytes: Uint8Array; contentType: string | null };

/** Fetches a `path` attachment within the URL policy, at most `limit` bytes, before `deadline` (headers and body). */
async function download(
	url: string,
	source: AttachmentSource,
	limit: number,
	deadline: AbortSignal,
): Promise<Result<Download, ProviderError>> {
	const timedOut = () => err({ kind: "transient" as const, message: `download did not finish within ${source.timeoutMs} ms` });
	let response: Response;
	try {
		const fetched = await fetchWithinPolicy(url, { signal: deadline }, source.policy, source.fetch ?? fetch);
		if (!fetched.ok) return err({ kind: "permanent", scope: "message", message: `the URL ${fetched.blocked}` });
		response = fetched.response;
	} catch (e) {
		if (deadline.aborted) return timedOut();
		return err({ kind: "transient", message: `download failed: ${e instanceof Error ? e.message : String(e)}` });
	}
	if (!response.ok) {
		await response.body?.cancel().catch(() => undefined);
		const kind = response.status === 408 || response.status === 429 || response.status >= 500 ? "transient" : "permanent";
		return kind === "transient"
			? err({ kind, status: response.status, message: `download answered ${response.status}` })
			: err({ kind, scope: "message", status: response.status, message: `download answered ${response.status}` });
	}
	const declared = Number(response.headers.get("content-length"));
	if (Number.isFinite(declared) && declared > limit) {
		await response.body?.cancel();
		return err({ kind: "permanent", scope: "message", message: `larger than the ${limit} bytes left for attachments` });
	}
	const reader = response.body?.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	try {
		while (reader) {
			const { done, value } = await readBefore(reader, deadline);
			if (done) break;
			size += value.byteLength;
			if (size > limit) {
				await reader.cancel();
				return err({ kind: "permanent", scope: "message", message: `larger than the ${limit} bytes left for attachments` });
			}
			chunks.push(value);
		}
	} catch (e) {
		await reader?.cancel().catch(() => undefined);
		if (deadline.aborted) return timedOut();
		return err({ kind: "transient", message: `download broke off: ${e instanceof Error ? e.message : String(e)}` });
	}
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const c of chunks) {
		bytes.set(c, offset);
		offset += c.byteLength;
	}
	return ok({ bytes, contentType: response.headers.get("content-type")?.split(";")[0]?.trim() || null });
}

/** One `read()` that gives up when `deadline` fires, whether or not the runtime aborts the stream itself. */
function readBefore(reader: ReadableStreamDefaultReader<Uint8Array>, deadline: AbortSignal): Promise<ReadableStreamReadResult<Uint8Array>> {
	if (deadline.aborted) return Promise.reject(deadline.reason);
	return new Promise((resolve, reject) => {
		const onAbort = () => reject(deadline.reason);
		deadline.addEventListener("abort", onAbort, { once: true });
		reader.read().then(
			(result) => {
				deadline.removeEventListener("abort", onAbort);
				resolve(result);
			},
			(error: unknown) => {
				deadline.removeEventListener("abort", onAbort);
				reject(error);
			},
		);
	});
}
