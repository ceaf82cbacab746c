/**
 * Resend's `SendEmailRequest`, as zod schemas shared by the routes, the OpenAPI document and the accept service.
 *
 * Unknown fields are ignored (Resend does the same, e.g. `topic_id`); known fields of the wrong type are 422.
 * Header values, subjects, display names and attachment names and types may not contain control characters or line
 * separators (src/lib/header-text.ts): they end up in MIME headers.
 */
import { z } from "@hono/zod-openapi";
import { EMAIL_LIMITS } from "../config";
import { EMAIL_PRIORITIES, EMAIL_STATUSES } from "../db/schema";
import { parseMailbox } from "../lib/address";
import { HEADER_SAFE } from "../lib/header-text";
import { EmailTemplateInput } from "./template";

/** RFC 9110 `token`: the characters allowed in a header field name. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TAG_PART = /^[A-Za-z0-9_-]+$/;
/** `type/subtype`, RFC 2045 tokens, no parameters: it is written into a Content-Type header as is. */
const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/**
 * Headers that Mailroom derives from the request's own fields. Setting them through `headers` would bypass
 * validation (a `From` outside the tenant's domains) or corrupt the MIME structure.
 */
const RESERVED_HEADERS = new Set([
	"from",
	"sender",
	"to",
	"cc",
	"bcc",
	"reply-to",
	"subject",
	"date",
	"message-id",
	"mime-version",
	"content-type",
	"content-transfer-encoding",
	"return-path",
]);

export const Mailbox = z
	.string()
	.max(320 + 256)
	.refine((v) => parseMailbox(v) !== null, {
		error: (issue) => `Invalid email address: ${JSON.stringify(issue.input)}`,
	})
	.openapi({ example: "Acme <onboarding@acme.com>" });

/** One address or a list of up to 50 (Resend accepts both); normalised to a list before validation, so the
 * error for 51 addresses says so instead of a generic "invalid union". */
const MailboxList = z
	.preprocess(
		(v) => (typeof v === "string" ? [v] : v),
		z.array(Mailbox).min(1).max(EMAIL_LIMITS.recipientsPerField, "At most 50 recipients are allowed"),
	)
	.openapi({
		anyOf: [{ type: "string" }, { type: "array", items: { type: "string" }, maxItems: EMAIL_LIMITS.recipientsPerField }],
	});

export const Tag = z.object({
	name: z
		.string()
		.min(1)
		.max(EMAIL_LIMITS.tagChars)
		.regex(TAG_PART, "Tag names may only contain ASCII letters, numbers, underscores or dashes"),
	value: z
		.string()
		.min(1)
		.max(EMAIL_LIMITS.tagChars)
		.regex(TAG_PART, "Tag values may only contain ASCII letters, numbers, underscores or dashes"),
});

/** The pre-6.30 `resend` SDK sent a Node Buffer through JSON.stringify: `{ type: "Buffer", data: [...] }`. */
const LegacyBufferContent = z.object({ type: z.literal("Buffer"), data: z.array(z.number().int().min(0).max(255)) });

export const Attachment = z
	.object({
		filename: z.string().min(1).max(255).regex(HEADER_SAFE, "filename may not contain control characters or line breaks").optional(),
		content: z.union([z.string(), LegacyBufferContent]).optional().openapi({ type: "string", description: "Base64-encoded bytes" }),
		// Checked against the URL policy (src/lib/url-policy.ts) at accept, with the deployment's settings.
		path: z
			.string()
			.max(2048)
			.optional()
			.openapi({ description: "An https:// URL on a public host (port 443 or 8443), fetched at send time" }),
		content_type: z
			.string()
			.max(255)
			.regex(MIME_TYPE, "content_type must be a MIME type such as application/pdf (no parameters)")
			.optional(),
		content_id: z.string().max(255).regex(HEADER_SAFE, "content_id may not contain control characters or line breaks").optional(),
	})
	.refine((a) => (a.content === undefined) !== (a.path === undefined), {
		error: "Each attachment needs exactly one of content (base64) or path (https URL)",
	})
	.refine((a) => a.filename !== undefined || a.path !== undefined, {
		error: "An attachment with content needs a filename",
		path: ["filename"],
	});

