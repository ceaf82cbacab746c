/** Provider health as one table: circuit, current send rate, and whatever else the page knows about each provider. */
import { formatPercent } from "../format";
import type { Circuit } from "../types";
import { StatusBadge, TableWrap } from "./ui";

export type ProviderRow = {
	name: string;
	circuit: Circuit | null;
	ratePerSecond: number | null;
	/** /stats only (per tenant): failed attempts over all attempts in the last hour. */
	errorRate1h?: number | null;
	attempts1h?: number;
	reconcilable?: boolean;
	/** /health/ready only: credentials present. */
	ready?: boolean;
	missing?: string[];
};

/** What each circuit state means for sends. */
const CIRCUIT_HINTS: Record<Circuit, string> = {
	closed: "sending",
	open: "skipped: sends fail over",
	half_open: "one probe decides",
};

export function ProviderTable({ rows, label }: { rows: ProviderRow[]; label: string }) {
	const has = (key: keyof ProviderRow) => rows.some((r) => r[key] !== undefined);
	return (
		<TableWrap label={label}>
			<table>
				<thead>
					<tr>
						<th scope="col">Provider</th>
						<th scope="col">Circuit</th>
						<th scope="col" class="num">
							Rate (per s)
						</th>
						{has("errorRate1h") ? (
							<th scope="col" class="num">
								Error rate, 1 h
							</th>
						) : null}
						{has("attempts1h") ? (
							<th scope="col" class="num">
								Attempts, 1 h
							</th>
						) : null}
						{has("reconcilable") ? <th scope="col">Status lookups</th> : null}
						{has("ready") ? <th scope="col">Credentials</th> : null}
					</tr>
				</thead>
				<tbody>
					{rows.map((r) => (
						<tr key={r.name}>
							<th scope="row">{r.name}</th>
							<td>
								{r.circuit ? (
									<>
										<StatusBadge status={r.circuit} /> <span class="muted">{CIRCUIT_HINTS[r.circuit]}</span>
									</>
								) : (
									<span class="muted">—</span>
								)}
							</td>
							<td class="num">{r.ratePerSecond === null ? "unlimited" : r.ratePerSecond.toFixed(r.ratePerSecond < 10 ? 2 : 0)}</td>
							{has("errorRate1h") ? <td class="num">{formatPercent(r.errorRate1h ?? null)}</td> : null}
							{has("attempts1h") ? <td class="num">{r.attempts1h ?? 0}</td> : null}
							{has("reconcilable") ? <td>{r.reconcilable ? "yes" : "no"}</td> : null}
							{has("ready") ? <td>{r.ready ? "present" : `missing ${r.missing?.join(", ") || "?"}`}</td> : null}
						</tr>
					))}
				</tbody>
			</table>
		</TableWrap>
	);
}
