/**
 * Resend's template shapes (`CreateTemplateRequest`, `UpdateTemplateOptions`, `Template`, `TemplateListItem`), the
 * `template.variables` of a send, and Mailroom's extensions (versions, render preview), as zod schemas shared by
 * the routes and the OpenAPI document. Template syntax is checked by the templates service, which knows positions.
 */
import { z } from "@hono/zod-openapi";
import { EMAIL_LIMITS, TEMPLATE_LIMITS } from "../config";
import { VARIABLE_TYPES } from "../db/schema";
import { parseMailbox } from "../lib/address";
import { isUuid } from "../lib/ids";
import { VARIABLE_NAME } from "../services/template-render";

const NO_CRLF = /^[^\r\n]*$/;
const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const encoder = new TextEncoder();
const RESERVED = new Set<string>(TEMPLATE_LIMITS.reservedKeys);

const withinBytes = (label: string) =>
	z.string().refine((s) => encoder.encode(s).byteLength <= TEMPLATE_LIMITS.fieldBytes, {
		error: `${label} may be at most ${TEMPLATE_LIMITS.fieldBytes} bytes (UTF-8)`,
	});

const Name = z.string().trim().min(1).max(TEMPLATE_LIMITS.nameChars);

const Alias = z
	.string()
	.min(1)
	.max(TEMPLATE_LIMITS.aliasChars)
	.regex(ALIAS, "An alias may contain letters, digits, '.', '_' and '-', starting with a letter or digit")
	.refine((a) => !isUuid(a.toLowerCase()), { error: "An alias may not look like a template id (a UUID)" })
	.openapi({ example: "order-confirmation" });

/** A template's from: a mailbox, or a pattern with variables whose rendering is checked at send time. */
const TemplateFrom = z
	.string()
	.max(320 + 256)
	.regex(NO_CRLF, "from may not contain line breaks")
	.refine((v) => v.includes("{{") || parseMailbox(v) !== null, {
		error: (issue) => `Invalid email address: ${JSON.stringify(issue.input)}`,
	});

const TemplateReplyTo = z
	.preprocess(
		(v) => (typeof v === "string" ? [v] : v),
		z.array(TemplateFrom).max(EMAIL_LIMITS.recipientsPerField, `At most ${EMAIL_LIMITS.recipientsPerField} reply_to addresses`),
	)
	.openapi({ anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] });

const Subject = z.string().min(1).max(EMAIL_LIMITS.subjectChars).regex(NO_CRLF, "subject may not contain line breaks");

const Value = z.union([z.string().max(TEMPLATE_LIMITS.valueChars), z.number()]);

export const TemplateVariableInput = z
	.object({
		key: z
			.string()
			.min(1)
			.max(TEMPLATE_LIMITS.variableKeyChars)
			.regex(VARIABLE_NAME, "A variable key may contain letters, digits and _, not starting with a digit")
			.refine((k) => !RESERVED.has(k), { error: (issue) => `${issue.input} is a reserved variable name` }),
		type: z.enum(VARIABLE_TYPES),
		fallback_value: Value.nullable().optional(),
	})
	.refine((v) => v.fallback_value === undefined || v.fallback_value === null || typeof v.fallback_value === v.type, {
		error: (issue) => `fallback_value must be a ${(issue.input as { type: string }).type}`,
		path: ["fallback_value"],
	})
	.openapi("TemplateVariableInput");

const Variables = z
	.array(TemplateVariableInput)
	.max(TEMPLATE_LIMITS.variables, `A template may declare at most ${TEMPLATE_LIMITS.variables} variables`)
	.superRefine((variables, ctx) => {
		const seen = new Set<string>();
		for (const [i, v] of variables.entries()) {
			if (seen.has(v.key)) ctx.addIssue({ code: "custom", message: `Variable ${v.key} is declared twice`, path: [i, "key"] });
			seen.add(v.key);
		}
	});
export type TemplateVariableInput = z.infer<typeof TemplateVariableInput>;

const content = {
	from: TemplateFrom.nullable().optional(),
	subject: Subject.nullable().optional(),
	reply_to: TemplateReplyTo.nullable().optional(),
	text: withinBytes("text").nullable().optional(),
	variables: Variables.optional(),
};

export const CreateTemplateRequest = z
	.object({ name: Name, alias: Alias.nullable().optional(), html: withinBytes("html"), ...content })
	.openapi("CreateTemplateRequest");
export type CreateTemplateRequest = z.infer<typeof CreateTemplateRequest>;

/** Every field optional; `variables` replaces the whole list; `null` clears an optional field. */
export const UpdateTemplateRequest = z
	.object({ name: Name.optional(), alias: Alias.nullable().optional(), html: withinBytes("html").optional(), ...content })
	.openapi("UpdateTemplateOptions");