const Headers = z
	.record(
		z.string(),
		z.string().max(EMAIL_LIMITS.headerValueChars).regex(HEADER_SAFE, "Header values may not contain control characters or line breaks"),
	)
	.superRefine((headers, ctx) => {
		const names = Object.keys(headers);
		if (names.length > EMAIL_LIMITS.headers) {
			ctx.addIssue({ code: "custom", message: `At most ${EMAIL_LIMITS.headers} custom headers are allowed` });
		}
		for (const name of names) {
			if (!HEADER_NAME.test(name) || name.length > 100) {
				ctx.addIssue({ code: "custom", message: `Invalid header name ${JSON.stringify(name)}`, path: [name] });
			} else if (RESERVED_HEADERS.has(name.toLowerCase())) {
				ctx.addIssue({ code: "custom", message: `Header ${name} is set from the email's own fields`, path: [name] });
			}
		}
	});

/** The tag that sets an email's priority lane for clients that cannot add a field (README, "Priority lanes"). */
export const PRIORITY_TAG = "priority";

const Tags = z
	.array(Tag)
	.max(EMAIL_LIMITS.tags)
	.superRefine((tags, ctx) => {
		const priorities = tags.flatMap((t, i) => (t.name === PRIORITY_TAG ? [{ value: t.value, i }] : []));
		for (const { value, i } of priorities) {
			if (!(EMAIL_PRIORITIES as readonly string[]).includes(value)) {
				ctx.addIssue({
					code: "custom",
					message: `The ${PRIORITY_TAG} tag must be one of ${EMAIL_PRIORITIES.join(", ")}, not ${JSON.stringify(value)}`,
					path: [i, "value"],
				});
			}
		}
		if (priorities.length > 1) ctx.addIssue({ code: "custom", message: `At most one ${PRIORITY_TAG} tag is allowed` });
	});

/** Mailroom extension: the email's lane; wins over the priority tag and the API key's default. */
const Priority = z.enum(EMAIL_PRIORITIES).openapi({
	description:
		"Mailroom extension: `high` and `normal` are sent through the transactional lane (`high` first when the send rate is short), `bulk` through the bulk lane. Default: the `priority` tag, else the API key's `priority`, else `bulk` for a batch of more than BULK_BATCH_THRESHOLD emails, else `normal`",
});

const fields = {
	from: Mailbox.optional().openapi({ description: "Required unless the template has a from" }),
	to: MailboxList,
	subject: z
		.string()
		.min(1)
		.max(EMAIL_LIMITS.subjectChars)
		.regex(HEADER_SAFE, "subject may not contain control characters or line breaks")
		.optional()
		.openapi({ description: "Required unless the template has a subject" }),
	html: z.string().optional(),
	text: z.string().optional(),
	cc: MailboxList.optional(),
	bcc: MailboxList.optional(),
	reply_to: MailboxList.optional(),
	headers: Headers.optional(),
	tags: Tags.optional(),
	template: EmailTemplateInput.optional(),
	priority: Priority.optional(),
	tracking: z
		.object({
			open: z.boolean().optional().openapi({ description: "Track opens with a 1×1 image" }),
			click: z.boolean().optional().openapi({ description: "Track clicks on the html's http(s) links" }),
		})
		.optional()
		.openapi({
			description:
				"Mailroom extension: open and click tracking of this email, each overriding its sending domain's `open_tracking` / `click_tracking` (README, Tracking)",
		}),
};

type Content = {
	from?: string | undefined;
	subject?: string | undefined;
	html?: string | undefined;
	text?: string | undefined;
	template?: unknown;
};

/**
 * Cross-field rules: html or text or a template; a template excludes html and text (Resend's rule); without a
 * template, from and subject are required (with one, they may come from it). A missing field is reported as
 * `invalid_type` at its path, which the error mapping turns into `missing_required_field`.
 */
