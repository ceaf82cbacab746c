/**
 * Emails, newest first (`GET /emails`): filters by status, tag and recipient, cursor paging (`after` / `before`),
 * all kept in the URL; the page refreshes every few seconds while a listed email is still on its way.
 */

import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { EMAIL_STATUSES } from "../catalog";
import { ListTable } from "../components/table";
import { PageHeader, Pager, StatusBadge, Tags, Time } from "../components/ui";
import { MOVING_STATUSES, statusLabel } from "../format";
import { useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { EmailObject, List } from "../types";

const REFRESH_MS = 3000;

function href(query: Record<string, string | undefined>): string {
	const params = new URLSearchParams();
	for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
	const qs = params.toString();
	return `${BASE}/emails${qs ? `?${qs}` : ""}`;
}

export function EmailsPage() {
	const { query, route } = useLocation();
	const filters = { status: query.status, tag: query.tag, to: query.to };
	const cursor = { after: query.after, before: query.before };
	const key = JSON.stringify({ ...filters, ...cursor });
	const emails = useResource(() => api.get<List<EmailObject>>("/emails", { limit: 20, ...filters, ...cursor }), key, {
		refreshMs: (list) => (list.data.some((e) => MOVING_STATUSES.has(e.last_event)) ? REFRESH_MS : null),
	});
	const [form, setForm] = useState(filters);

	const apply = (event: Event) => {
		event.preventDefault();
		route(href({ status: form.status, tag: form.tag?.trim(), to: form.to?.trim() }));
	};
	const list = emails.data;
	const first = list?.data[0]?.id;
	const last = list?.data.at(-1)?.id;
	// `after` pages go towards older emails, `before` pages towards newer ones; has_more is about that direction.
	const hasOlder = cursor.before ? Boolean(last) : Boolean(list?.has_more && last);
	const hasNewer = cursor.before ? Boolean(list?.has_more && first) : Boolean((cursor.after || cursor.before) && first);
	const moving = list?.data.some((e) => MOVING_STATUSES.has(e.last_event));

	return (
		<>
			<PageHeader title="Emails" description="Newest first. Open one to see its whole timeline.">
				<a class="button" href={`${BASE}/send`}>
					Send a test email
				</a>
			</PageHeader>
			<form class="filters card" onSubmit={apply} aria-label="Filter emails">
				<div class="field">
					<label for="filter-status">Status</label>
					<select
						id="filter-status"
						value={form.status ?? ""}
						onChange={(e) => setForm({ ...form, status: e.currentTarget.value || undefined })}
					>
						<option value="">Any status</option>
						{EMAIL_STATUSES.map((s) => (
							<option key={s} value={s}>
								{statusLabel(s)}
							</option>
						))}
					</select>
				</div>
				<div class="field">
					<label for="filter-tag">Tag</label>
					<input
						id="filter-tag"
						value={form.tag ?? ""}
						placeholder="name or name:value"
						onInput={(e) => setForm({ ...form, tag: e.currentTarget.value })}
					/>
				</div>
				<div class="field">
					<label for="filter-to">Recipient</label>
					<input
						id="filter-to"
						type="email"
						value={form.to ?? ""}
						placeholder="someone@example.org"
						onInput={(e) => setForm({ ...form, to: e.currentTarget.value })}
					/>
				</div>
				<div class="field actions">
					<button class="button" type="submit">
						Filter
					</button>
					{filters.status || filters.tag || filters.to ? (
						<a class="button secondary" href={href({})} onClick={() => setForm({ status: undefined, tag: undefined, to: undefined })}>
							Clear
						</a>
					) : null}
				</div>
			</form>
			{list ? (
				<p class="muted" aria-live="polite">
					{list.data.length > 0 ? `${list.data.length} shown.` : null}
					{moving ? " Some are still on their way: this list refreshes every few seconds." : ""}
				</p>
			) : null}
			<ListTable
				resource={emails}
				what="emails"
				empty="No emails match."
				rowKey={(email) => email.id}
				columns={[
					{ header: "Status", cell: (email) => <StatusBadge status={email.last_event} /> },
					{ header: "Subject", cell: (email) => <a href={`${BASE}/emails/${email.id}`}>{email.subject || "(no subject)"}</a> },
					{ header: "To", wrap: true, cell: (email) => email.to.join(", ") },
					{ header: "Tags", cell: (email) => <Tags tags={email.tags} /> },
					{ header: "Created", cell: (email) => <Time iso={email.created_at} /> },
				]}
			/>
			<Pager
				label="Email pages"
				onNewer={hasNewer && first ? () => route(href({ ...filters, before: first })) : undefined}
				onOlder={hasOlder && last ? () => route(href({ ...filters, after: last })) : undefined}
			/>
		</>
	);
}
