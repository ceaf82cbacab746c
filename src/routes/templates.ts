/** `/templates`: Resend's template endpoints, plus `/versions` and `/render` (Mailroom extensions). Full-access keys only. */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../context";
import { getDb } from "../db/client";
import { listTemplates, listVersions } from "../db/templates";
import { requireFullAccess } from "../middleware/auth";
import {
	CreateTemplateRequest,
	ListTemplatesQuery,
	RenderedTemplate,
	RenderTemplateRequest,
	TemplateDeleted,
	TemplateIdParam,
	TemplateList,
	TemplateObject,
	TemplateRef,
	TemplateVersionList,
	UpdateTemplateRequest,
} from "../schemas/template";
import {
	createTemplate,
	deleteTemplate,
	duplicateTemplate,
	getTemplate,
	previewTemplate,
	publishTemplate,
	type TemplateDeps,
	toTemplateListItem,
	toTemplateObject,
	toVersionObject,
	updateTemplate,
} from "../services/templates";
import { checkCursors, commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const templateRoutes = createRouter();

const deps = (c: Context<AppEnv>): TemplateDeps => ({ db: getDb(c.env.DB), tenantId: c.get("auth").tenant.id, now: Date.now() });
const conflict = { 409: commonErrors[422] };
const tags = ["Templates"];

templateRoutes.openapi(
	createRoute({
		method: "post",
		path: "/templates",
		summary: "Create a template (a draft until published)",
		tags,
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(CreateTemplateRequest) },
		responses: { 201: jsonResponse(TemplateRef, "Created"), ...commonErrors, ...conflict },
	}),
	async (c) => {
		const row = await createTemplate(deps(c), c.req.valid("json"));
		return c.json({ object: "template" as const, id: row.id }, 201);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "get",
		path: "/templates",
		summary: "List templates, newest first",
		tags,
		middleware: [requireFullAccess] as const,
		request: { query: ListTemplatesQuery },
		responses: { 200: jsonResponse(TemplateList, "A page of templates"), ...commonErrors },
	}),
	async (c) => {
		const query = c.req.valid("query");
		checkCursors(query, "template");
		const { rows, hasMore } = await listTemplates(getDb(c.env.DB), c.get("auth").tenant.id, query);
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toTemplateListItem) }, 200);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "get",
		path: "/templates/{id}",
		summary: "Retrieve a template by id or alias (its draft, with the published version's id)",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam },
		responses: { 200: jsonResponse(TemplateObject, "The template"), ...commonErrors },
	}),
	async (c) => c.json(toTemplateObject(await getTemplate(deps(c), c.req.valid("param").id)), 200),
);

templateRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/templates/{id}",
		summary: "Update a template's draft (sends keep using the published version until the next publish)",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam, body: jsonBody(UpdateTemplateRequest) },
		responses: { 200: jsonResponse(TemplateRef, "Updated"), ...commonErrors, ...conflict },
	}),
	async (c) => {
		const row = await updateTemplate(deps(c), c.req.valid("param").id, c.req.valid("json"));
		return c.json({ object: "template" as const, id: row.id }, 200);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/templates/{id}",
		summary: "Delete a template and its versions",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam },
		responses: { 200: jsonResponse(TemplateDeleted, "Deleted"), ...commonErrors },
	}),
	async (c) => {
		const id = await deleteTemplate(deps(c), c.req.valid("param").id);
		return c.json({ object: "template" as const, id, deleted: true as const }, 200);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "post",
		path: "/templates/{id}/publish",
		summary: "Publish the draft as the next version, which sends use from then on",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam },
		responses: { 200: jsonResponse(TemplateRef, "Published (unchanged if the draft had no unpublished changes)"), ...commonErrors },
	}),
	async (c) => {
		const id = await publishTemplate(deps(c), c.req.valid("param").id);
		return c.json({ object: "template" as const, id }, 200);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "post",
		path: "/templates/{id}/duplicate",
		summary: "Copy a template's draft into a new draft template",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam },
		responses: { 200: jsonResponse(TemplateRef, "The new template"), ...commonErrors },
	}),
	async (c) => {
		const row = await duplicateTemplate(deps(c), c.req.valid("param").id);
		return c.json({ object: "template" as const, id: row.id }, 200);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "get",
		path: "/templates/{id}/versions",
		summary: "Published versions, newest first (Mailroom extension)",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam, query: ListTemplatesQuery },
		responses: { 200: jsonResponse(TemplateVersionList, "A page of versions"), ...commonErrors },
	}),
	async (c) => {
		const query = c.req.valid("query");
		checkCursors(query, "version");
		const d = deps(c);
		const template = await getTemplate(d, c.req.valid("param").id);
		const { rows, hasMore } = await listVersions(d.db, d.tenantId, template.id, query);
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toVersionObject) }, 200);
	},
);

templateRoutes.openapi(
	createRoute({
		method: "post",
		path: "/templates/{id}/render",
		summary: "Render the draft, the published or a given version with variables, without sending (Mailroom extension)",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: TemplateIdParam, body: { ...jsonBody(RenderTemplateRequest), required: false } },
		responses: { 200: jsonResponse(RenderedTemplate, "What a send would contain"), ...commonErrors },
	}),
	async (c) => {
		// Without a body (no Content-Type) the validator passes `{}`, so defaults are applied here.
		const { variables, version = "draft" } = c.req.valid("json");
		const { templateId, versionId, rendered } = await previewTemplate(deps(c), c.req.valid("param").id, version, variables);
		return c.json(
			{
				object: "rendered_template" as const,
				template_id: templateId,
				version_id: versionId,
				from: rendered.from,
				subject: rendered.subject,
				reply_to: rendered.replyTo,
				html: rendered.html,
				text: rendered.text,
			},
			200,
		);
	},
);
