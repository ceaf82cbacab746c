/** Provider health as one table: what the page knows about each provider (circuits and rates for the operator only). */
import { formatPercent } from "../format";
import type { Circuit } from "../types";
import { type Column, DataTable } from "./table";
import { StatusBadge } from "./ui";

export type ProviderRow = {
	name: string;
	/** /metrics and /health/ready (operator): shared by every tenant, so never in a tenant's /stats. */
	circuit?: Circuit | null;
	ratePerSecond?: number | null;
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

const COLUMNS: (Column<ProviderRow> & { needs?: keyof ProviderRow })[] = [
	{ header: "Provider", rowHeader: true, cell: (r) => r.name },
	{
		header: "Circuit",
		needs: "circuit",
		cell: (r) =>
			r.circuit ? (
				<>
					<StatusBadge status={r.circuit} /> <span class="muted">{CIRCUIT_HINTS[r.circuit]}</span>
				</>
			) : (
				<span class="muted">—</span>
			),
	},
	{
		header: "Rate (per s)",
		numeric: true,
		needs: "ratePerSecond",
		cell: (r) =>
			r.ratePerSecond === undefined ? "—" : r.ratePerSecond === null ? "unlimited" : r.ratePerSecond.toFixed(r.ratePerSecond < 10 ? 2 : 0),
	},
	{ header: "Error rate, 1 h", numeric: true, needs: "errorRate1h", cell: (r) => formatPercent(r.errorRate1h ?? null) },
	{ header: "Attempts, 1 h", numeric: true, needs: "attempts1h", cell: (r) => r.attempts1h ?? 0 },
	{ header: "Status lookups", needs: "reconcilable", cell: (r) => (r.reconcilable ? "yes" : "no") },
	{ header: "Credentials", needs: "ready", cell: (r) => (r.ready ? "present" : `missing ${r.missing?.join(", ") || "?"}`) },
];

/** Only the columns some row has a value for: /stats and /metrics know different things. */
export function ProviderTable({ rows, label }: { rows: ProviderRow[]; label: string }) {
	const columns = COLUMNS.filter((c) => c.needs === undefined || rows.some((r) => r[c.needs as keyof ProviderRow] !== undefined));
	return <DataTable label={label} rows={rows} columns={columns} rowKey={(r) => r.name} />;
}
