/**
 * Attachments of sent emails (src/services/attachment-links.ts says how ids and links work):
 * `GET /emails/:id/attachments[/:attachment_id]` with the API key, and `GET /attachments/:email_id/:attachment_id`,
 * public but signed, which streams the bytes from R2. Downloads are always `Content-Disposition: attachment` with a
 * sandboxing CSP and `nosniff`, so an HTML attachment can never run as a page of this origin (where the console lives).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { getDb } from "../db/client";
import { getEmail } from "../db/emails";
import { emails } from "../db/schema";
import { ApiError } from "../errors";
import { isUuid } from "../lib/ids";
import { requireFullAccess } from "../middleware/auth";
import { PageQuery } from "../schemas/domain";
import { attachmentObject, checkLink, type IdentifiedAttachment, identified } from "../services/attachment-links";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const attachmentRoutes = createRouter();

const tags = ["Emails"];

const AttachmentFields = {
	id: z.string(),
	filename: z.string().nullable(),
	content_type: z.string(),
	content_id: z.string().optional(),
	content_disposition: z.enum(["inline", "attachment"]),
	size: z.number().int().optional().openapi({ description: "Absent for a `path` attachment (never fetched here)" }),
	download_url: z.string().openapi({ description: "A signed link served by Mailroom, or the `path` URL the email was sent with" }),
	expires_at: z.string().optional().openapi({ description: "When the signed link stops working (absent for a `path` URL)" }),
	source: z.enum(["stored", "path"]).openapi({ description: "Bytes kept by Mailroom, or a URL fetched at send time (Mailroom extension)" }),
};
const AttachmentObject = z.object({ object: z.literal("attachment"), ...AttachmentFields }).openapi("RetrievedAttachment");
const AttachmentList = z
	.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(z.object(AttachmentFields)) })
	.openapi("ListAttachmentsResponse");

const EmailParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
const AttachmentParams = EmailParam.extend({
	attachment_id: z
		.string()
		.max(64)
		.openapi({ param: { name: "attachment_id", in: "path" } }),
});

/** The tenant's email and its attachments with their ids; 404 for an unknown email (another tenant's included). */
async function attachmentsOf(c: Context<AppEnv>, emailId: string): Promise<IdentifiedAttachment[]> {
	const row = isUuid(emailId) ? await getEmail(getDb(c.env.DB), c.get("auth").tenant.id, emailId) : undefined;
	if (!row) throw new ApiError("not_found", "Email not found");
	return identified(row.id, row.attachments);
}

const linkContext = (c: Context<AppEnv>) => ({
	origin: new URL(c.req.url).origin,
	adminToken: getConfig(c.env).adminToken,
	now: Date.now(),
});

attachmentRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails/{id}/attachments",
		summary: "List a sent email's attachments with short-lived download links",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: EmailParam, query: PageQuery },
		responses: { 200: jsonResponse(AttachmentList, "A page of attachments, in the email's order"), ...commonErrors },
	}),
	async (c) => {
		const { id } = c.req.valid("param");
		const { limit, after, before } = c.req.valid("query");
		if (after !== undefined && before !== undefined) throw new ApiError("invalid_parameter", "Use either `after` or `before`, not both");
		const all = await attachmentsOf(c, id);
		const cursor = after ?? before;
		const at = cursor === undefined ? -1 : all.findIndex((a) => a.id === cursor);
		if (cursor !== undefined && at < 0) throw new ApiError("invalid_parameter", "Cursors must be attachment ids of this email");
		const page = before !== undefined ? all.slice(Math.max(0, at - limit), at) : all.slice(at + 1, at + 1 + limit);
		const hasMore = before !== undefined ? at - limit > 0 : at + 1 + limit < all.length;
		const link = linkContext(c);
		const data = await Promise.all(page.map((a) => attachmentObject(a, id, link)));
		return c.json({ object: "list" as const, has_more: hasMore, data }, 200);
	},
);

attachmentRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails/{id}/attachments/{attachment_id}",
		summary: "Retrieve one attachment of a sent email with a short-lived download link",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: AttachmentParams },
		responses: { 200: jsonResponse(AttachmentObject, "The attachment"), ...commonErrors },
	}),
	async (c) => {
		const { id, attachment_id } = c.req.valid("param");
		const found = (await attachmentsOf(c, id)).find((a) => a.id === attachment_id);
		if (!found) throw new ApiError("not_found", "Attachment not found");
		return c.json({ object: "attachment" as const, ...(await attachmentObject(found, id, linkContext(c))) }, 200);
	},
);

attachmentRoutes.openapi(
	createRoute({
		method: "get",
		path: "/attachments/{id}/{attachment_id}",
		summary: "Download an attachment through a signed link (no API key: the link is the credential)",
		tags,
		security: [],
		request: {
			params: AttachmentParams,
			query: z.object({ expires: z.string().max(16).optional(), signature: z.string().max(128).optional() }),
		},
		responses: {
			200: { description: "The bytes", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } },
			403: commonErrors[403],
			404: commonErrors[404],
		},
	}),
	async (c) => {
		const { id, attachment_id } = c.req.valid("param");
		const { expires, signature } = c.req.valid("query");
		const now = Date.now();
		const verdict = await checkLink(getConfig(c.env).adminToken, { emailId: id, id: attachment_id, expires, signature }, now);
		if (verdict === "invalid") throw new ApiError("invalid_parameter", "This download link is not valid", 403);
		if (verdict === "expired") {
			throw new ApiError("invalid_parameter", "This download link has expired: list the email's attachments again for a fresh one", 403);
		}
		const row = await getDb(c.env.DB).query.emails.findFirst({ columns: { id: true, attachments: true }, where: eq(emails.id, id) });
		const found = row ? (await identified(row.id, row.attachments)).find((a) => a.id === attachment_id) : undefined;
		const object = found?.r2Key ? await c.env.ATTACHMENTS.get(found.r2Key) : null;
		if (!found || !object) throw new ApiError("not_found", "Attachment not found (it may have passed retention)");
		return new Response(object.body, {
			headers: {
				"content-type": found.contentType ?? object.httpMetadata?.contentType ?? "application/octet-stream",
				"content-length": String(object.size),
				"content-disposition": contentDisposition(found.filename ?? `attachment-${found.index + 1}`),
				"content-security-policy": "sandbox; default-src 'none'",
				"x-content-type-options": "nosniff",
				"cache-control": `private, max-age=${Math.max(0, Number(expires) - Math.floor(now / 1000))}`,
			},
		});
	},
);

/** RFC 6266: an ASCII fallback and the exact name as RFC 8187 UTF-8; names are header-safe already (no controls). */
function contentDisposition(filename: string): string {
	const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
	const encoded = encodeURIComponent(filename).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
	return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
