/**
 * Queries for templates and their published versions. Every query is scoped by tenant: another tenant's template
 * is simply absent. A template is named by its id (a UUID) or its alias (never UUID-shaped).
 */
import { and, asc, desc, eq, gt, inArray, lt, max, or, type SQL, sql } from "drizzle-orm";
import { isUuid } from "../lib/ids";
import { chunk, type Db, MAX_BOUND_PARAMETERS, pageOf, type Statement } from "./client";
import { type TemplateRow, type TemplateVersionRow, templates, templateVersions } from "./schema";

/** The WHERE clause naming one template of a tenant by id or alias. */
export function templateRef(tenantId: string, idOrAlias: string): SQL {
	return and(eq(templates.tenantId, tenantId), isUuid(idOrAlias) ? eq(templates.id, idOrAlias) : eq(templates.alias, idOrAlias)) as SQL;
}

export async function findTemplate(db: Db, tenantId: string, idOrAlias: string): Promise<TemplateRow | undefined> {
	const [row] = await db.select().from(templates).where(templateRef(tenantId, idOrAlias)).limit(1);
	return row;
}

export type Page = { limit: number; after?: string | undefined; before?: string | undefined };

/** Newest first; `after` pages towards older templates, `before` towards newer (ids are UUIDv7, as for emails). */
export async function listTemplates(db: Db, tenantId: string, page: Page): Promise<{ rows: TemplateRow[]; hasMore: boolean }> {
	const towardsNewer = page.before !== undefined;
	const rows = await db
		.select()
		.from(templates)
		.where(
			and(
				eq(templates.tenantId, tenantId),
				page.after ? lt(templates.id, page.after) : undefined,
				page.before ? gt(templates.id, page.before) : undefined,
			),
		)
		.orderBy(towardsNewer ? asc(templates.id) : desc(templates.id))
		.limit(page.limit + 1);
	return pageOf(rows, page.limit, towardsNewer);
}

/** A template's published versions, newest first; the cursors are version ids. */
export async function listVersions(
	db: Db,
	tenantId: string,
	templateId: string,
	page: Page,
): Promise<{ rows: TemplateVersionRow[]; hasMore: boolean }> {
	const numberOf = (id: string) =>
		sql`(SELECT ${templateVersions.number} FROM ${templateVersions} WHERE ${templateVersions.id} = ${id} AND ${templateVersions.templateId} = ${templateId})`;
	const towardsNewer = page.before !== undefined;
	const rows = await db
		.select()
		.from(templateVersions)
		.where(
			and(
				eq(templateVersions.templateId, templateId),
				eq(templateVersions.tenantId, tenantId),
				page.after ? lt(templateVersions.number, numberOf(page.after)) : undefined,
				page.before ? gt(templateVersions.number, numberOf(page.before)) : undefined,
			),
		)
		.orderBy(towardsNewer ? asc(templateVersions.number) : desc(templateVersions.number))
		.limit(page.limit + 1);
	return pageOf(rows, page.limit, towardsNewer);
}

export async function findVersion(
	db: Db,
	tenantId: string,
	templateId: string,
	versionId: string,
): Promise<TemplateVersionRow | undefined> {
	const [row] = await db
		.select()
		.from(templateVersions)
		.where(and(eq(templateVersions.id, versionId), eq(templateVersions.templateId, templateId), eq(templateVersions.tenantId, tenantId)))
		.limit(1);
	return row;
}

/**
 * Publishes the draft of the named template, in one transaction: the draft is copied into the next version
 * and becomes what sends use. Both statements are guarded by "the draft has unpublished changes", so
 * publishing twice, or concurrently, freezes one version. The last statement finds the template either way.
 */
