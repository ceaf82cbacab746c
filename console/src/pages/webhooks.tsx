/**
 * Webhook endpoints (`/webhooks`): where Mailroom posts signed `email.*` events. Creating one shows its `whsec_…`
 * signing secret once; each endpoint's page lists its deliveries and their attempts.
 */
import { useState } from "preact/hooks";
import { WEBHOOK_EVENT_TYPES } from "../catalog";
import { ListTable } from "../components/table";
import { PageHeader, Problem, ShownOnce, StatusBadge, Time } from "../components/ui";
import { useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { List, Webhook } from "../types";

export function WebhooksPage() {
	const list = useResource(() => api.get<List<Webhook>>("/webhooks"), "webhooks");
	const [endpoint, setEndpoint] = useState("");
	const [events, setEvents] = useState<Set<string>>(
		() => new Set(["email.delivered", "email.bounced", "email.complained", "email.failed"]),
	);
	const [error, setError] = useState<unknown>(undefined);
	const [created, setCreated] = useState<{ id: string; signing_secret: string } | null>(null);

	const create = async (event: Event) => {
		event.preventDefault();
		setError(undefined);
		setCreated(null);
		try {
			setCreated(await api.post<{ id: string; signing_secret: string }>("/webhooks", { endpoint: endpoint.trim(), events: [...events] }));
			setEndpoint("");
			list.reload();
		} catch (err) {
			setError(err);
		}
	};

	const toggle = (type: string, on: boolean) => {
		const next = new Set(events);
		if (on) next.add(type);
		else next.delete(type);
		setEvents(next);
	};

	return (
		<>
			<PageHeader
				title="Webhooks"
				description="Mailroom posts each event to your endpoints, signed per Standard Webhooks (svix and resend.webhooks.verify() check it)."
			/>
			{created ? (
				<ShownOnce title="Signing secret" value={created.signing_secret}>
					<p>
						<a href={`${BASE}/webhooks/${created.id}`}>Open the new endpoint</a>
					</p>
				</ShownOnce>
			) : null}
			<ListTable
				resource={list}
				what="webhook endpoints"
				empty="No endpoints yet."
				rowKey={(w) => w.id}
				columns={[
					{ header: "Endpoint", wrap: true, cell: (w) => <a href={`${BASE}/webhooks/${w.id}`}>{w.endpoint}</a> },
					{ header: "Events", wrap: true, cell: (w) => w.events.join(", ") },
					{ header: "Status", cell: (w) => <StatusBadge status={w.status} /> },
					{ header: "Created", cell: (w) => <Time iso={w.created_at} /> },
				]}
			/>
			<form class="card form" onSubmit={create} aria-labelledby="new-webhook-heading">
				<h2 id="new-webhook-heading">Add an endpoint</h2>
				<label for="webhook-endpoint">Endpoint URL</label>
				<input
					id="webhook-endpoint"
					type="url"
					required
					value={endpoint}
					placeholder="https://example.com/hooks/mailroom"
					onInput={(e) => setEndpoint(e.currentTarget.value)}
				/>
				<p class="hint">https:// on a public host (http:// and local hosts only with ALLOW_HTTP_WEBHOOKS=true).</p>
				<fieldset>
					<legend>Events</legend>
					<div class="checks">
						{WEBHOOK_EVENT_TYPES.map((type) => (
							<label key={type} class="inline">
								<input type="checkbox" checked={events.has(type)} onChange={(e) => toggle(type, e.currentTarget.checked)} /> {type}
							</label>
						))}
					</div>
				</fieldset>
				<Problem error={error} action="Endpoint not added" />
				<button class="button" type="submit">
					Add endpoint
				</button>
			</form>
		</>
	);
}
