/**
 * Webhook endpoints (`/webhooks`): where Mailroom posts signed `email.*` events. Creating one shows its `whsec_…`
 * signing secret once; each endpoint's page lists its deliveries and their attempts.
 */
import { useState } from "preact/hooks";
import { WEBHOOK_EVENT_TYPES } from "../catalog";
import { Loading, PageHeader, Problem, ShownOnce, StatusBadge, TableWrap, Time } from "../components/ui";
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
			<Problem error={list.error} action="Could not load webhooks" />
			{!list.data && !list.error ? <Loading what="webhooks" /> : null}
			{list.data ? (
				list.data.data.length === 0 ? (
					<p class="muted">No endpoints yet.</p>
				) : (
					<TableWrap label="Webhook endpoints">
						<table>
							<thead>
								<tr>
									<th scope="col">Endpoint</th>
									<th scope="col">Events</th>
									<th scope="col">Status</th>
									<th scope="col">Created</th>
								</tr>
							</thead>
							<tbody>
								{list.data.data.map((w) => (
									<tr key={w.id}>
										<td class="wrap">
											<a href={`${BASE}/webhooks/${w.id}`}>{w.endpoint}</a>
										</td>
										<td class="wrap">{w.events.join(", ")}</td>
										<td>
											<StatusBadge status={w.status} />
										</td>
										<td>
											<Time iso={w.created_at} />
										</td>
									</tr>
								))}
							</tbody>
						</table>
					</TableWrap>
				)
			) : null}
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
