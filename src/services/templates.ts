/**
 * Templates (Resend's API): a draft edited by create/update, frozen into numbered versions by publish. Sends use
 * the published version only, so a draft edit never changes what is being sent. Every write checks the
 * template's syntax first (with positions) and writes nothing when it fails.
 */
import { and, eq } from "drizzle-orm";
import { type Db, isUniqueViolation, runBatch } from "../db/client";
import { type StoredVariable, type TemplateRow, type TemplateVersionRow, templates } from "../db/schema";
import { deleteStatements, findTemplate, findVersion, publishStatements } from "../db/templates";
import { ApiError } from "../errors";
import { isUuid, newId, newSortableId } from "../lib/ids";
import { iso, isoOrNull } from "../lib/time";
import type { CreateTemplateRequest, TemplateVariableInput, UpdateTemplateRequest } from "../schemas/template";
import {
	type CompiledTemplate,
	compiledVersion,
	compileTemplate,
	type RenderedTemplate,
	renderTemplate,
	type TemplateContent,
	type VariableValue,
} from "./template-render";

export type TemplateDeps = { db: Db; tenantId: string; now: number };

const notFound = () => new ApiError("not_found", "Template not found");

/** The template named by id or alias, or 404 (also for another tenant's template). */
export async function getTemplate(deps: TemplateDeps, idOrAlias: string): Promise<TemplateRow> {
	const row = await findTemplate(deps.db, deps.tenantId, idOrAlias);
	if (!row) throw notFound();
	return row;
}

export async function createTemplate(deps: TemplateDeps, input: CreateTemplateRequest): Promise<TemplateRow> {
	const { now } = deps;
	const content: TemplateContent = {
		from: input.from ?? null,
		subject: input.subject ?? null,
		replyTo: input.reply_to ?? null,
		html: input.html,
		text: input.text ?? null,
		variables: storedVariables(input.variables ?? [], [], now),
	};
	checkSyntax(content);
	const row = newDraft(deps, { ...content, name: input.name, alias: input.alias ?? null });
	await withAliasCheck(row.alias, () => deps.db.insert(templates).values(row));
	return row;
}

/** A new template row: never published, its draft at revision 1. */
function newDraft(deps: TemplateDeps, fields: TemplateContent & { name: string; alias: string | null }): TemplateRow {
	return {
		...fields,
		id: newSortableId(deps.now),
		tenantId: deps.tenantId,
		draftVersionId: newSortableId(deps.now),
		publishedVersionId: null,
		publishedAt: null,
		revision: 1,
		createdAt: deps.now,
		updatedAt: deps.now,
	};
}

/**
 * Applies a partial update to the draft. The write is conditional on the revision that was read, so two
 * concurrent updates cannot silently merge; the loser gets a 409 and may retry.
 */
export async function updateTemplate(deps: TemplateDeps, idOrAlias: string, input: UpdateTemplateRequest): Promise<TemplateRow> {
	const { db, now } = deps;
	const current = await getTemplate(deps, idOrAlias);
	const content: TemplateContent = {
		from: input.from === undefined ? current.from : input.from,
		subject: input.subject === undefined ? current.subject : input.subject,
		replyTo: input.reply_to === undefined ? current.replyTo : input.reply_to,
		html: input.html ?? current.html,
		text: input.text === undefined ? current.text : input.text,
		variables: input.variables === undefined ? current.variables : storedVariables(input.variables, current.variables, now),
	};
	checkSyntax(content);
	const name = input.name ?? current.name;
	const alias = input.alias === undefined ? current.alias : input.alias;
	const draftChanged = JSON.stringify(versioned({ ...content, name })) !== JSON.stringify(versioned(current));
	if (!draftChanged && alias === current.alias) return current;
	// The first change after a publish starts a new draft version; later changes keep editing it.
	const startsDraft = draftChanged && current.draftVersionId === current.publishedVersionId;
	const next: TemplateRow = {
		...current,
		...content,
		name,
		alias,
		draftVersionId: startsDraft ? newSortableId(now) : current.draftVersionId,
		revision: current.revision + 1,
		updatedAt: now,
	};
	const [written] = await withAliasCheck(alias, () =>
		db
			.update(templates)
			.set(next)
			.where(and(eq(templates.id, current.id), eq(templates.tenantId, deps.tenantId), eq(templates.revision, current.revision)))
			.returning({ id: templates.id }),
	);
	if (!written)
		throw new ApiError("validation_error", "The template was changed by another request meanwhile; read it again and retry", 409);
	return next;
}

/** Publishes the draft (a no-op when it has no unpublished changes); returns the template's id. */
export async function publishTemplate(deps: TemplateDeps, idOrAlias: string): Promise<string> {
	const results = await runBatch(deps.db, publishStatements(deps.db, deps.tenantId, idOrAlias, deps.now));
	const found = (results[2] as { id: string }[])[0];
	if (!found) throw notFound();
	return found.id;
}

