/**
 * Dead letters (`/dead-letters`): emails that ran out of attempts. Replay (`POST /dead-letters/:id/replay`) sends
 * one again from a fresh attempt count, through the usual failover order or a provider chosen here.
 */
import { useState } from "preact/hooks";
import { ListTable } from "../components/table";
import { Notice, PageHeader, Pager, Problem, Time } from "../components/ui";
import { useCursorStack, useProviderNames, useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { DeadLetter, List, Stats } from "../types";

function ReplayControl({
	letter,
	providers,
	onDone,
}: {
	letter: DeadLetter;
	providers: readonly string[];
	onDone: (message: string) => void;
}) {
	const [provider, setProvider] = useState("");
	const [error, setError] = useState<unknown>(undefined);
	const [busy, setBusy] = useState(false);
	const id = `replay-provider-${letter.id}`;
	const replay = async () => {
		setBusy(true);
		setError(undefined);
		try {
			await api.post(`/dead-letters/${letter.id}/replay`, provider ? { provider } : {});
			onDone(`Email ${letter.email_id} is queued again${provider ? ` through ${provider}` : ""}.`);
		} catch (err) {
			setError(err);
		} finally {
			setBusy(false);
		}
	};
	return (
		<div class="replay">
			<label for={id} class="visually-hidden">
				Provider for the replay of {letter.email_id}
			</label>
			<select id={id} value={provider} onChange={(e) => setProvider(e.currentTarget.value)}>
				<option value="">Usual failover order</option>
				{providers.map((p) => (
					<option key={p} value={p}>
						Only {p}
					</option>
				))}
			</select>
			<button type="button" class="button small" disabled={busy} onClick={replay}>
				{busy ? "Replaying…" : "Replay"}
			</button>
			<Problem error={error} action="Replay refused" />
		</div>
	);
}

export function DeadLettersPage() {
	const pages = useCursorStack();
	const after = pages.after;
	const list = useResource(() => api.get<List<DeadLetter>>("/dead-letters", { limit: 50, after }), after ?? "");
	// The tenant's providers, in failover order, for the replay choice; all known ones if /stats is unavailable.
	const stats = useResource(() => api.get<Stats>("/stats"), "stats");
	const known = useProviderNames();
	const providers = stats.data ? Object.keys(stats.data.providers) : known;
	const [done, setDone] = useState<string | null>(null);

	return (
		<>
			<PageHeader
				title="Dead letters"
				description="Emails that ran out of delivery attempts. Replay sends one again, from a fresh attempt count."
			/>
			{done ? <Notice tone="good">{done}</Notice> : null}
			<ListTable
				resource={list}
				what="dead letters"
				empty="No dead letters. Emails that exhaust their attempts show up here."
				rowKey={(letter) => letter.id}
				columns={[
					{
						header: "Email",
						cell: (letter) => (letter.email_id ? <a href={`${BASE}/emails/${letter.email_id}`}>{letter.email_id.slice(0, 8)}…</a> : "—"),
					},
					{ header: "Reason", cell: (letter) => letter.reason.replace(/_/g, " ") },
					{ header: "Last provider", cell: (letter) => letter.provider ?? "—" },
					{ header: "Attempts", numeric: true, cell: (letter) => letter.attempts },
					{ header: "Last error", wrap: true, cell: (letter) => letter.last_error ?? "—" },
					{ header: "Dead since", cell: (letter) => <Time iso={letter.created_at} /> },
					{
						header: "Replay",
						cell: (letter) =>
							letter.replayed_at ? (
								<span>
									Replayed <Time iso={letter.replayed_at} />
								</span>
							) : letter.email_id ? (
								<ReplayControl
									letter={letter}
									providers={providers}
									onDone={(message) => {
										setDone(message);
										list.reload();
									}}
								/>
							) : (
								<span class="muted">No email to replay</span>
							),
					},
				]}
			/>
			<Pager label="Dead letter pages" onNewer={pages.back} onOlder={pages.forward(list.data?.data.at(-1)?.id, list.data?.has_more)} />
		</>
	);
}
