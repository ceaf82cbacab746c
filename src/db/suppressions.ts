/**
 * Queries for a tenant's suppression list. Addresses are stored lower-cased, and an address is its suppression's id
 * (Resend's `GET /suppressions/:id_or_email` accepts either; here they are the same).
 */
import { and, asc, eq, gt, inArray, like, not, or, type SQL } from "drizzle-orm";
import { chunk, type Db, MAX_BOUND_PARAMETERS, pageOf, runBatch } from "./client";
import { type SuppressionRow, suppressions } from "./schema";

/** Resend's `origin` of a suppression. */
export const SUPPRESSION_ORIGINS = ["bounce", "complaint", "manual"] as const;
export type SuppressionOrigin = (typeof SUPPRESSION_ORIGINS)[number];

/**
 * `source` says where a suppression came from: `api`/`manual` (a person), or `<provider>:<event>:<email id>` written by
 * a hard bounce, a provider's permanent rejection (`rejected`) or a complaint (src/lifecycle). The origin and the
 * email that caused it (`source_id`) follow from it; `originFilter` is the same rule in SQL.
 */
export function originOf(source: string): { origin: SuppressionOrigin; sourceId: string | null } {
	const match = /^[^:]+:(bounced|rejected|complained):(.+)$/.exec(source);
	if (!match) return { origin: "manual", sourceId: null };
	return { origin: match[1] === "complained" ? "complaint" : "bounce", sourceId: match[2] ?? null };
}

function originFilter(origin: SuppressionOrigin): SQL | undefined {
	const bounce = or(like(suppressions.source, "%:bounced:%"), like(suppressions.source, "%:rejected:%"));
	const complaint = like(suppressions.source, "%:complained:%");
	if (origin === "bounce") return bounce;
	if (origin === "complaint") return complaint;
	return not(or(bounce, complaint) as SQL);
}

export async function listSuppressions(
	db: Db,
	tenantId: string,
	limit: number,
	after?: string,
	origin?: SuppressionOrigin,
): Promise<{ rows: SuppressionRow[]; hasMore: boolean }> {
	const rows = await db
		.select()
		.from(suppressions)
		.where(
			and(
				eq(suppressions.tenantId, tenantId),
				after ? gt(suppressions.email, after.toLowerCase()) : undefined,
				origin ? originFilter(origin) : undefined,
			),
		)
		.orderBy(asc(suppressions.email))
		.limit(limit + 1);
	return pageOf(rows, limit, false);
}

export async function findSuppression(db: Db, tenantId: string, email: string): Promise<SuppressionRow | undefined> {
	return db.query.suppressions.findFirst({
		where: and(eq(suppressions.tenantId, tenantId), eq(suppressions.email, email.toLowerCase())),
	});
}

type NewSuppression = { tenantId: string; email: string; reason: string; source: string; createdAt: number };

/** Adds or refreshes a suppression (a later reason replaces an earlier one). */
function upsertStatement(db: Db, row: NewSuppression) {
	return db
		.insert(suppressions)
		.values({ ...row, email: row.email.toLowerCase() })
		.onConflictDoUpdate({
			target: [suppressions.tenantId, suppressions.email],
			set: { reason: row.reason, source: row.source, createdAt: row.createdAt },
		})
		.returning();
}

export async function upsertSuppression(db: Db, row: NewSuppression): Promise<SuppressionRow> {
	const [saved] = await upsertStatement(db, row);
	if (!saved) throw new Error("suppression upsert returned no row");
	return saved;
}

/** Several at once, in one transaction; the saved rows in the order given. */
export async function upsertSuppressions(db: Db, rows: NewSuppression[]): Promise<SuppressionRow[]> {
	const [first, ...rest] = rows.map((row) => upsertStatement(db, row));
	if (!first) return [];
	const results = await db.batch([first, ...rest]);
	return results.flat();
}

export async function deleteSuppression(db: Db, tenantId: string, email: string): Promise<boolean> {
	return (await deleteSuppressions(db, tenantId, [email])).length > 0;
}

/** Removes the listed addresses in one transaction; returns those that were on the list. */
export async function deleteSuppressions(db: Db, tenantId: string, emails: string[]): Promise<string[]> {
	const statements = chunk(
		emails.map((e) => e.toLowerCase()),
		MAX_BOUND_PARAMETERS - 1,
	).map((part) =>
		db
			.delete(suppressions)
			.where(and(eq(suppressions.tenantId, tenantId), inArray(suppressions.email, part)))
			.returning({ email: suppressions.email }),
	);
	const results = (await runBatch(db, statements)) as { email: string }[][];
	return results.flat().map((r) => r.email);
}