/** A new draft template with the source's draft content, named "<name> (copy)" and without an alias. */
export async function duplicateTemplate(deps: TemplateDeps, idOrAlias: string): Promise<TemplateRow> {
	const source = await getTemplate(deps, idOrAlias);
	const copy = newDraft(deps, {
		name: `${source.name.slice(0, 193)} (copy)`,
		alias: null,
		from: source.from,
		subject: source.subject,
		replyTo: source.replyTo,
		html: source.html,
		text: source.text,
		variables: storedVariables(source.variables.map(toInput), [], deps.now),
	});
	await deps.db.insert(templates).values(copy);
	return copy;
}

/** Deletes the template and its versions. Emails already accepted keep their content and template ids. */
export async function deleteTemplate(deps: TemplateDeps, idOrAlias: string): Promise<string> {
	const results = await runBatch(deps.db, deleteStatements(deps.db, deps.tenantId, idOrAlias));
	const deleted = (results[1] as { id: string }[])[0];
	if (!deleted) throw notFound();
	return deleted.id;
}

/**
 * Renders the draft, the published version or a given version with `variables`, exactly as a send would,
 * without sending (Mailroom extension).
 */
export async function previewTemplate(
	deps: TemplateDeps,
	idOrAlias: string,
	version: string,
	variables: Record<string, VariableValue> | undefined,
): Promise<{ templateId: string; versionId: string; rendered: RenderedTemplate }> {
	const template = await getTemplate(deps, idOrAlias);
	let versionId = template.draftVersionId;
	let compiled: CompiledTemplate;
	if (version === "draft") {
		compiled = unwrap(compileTemplate(template));
	} else {
		const wanted = version === "published" ? template.publishedVersionId : version;
		if (wanted === null) throw new ApiError("validation_error", `Template ${template.id} has no published version yet`);
		const row = isUuid(wanted) ? await findVersion(deps.db, deps.tenantId, template.id, wanted) : undefined;
		if (!row) throw new ApiError("not_found", `Version ${JSON.stringify(wanted)} of template ${template.id} not found`);
		versionId = row.id;
		compiled = unwrap(compiledVersion(row.id, row));
	}
	return { templateId: template.id, versionId, rendered: unwrap(renderTemplate(compiled, variables)) };
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: string }): T {
	if (!result.ok) throw new ApiError("validation_error", result.error);
	return result.value;
}

function checkSyntax(content: TemplateContent): void {
	unwrap(compileTemplate(content));
}

/** What a version freezes: everything but the alias, which names the template rather than a version. */
function versioned(t: TemplateContent & { name: string }) {
	return [t.name, t.from, t.subject, t.replyTo, t.html, t.text, t.variables];
}

/** Inserts or updates a row whose alias must be unique within the tenant; a taken alias is a 409. */
async function withAliasCheck<T>(alias: string | null, write: () => Promise<T>): Promise<T> {
	try {
		return await write();
	} catch (e) {
		if (alias !== null && isUniqueViolation(e)) {
			throw new ApiError("validation_error", `The alias ${JSON.stringify(alias)} is already used by another template`, 409);
		}
		throw e;
	}
}

/** Declared variables as stored; a key that was declared before keeps its id and creation time. */
function storedVariables(inputs: TemplateVariableInput[], previous: StoredVariable[], now: number): StoredVariable[] {
	const byKey = new Map(previous.map((v) => [v.key, v]));
	return inputs.map((input) => {
		const fallback = input.fallback_value ?? null;
		const before = byKey.get(input.key);
		if (before && before.type === input.type && before.fallback_value === fallback) return before;
		return {
			id: before?.id ?? newId(),
			key: input.key,
			type: input.type,
			fallback_value: fallback,
			created_at: before?.created_at ?? iso(now),
			updated_at: iso(now),
		};
	});
}

const toInput = (v: StoredVariable): TemplateVariableInput => ({ key: v.key, type: v.type, fallback_value: v.fallback_value });

/** The content fields of a draft or version as the API shows them. */
function contentOf(row: TemplateContent & { name: string }) {
	const { name, from, subject, replyTo, html, text, variables } = row;
	return { name, from, subject, reply_to: replyTo, html, text, variables };
}

/** Resend's `Template` object. */
export function toTemplateObject(row: TemplateRow) {
	return {
		object: "template" as const,
		id: row.id,
		current_version_id: row.publishedVersionId ?? row.draftVersionId,
		alias: row.alias,
		...contentOf(row),
		created_at: iso(row.createdAt),
		updated_at: iso(row.updatedAt),
		status: row.publishedVersionId === null ? ("draft" as const) : ("published" as const),
		published_at: isoOrNull(row.publishedAt),
		// True for a draft that was never published too: the draft is a version nobody sends yet.
		has_unpublished_versions: row.draftVersionId !== row.publishedVersionId,
	};
}

/** Resend's `TemplateListItem`. */
export function toTemplateListItem(row: TemplateRow) {
	const { id, name, status, published_at, created_at, updated_at, alias } = toTemplateObject(row);
	return { id, name, status, published_at, created_at, updated_at, alias };
}

export function toVersionObject(row: TemplateVersionRow) {
	return {
		object: "template_version" as const,
		id: row.id,
		template_id: row.templateId,
		number: row.number,
		...contentOf(row),
		published_at: iso(row.publishedAt),
	};
}
