/**
 * The one definition of "a tenant's events in a time range, filtered" that `/analytics` and `/emails/metrics` count
 * from. Counted by cohort: the events of the emails **accepted** in the range, each in the period its email was
 * accepted, read through the `(tenant_id, id)` index (ids are UUIDv7, so an id range is a creation-time range). An
 * email's events all count where the email does, so rates (delivered of sent, bounced of sent) compare the same
 * emails. Events come from where they live (src/db/emails.ts `timelineOf`): the row's accept event, `sent`, and
 * held status event, plus its `email_events` rows — optionally limited to event types, to emails with a tag
 * (`name` or `name:value`) or from a template, or to listed emails.
 */
import { type SQL, sql } from "drizzle-orm";
import { emailIdLowerBound } from "../lib/ids";

export type EventFilters = {
	types?: readonly string[] | undefined;
	tag?: string | undefined;
	templateId?: string | undefined;
	emailIds?: readonly string[] | undefined;
};

/**
 * A `WITH` clause defining `ev`: one row per event of the tenant's emails accepted at `from` ≤ created < `to` that
 * pass `filters`, with `email_id`, `at` (the email's acceptance time, what periods bucket by), `type` and `detail`
 * (JSON text). Follow it with a SELECT … FROM ev.
 */
export function cohortEvents(tenantId: string, from: number, to: number, filters: EventFilters): SQL {
	const conditions: SQL[] = [sql`e.tenant_id = ${tenantId}`, sql`e.id >= ${emailIdLowerBound(from)}`, sql`e.id < ${emailIdLowerBound(to)}`];
	if (filters.emailIds !== undefined) {
		conditions.push(
			filters.emailIds.length === 0
				? sql`0`
				: sql`e.id IN (${sql.join(
						filters.emailIds.map((id) => sql`${id}`),
						sql`, `,
					)})`,
		);
	}
	if (filters.templateId !== undefined) conditions.push(sql`e.template_id = ${filters.templateId}`);
	if (filters.tag !== undefined) {
		const [name = "", ...rest] = filters.tag.split(":");
		const value = rest.length > 0 ? rest.join(":") : null;
		conditions.push(
			sql`EXISTS (SELECT 1 FROM json_each(e.tags) WHERE json_extract(value, '$.name') = ${name} ${value === null ? sql`` : sql`AND json_extract(value, '$.value') = ${value}`})`,
		);
	}
	const types =
		filters.types === undefined
			? sql``
			: sql`WHERE type IN (${sql.join(
					filters.types.map((t) => sql.raw(`'${t.replace(/[^a-z_]/g, "")}'`)),
					sql`, `,
				)})`;
	return sql`WITH c AS MATERIALIZED (
		SELECT e.id, e.created_at, e.scheduled_at, e.sent_at, e.status_event FROM emails AS e WHERE ${sql.join(conditions, sql` AND `)}
	), every AS (
		SELECT c.id AS email_id, c.created_at AS at, CASE WHEN c.scheduled_at IS NULL THEN 'queued' ELSE 'scheduled' END AS type, NULL AS detail FROM c
		UNION ALL SELECT c.id, c.created_at, 'sent', NULL FROM c WHERE c.sent_at IS NOT NULL
		UNION ALL SELECT c.id, c.created_at, json_extract(c.status_event, '$.type'), json_extract(c.status_event, '$.detail') FROM c WHERE c.status_event IS NOT NULL
		UNION ALL SELECT c.id, c.created_at, x.type, x.detail FROM c CROSS JOIN email_events AS x ON x.email_id = c.id AND NOT (x.type = 'sent' AND x.at = c.sent_at)
	), ev AS (SELECT * FROM every ${types})`;
}

/**
 * Unique human opens, an aggregate over `ev` (a `cohortEvents` whose types include `opened`): how many of the rows'
 * emails a person opened at least once. An open flagged `machine` by Mailroom's own tracking (Apple Mail Privacy
 * Protection, scanners: src/tracking/record.ts) does not count; providers' opens carry no flag and do. Selected next
 * to the other counts of the same query, so it costs no statement of its own; grouped by type, it is non-zero only
 * in the `opened` group.
 */
export const UNIQUE_HUMAN_OPENS = sql<number>`count(DISTINCT CASE WHEN type = 'opened' AND coalesce(json_extract(detail, '$.machine'), 0) = 0 THEN email_id END)`;