export function publishStatements(db: Db, tenantId: string, idOrAlias: string, now: number): Statement[] {
	const unpublished = or(sql`${templates.publishedVersionId} IS NULL`, sql`${templates.publishedVersionId} <> ${templates.draftVersionId}`);
	const nextNumber = db
		.select({ n: sql<number>`coalesce(${max(templateVersions.number)}, 0) + 1` })
		.from(templateVersions)
		.where(eq(templateVersions.templateId, templates.id));
	return [
		db.insert(templateVersions).select(
			db
				.select({
					// Every column in table order (drizzle's rule for INSERT … SELECT).
					id: templates.draftVersionId,
					templateId: templates.id,
					tenantId: templates.tenantId,
					number: sql<number>`(${nextNumber})`.as("number"),
					name: templates.name,
					from: templates.from,
					subject: templates.subject,
					replyTo: templates.replyTo,
					html: templates.html,
					text: templates.text,
					variables: templates.variables,
					publishedAt: sql<number>`${now}`.as("published_at"),
				})
				.from(templates)
				.where(and(templateRef(tenantId, idOrAlias), unpublished)),
		),
		db
			.update(templates)
			.set({
				publishedVersionId: sql`${templates.draftVersionId}`,
				publishedAt: now,
				updatedAt: now,
				revision: sql`${templates.revision} + 1`,
			})
			.where(and(templateRef(tenantId, idOrAlias), unpublished)),
		db.select({ id: templates.id }).from(templates).where(templateRef(tenantId, idOrAlias)).limit(1),
	];
}

/** Deletes the named template and its versions in one transaction; the last statement returns its id. */
export function deleteStatements(db: Db, tenantId: string, idOrAlias: string): Statement[] {
	const named = db.select({ id: templates.id }).from(templates).where(templateRef(tenantId, idOrAlias));
	return [
		db.delete(templateVersions).where(and(eq(templateVersions.tenantId, tenantId), inArray(templateVersions.templateId, named))),
		db.delete(templates).where(templateRef(tenantId, idOrAlias)).returning({ id: templates.id }),
	];
}

/** A template as a send sees it: its ids, and the published version (null while it is a draft only). */
export type PublishedTemplate = { id: string; alias: string | null; version: TemplateVersionRow | null };

/**
 * Reads for the accept path's first round trip: every template the request names, by id or alias, and its
 * published version, as pairs of statements (templates, then their versions) within D1's bound-parameter limit:
 * one pair for a typical request. No join: D1 batch results are keyed by column name, which a join of two
 * tables with the same column names would mix up.
 */
export function publishedTemplateReads(db: Db, tenantId: string, refs: readonly string[]): Statement[] {
	const ids = refs.filter((r) => isUuid(r));
	const aliases = refs.filter((r) => !isUuid(r));
	// Each pair binds the tenant and the names twice.
	const perPair = Math.floor((MAX_BOUND_PARAMETERS - 2) / 2);
	const pair = (named: SQL): Statement[] => {
		const where = and(eq(templates.tenantId, tenantId), named);
		return [
			db
				.select({ id: templates.id, alias: templates.alias, publishedVersionId: templates.publishedVersionId })
				.from(templates)
				.where(where),
			db
				.select()
				.from(templateVersions)
				.where(
					and(
						eq(templateVersions.tenantId, tenantId),
						inArray(templateVersions.id, db.select({ id: templates.publishedVersionId }).from(templates).where(where)),
					),
				),
		];
	};
	return [
		...chunk(ids, perPair).flatMap((part) => pair(inArray(templates.id, part))),
		...chunk(aliases, perPair).flatMap((part) => pair(inArray(templates.alias, part))),
	];
}

/** The results of `publishedTemplateReads`, keyed by every name a request may have used (id and alias). */
export function indexPublishedTemplates(results: unknown[]): Map<string, PublishedTemplate> {
	const byRef = new Map<string, PublishedTemplate>();
	for (let i = 0; i + 1 < results.length; i += 2) {
		const versions = new Map((results[i + 1] as TemplateVersionRow[]).map((v) => [v.id, v]));
		for (const row of results[i] as { id: string; alias: string | null; publishedVersionId: string | null }[]) {
			const found = {
				id: row.id,
				alias: row.alias,
				version: row.publishedVersionId ? (versions.get(row.publishedVersionId) ?? null) : null,
			};
			byRef.set(row.id, found);
			if (row.alias !== null) byRef.set(row.alias, found);
		}
	}
	return byRef;
}
