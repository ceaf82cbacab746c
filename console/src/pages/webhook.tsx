/**
 * One webhook endpoint: its settings, its deliveries newest first (`GET /webhooks/:id/deliveries`, the first page
 * refreshed every few seconds), each with every attempt (status code, error, duration), and deletion (pending
 * deliveries are canceled).
 */

import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { ListTable } from "../components/table";
import { PageHeader, Pager, Problem, StatusBadge, Time } from "../components/ui";
import { useCursorStack, useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { List, Webhook, WebhookDelivery } from "../types";

const REFRESH_MS = 5000;

function Attempts({ delivery }: { delivery: WebhookDelivery }) {
	if (delivery.attempt_log.length === 0) return <span class="muted">none yet</span>;
	return (
		<details>
			<summary>
				{delivery.attempts} attempt{delivery.attempts === 1 ? "" : "s"}
			</summary>
			<ol class="attempts">
				{delivery.attempt_log.map((a) => (
					<li key={a.attempt}>
						<Time iso={a.at} />: {a.status_code === null ? "no answer" : `HTTP ${a.status_code}`}, {Math.round(a.duration_ms)} ms
						{a.error ? <span class="error-text"> · {a.error}</span> : null}
					</li>
				))}
			</ol>
		</details>
	);
}

export function WebhookPage() {
	const { params } = useRoute();
	const { route } = useLocation();
	const id = params.id ?? "";
	const webhook = useResource(() => api.get<Webhook>(`/webhooks/${id}`), id);
	const pages = useCursorStack();
	const deliveries = useResource(
		() => api.get<List<WebhookDelivery>>(`/webhooks/${id}/deliveries`, { limit: 20, after: pages.after }),
		`${id}:${pages.after ?? ""}`,
		// New events can arrive at any time; the first page follows them.
		{ refreshMs: () => (pages.after ? null : REFRESH_MS) },
	);
	const [error, setError] = useState<unknown>(undefined);

	const remove = async () => {
		if (!window.confirm("Delete this endpoint? Pending deliveries to it are canceled.")) return;
		setError(undefined);
		try {
			await api.delete(`/webhooks/${id}`);
			route(`${BASE}/webhooks`);
		} catch (err) {
			setError(err);
		}
	};

	return (
		<>
			<PageHeader title="Webhook endpoint" description={<a href={`${BASE}/webhooks`}>← All endpoints</a>}>
				{webhook.data ? (
					<button type="button" class="button danger" onClick={remove}>
						Delete endpoint
					</button>
				) : null}
			</PageHeader>
			<Problem error={error} action="Could not delete" />
			<Problem error={webhook.error} action="Could not load the endpoint" />
			{webhook.data ? (
				<section class="card" aria-label="Endpoint">
					<dl class="facts">
						<dt>URL</dt>
						<dd class="wrap">{webhook.data.endpoint}</dd>
						<dt>Status</dt>
						<dd>
							<StatusBadge status={webhook.data.status} />
						</dd>
						<dt>Events</dt>
						<dd>{webhook.data.events.join(", ")}</dd>
						<dt>Created</dt>
						<dd>
							<Time iso={webhook.data.created_at} />
						</dd>
					</dl>
				</section>
			) : null}
			<section aria-labelledby="deliveries-heading">
				<h2 id="deliveries-heading">Deliveries</h2>
				<ListTable
					resource={deliveries}
					what="deliveries"
					empty="Nothing delivered to this endpoint yet."
					rowKey={(d) => d.id}
					columns={[
						{ header: "Event", cell: (d) => d.event_type },
						{ header: "Email", cell: (d) => <a href={`${BASE}/emails/${d.email_id}`}>{d.email_id.slice(0, 8)}…</a> },
						{ header: "Status", cell: (d) => <StatusBadge status={d.status} /> },
						{
							header: "Last answer",
							wrap: true,
							cell: (d) => (
								<>
									{d.last_status_code === null ? "—" : `HTTP ${d.last_status_code}`}
									{d.last_error ? <span class="error-text"> · {d.last_error}</span> : null}
								</>
							),
						},
						{ header: "Attempts", cell: (d) => <Attempts delivery={d} /> },
						{ header: "Created", cell: (d) => <Time iso={d.created_at} /> },
					]}
				/>
				<Pager
					label="Delivery pages"
					onNewer={pages.back}
					onOlder={pages.forward(deliveries.data?.data.at(-1)?.id, deliveries.data?.has_more)}
				/>
			</section>
		</>
	);
}