export type UpdateTemplateRequest = z.infer<typeof UpdateTemplateRequest>;

/**
 * `template.variables` of a send: an object of strings and numbers. Checked here so each error names its key;
 * a value's declared type is checked against the template at render time.
 */
export const SendVariables = z
	.record(z.string().max(TEMPLATE_LIMITS.variableKeyChars), z.unknown())
	.superRefine((values, ctx) => {
		const keys = Object.keys(values);
		if (keys.length > TEMPLATE_LIMITS.sendVariables) {
			ctx.addIssue({ code: "custom", message: `At most ${TEMPLATE_LIMITS.sendVariables} variables per email` });
			return;
		}
		for (const key of keys) {
			const v = values[key];
			if (typeof v === "string") {
				if (v.length > TEMPLATE_LIMITS.valueChars) {
					ctx.addIssue({ code: "custom", message: `is ${v.length} characters; the limit is ${TEMPLATE_LIMITS.valueChars}`, path: [key] });
				}
			} else if (typeof v !== "number" || !Number.isFinite(v)) {
				const got = v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : typeof v;
				ctx.addIssue({ code: "custom", message: `must be a string or a number, not ${got}`, path: [key] });
			}
		}
	})
	.transform((values) => values as Record<string, string | number>)
	.openapi({
		type: "object",
		additionalProperties: { anyOf: [{ type: "string" }, { type: "number" }] },
		example: { PRODUCT: "Vintage Macintosh", PRICE: 499 },
	});

export const EmailTemplateInput = z
	.object({
		id: z.string().min(1).max(255).openapi({ description: "The id or alias of a published template" }),
		variables: SendVariables.optional(),
	})
	.openapi("EmailTemplateInput");

export const TemplateVariable = z
	.object({
		id: z.string(),
		key: z.string(),
		type: z.enum(VARIABLE_TYPES),
		fallback_value: z.union([z.string(), z.number()]).nullable(),
		created_at: z.string(),
		updated_at: z.string(),
	})
	.openapi("TemplateVariable");

const TEMPLATE_STATUSES = ["draft", "published"] as const;

/** What a template's draft and each published version hold. */
const contentFields = {
	name: z.string(),
	from: z.string().nullable(),
	subject: z.string().nullable(),
	reply_to: z.array(z.string()).nullable(),
	html: z.string(),
	text: z.string().nullable(),
	variables: z.array(TemplateVariable),
};

export const TemplateObject = z
	.object({
		object: z.literal("template"),
		id: z.string(),
		current_version_id: z
			.string()
			.openapi({ description: "The published version sends use; before the first publish, the id that version will get" }),
		alias: z.string().nullable(),
		...contentFields,
		created_at: z.string(),
		updated_at: z.string(),
		status: z.enum(TEMPLATE_STATUSES),
		published_at: z.string().nullable(),
		has_unpublished_versions: z.boolean(),
	})
	.openapi("Template");

export const TemplateListItem = TemplateObject.pick({
	id: true,
	name: true,
	status: true,
	published_at: true,
	created_at: true,
	updated_at: true,
	alias: true,
}).openapi("TemplateListItem");

export const TemplateList = z
	.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(TemplateListItem) })
	.openapi("TemplateList");

export const TemplateRef = z.object({ object: z.literal("template"), id: z.string() }).openapi("TemplateRef");

export const TemplateDeleted = z
	.object({ object: z.literal("template"), id: z.string(), deleted: z.literal(true) })
	.openapi("TemplateDeleted");

export const TemplateVersion = z
	.object({
		object: z.literal("template_version"),
		id: z.string(),
		template_id: z.string(),
		number: z.number().int(),
		...contentFields,
		published_at: z.string(),
	})
	.openapi("TemplateVersion");

export const TemplateVersionList = z
	.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(TemplateVersion) })
	.openapi("TemplateVersionList");

export const RenderTemplateRequest = z
	.object({
		variables: SendVariables.optional(),
		version: z.string().max(64).optional().openapi({ description: "`draft` (default), `published`, or a version id" }),
	})
	.openapi("RenderTemplateRequest");

export const RenderedTemplate = z
	.object({
		object: z.literal("rendered_template"),
		template_id: z.string(),
		version_id: z.string(),
		from: z.string().nullable(),
		subject: z.string().nullable(),
		reply_to: z.array(z.string()).nullable(),
		html: z.string(),
		text: z.string(),
	})
	.openapi("RenderedTemplate");

export const TemplateIdParam = z.object({
	id: z
		.string()
		.max(255)
		.openapi({ param: { name: "id", in: "path" }, description: "The template's id or alias" }),
});

export const ListTemplatesQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(20),
	after: z.string().optional(),
	before: z.string().optional(),
});
