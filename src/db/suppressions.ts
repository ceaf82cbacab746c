/** Queries for a tenant's suppression list. Addresses are stored lower-cased. */
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "./client";
import { type SuppressionRow, suppressions } from "./schema";

export async function listSuppressions(
	db: Db,
	tenantId: string,
	limit: number,
	after?: string,
): Promise<{ rows: SuppressionRow[]; hasMore: boolean }> {
	const rows = await db
		.select()
		.from(suppressions)
		.where(and(eq(suppressions.tenantId, tenantId), after ? gt(suppressions.email, after.toLowerCase()) : undefined))
		.orderBy(asc(suppressions.email))
		.limit(limit + 1);
	return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
}

/** Adds or refreshes a suppression (a later reason replaces an earlier one). */
export async function upsertSuppression(
	db: Db,
	row: { tenantId: string; email: string; reason: string; source: string; createdAt: number },
): Promise<SuppressionRow> {
	const [saved] = await db
		.insert(suppressions)
		.values({ ...row, email: row.email.toLowerCase() })
		.onConflictDoUpdate({
			target: [suppressions.tenantId, suppressions.email],
			set: { reason: row.reason, source: row.source, createdAt: row.createdAt },
		})
		.returning();
	if (!saved) throw new Error("suppression upsert returned no row");
	return saved;
}

export async function deleteSuppression(db: Db, tenantId: string, email: string): Promise<boolean> {
	const rows = await db
		.delete(suppressions)
		.where(and(eq(suppressions.tenantId, tenantId), eq(suppressions.email, email.toLowerCase())))
		.returning({ email: suppressions.email });
	return rows.length > 0;
}
