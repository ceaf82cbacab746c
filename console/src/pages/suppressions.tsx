/**
 * Suppressions (`/suppressions`): addresses Mailroom refuses to send to (422 on send). Hard bounces and complaints
 * add themselves; people add and remove them here. Listed alphabetically, paged by the last address.
 */
import { useState } from "preact/hooks";
import { ListTable } from "../components/table";
import { Notice, PageHeader, Pager, Problem, Time } from "../components/ui";
import { useCursorStack, useResource } from "../hooks";
import { api } from "../session";
import type { List, Suppression } from "../types";

export function SuppressionsPage() {
	const pages = useCursorStack();
	const after = pages.after;
	const list = useResource(() => api.get<List<Suppression>>("/suppressions", { limit: 50, after }), after ?? "");
	const [email, setEmail] = useState("");
	const [reason, setReason] = useState("");
	const [error, setError] = useState<unknown>(undefined);
	const [done, setDone] = useState<string | null>(null);

	const add = async (event: Event) => {
		event.preventDefault();
		setError(undefined);
		setDone(null);
		try {
			const row = await api.post<Suppression>("/suppressions", {
				email: email.trim(),
				...(reason.trim() ? { reason: reason.trim() } : {}),
			});
			setDone(`${row.email} is suppressed.`);
			setEmail("");
			setReason("");
			list.reload();
		} catch (err) {
			setError(err);
		}
	};

	const remove = async (address: string) => {
		setError(undefined);
		setDone(null);
		try {
			await api.delete(`/suppressions/${encodeURIComponent(address)}`);
			setDone(`${address} was removed: Mailroom sends to it again.`);
			list.reload();
		} catch (err) {
			setError(err);
		}
	};

	return (
		<>
			<PageHeader title="Suppressions" description="Addresses Mailroom will not send to. A send to one of them is refused with 422." />
			<form class="card form inline-form" onSubmit={add} aria-label="Suppress an address">
				<div class="field">
					<label for="suppress-email">Address</label>
					<input id="suppress-email" type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
				</div>
				<div class="field">
					<label for="suppress-reason">Reason (optional)</label>
					<input id="suppress-reason" value={reason} placeholder="manual" onInput={(e) => setReason(e.currentTarget.value)} />
				</div>
				<div class="field actions">
					<button class="button" type="submit">
						Suppress
					</button>
				</div>
			</form>
			{done ? <Notice tone="good">{done}</Notice> : null}
			<Problem error={error} />
			<ListTable
				resource={list}
				what="suppressed addresses"
				empty={`No suppressed addresses${after ? " on this page" : ""}.`}
				rowKey={(s) => s.email}
				columns={[
					{ header: "Address", cell: (s) => s.email },
					{ header: "Reason", cell: (s) => s.reason },
					{ header: "Source", wrap: true, cell: (s) => s.source },
					{ header: "Since", cell: (s) => <Time iso={s.created_at} /> },
					{
						header: "Actions",
						hiddenHeader: true,
						cell: (s) => (
							<button type="button" class="button secondary small" aria-label={`Remove ${s.email}`} onClick={() => remove(s.email)}>
								Remove
							</button>
						),
					},
				]}
			/>
			<Pager
				label="Suppression pages"
				onNewer={pages.back}
				onOlder={pages.forward(list.data?.data.at(-1)?.email, list.data?.has_more)}
				labels={["← Previous", "Next →"]}
			/>
		</>
	);
}