function checkContent(e: Content, ctx: z.RefinementCtx): void {
	if (e.template !== undefined) {
		if (e.html !== undefined || e.text !== undefined) {
			ctx.addIssue({
				code: "custom",
				message: "html and text cannot be combined with template",
				path: [e.html !== undefined ? "html" : "text"],
			});
		}
		return;
	}
	if (e.html === undefined && e.text === undefined) {
		ctx.addIssue({ code: "custom", message: "One of html, text or template is required", path: ["html"] });
	}
	for (const field of ["from", "subject"] as const) {
		if (e[field] === undefined) ctx.addIssue({ code: "invalid_type", expected: "string", message: "Required", path: [field] });
	}
}

export const SendEmailRequest = z
	.object({
		...fields,
		attachments: z.array(Attachment).max(EMAIL_LIMITS.attachments).optional(),
		scheduled_at: z
			.string()
			.min(1)
			.max(64)
			.optional()
			.openapi({ description: "ISO 8601, or natural language: `in 10 minutes`, `in 2 hours`, `in 3 days`" }),
	})
	.superRefine(checkContent)
	.openapi("SendEmailRequest");
export type SendEmailRequest = z.infer<typeof SendEmailRequest>;

/** Batch items: Resend's batch endpoint supports neither attachments nor scheduling. */
export const BatchEmailItem = z
	.object({
		...fields,
		attachments: z.never({ error: "attachments are not supported in batch sends" }).optional(),
		scheduled_at: z.never({ error: "scheduled_at is not supported in batch sends" }).optional(),
	})
	.superRefine(checkContent)
	.openapi("BatchEmailItem");
export type BatchEmailItem = z.infer<typeof BatchEmailItem>;

export const BatchSendRequest = z.array(z.unknown()).openapi({ type: "array", items: { $ref: "#/components/schemas/BatchEmailItem" } });

export const UpdateEmailRequest = z.object({ scheduled_at: z.string().min(1).max(64) }).openapi("UpdateEmailRequest");

export const ListEmailsQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(20),
	after: z.string().optional(),
	before: z.string().optional(),
	status: z.enum(EMAIL_STATUSES).optional(),
	tag: z.string().max(513).optional().openapi({ description: "`name` or `name:value`" }),
	to: z.string().max(320).optional(),
});

export const EmailIdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });

export const IdempotencyHeaders = z.object({
	"idempotency-key": z.string().optional().openapi({ description: "1–256 characters; replays for 24 hours" }),
});

export const BatchHeaders = IdempotencyHeaders.extend({
	"x-batch-validation": z.enum(["strict", "permissive"]).optional(),
});

export const EmailObject = z
	.object({
		object: z.literal("email"),
		id: z.string(),
		from: z.string(),
		to: z.array(z.string()),
		cc: z.array(z.string()),
		bcc: z.array(z.string()),
		reply_to: z.array(z.string()),
		subject: z.string(),
		html: z.string().nullable(),
		text: z.string().nullable(),
		created_at: z.string(),
		scheduled_at: z.string().nullable(),
		last_event: z.string(),
		tags: z.array(Tag),
		template_id: z.string().nullable().openapi({ description: "The template it was rendered from (Mailroom extension)" }),
		template_version_id: z.string().nullable().openapi({ description: "The published version it was rendered from (Mailroom extension)" }),
		priority: z.enum(EMAIL_PRIORITIES).openapi({ description: "Its priority lane (Mailroom extension)" }),
	})
	.openapi("Email");

export const EmailList = z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(EmailObject) }).openapi("EmailList");

export const EmailRef = z.object({ object: z.literal("email"), id: z.string() }).openapi("EmailRef");
export const SendEmailResponse = z.object({ id: z.string() }).openapi("SendEmailResponse");
export const BatchSendResponse = z
	.object({
		data: z.array(z.object({ id: z.string() })),
		errors: z.array(z.object({ index: z.number().int(), message: z.string() })).optional(),
	})
	.openapi("BatchSendResponse");

export const EmailEventList = z
	.object({
		object: z.literal("list"),
		data: z.array(
			z.object({
				type: z.string(),
				at: z.string(),
				provider: z.string().nullable(),
				detail: z.record(z.string(), z.unknown()).nullable(),
			}),
		),
	})
	.openapi("EmailEventList");
