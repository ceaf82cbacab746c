/**
 * The deployment's health for the operator: provider circuits and send rates and the totals from `GET /metrics`
 * (all tenants), plus readiness from `GET /health/ready` (credentials present, circuit). Error rates are per
 * tenant, on each tenant's Health page (`GET /stats`).
 */
import { ProviderTable } from "../../components/providers";
import { Loading, PageHeader, Problem, StatGrid, statusStats } from "../../components/ui";
import { formatNumber, formatSeconds } from "../../format";
import { useResource } from "../../hooks";
import { byLabel, parseMetrics, single } from "../../metrics";
import { api, getSession } from "../../session";
import type { Circuit, Readiness } from "../../types";

const REFRESH_MS = 10_000;

/** /health/ready answers 503 with the same body when not ready: both are an answer here. Details need the admin token. */
async function readiness(): Promise<Readiness | null> {
	const token = getSession()?.token;
	const res = await fetch("/health/ready", { cache: "no-store", headers: token ? { authorization: `Bearer ${token}` } : {} });
	return res.status === 200 || res.status === 503 ? ((await res.json()) as Readiness) : null;
}

function circuitOf(value: number | undefined): Circuit | null {
	if (value === undefined) return null;
	return value >= 1 ? "open" : value > 0 ? "half_open" : "closed";
}

export function ProvidersPage() {
	const data = useResource(
		async () => {
			const [metrics, ready] = await Promise.all([api.text("/metrics"), readiness().catch(() => null)]);
			return { samples: parseMetrics(metrics), ready };
		},
		"providers",
		{ refreshMs: () => REFRESH_MS },
	);
	const samples = data.data?.samples;
	const ready = data.data?.ready;
	const circuits = samples ? byLabel(samples, "mailroom_provider_circuit_open", "provider") : {};
	const rates = samples ? byLabel(samples, "mailroom_provider_rate_per_second", "provider") : {};
	const checks = ready?.checks;
	const names = [...new Set([...Object.keys(circuits), ...Object.keys(checks?.providers ?? {})])];
	const emails = samples ? byLabel(samples, "mailroom_open_emails", "status") : {};
	const deliveries = samples ? byLabel(samples, "mailroom_webhook_deliveries", "status") : {};
	const oldest = samples ? single(samples, "mailroom_pending_oldest_age_seconds") : null;

	return (
		<>
			<PageHeader title="Providers" description="The whole deployment, all tenants. Refreshes every 10 seconds." />
			<Problem error={data.error} action="Could not load metrics" />
			{!samples && !data.error ? <Loading what="metrics" /> : null}
			{samples ? (
				<>
					{ready ? (
						<p class="status-line">
							Readiness:{" "}
							<span class={`badge badge-${ready.status === "ready" ? "good" : "bad"}`}>
								{ready.status === "ready" ? "Ready" : "Not ready"}
							</span>{" "}
							{checks ? <span class="muted">D1 {checks.d1.ok ? "answers" : `fails: ${checks.d1.error ?? "unknown error"}`}</span> : null}
						</p>
					) : null}
					<section aria-labelledby="provider-heading">
						<h2 id="provider-heading">Providers</h2>
						<ProviderTable
							label="Providers"
							rows={names.map((name) => ({
								name,
								circuit: circuitOf(circuits[name]) ?? checks?.providers[name]?.circuit ?? null,
								ratePerSecond: rates[name] === undefined || rates[name] === 0 ? null : (rates[name] ?? null),
								...(checks?.providers[name] ? { ready: checks.providers[name].ready, missing: checks.providers[name].missing } : {}),
							}))}
						/>
					</section>
					<section aria-labelledby="totals-heading">
						<h2 id="totals-heading">Totals</h2>
						<StatGrid
							label="Totals"
							stats={[
								{ label: "Tenants", value: formatNumber(single(samples, "mailroom_tenants") ?? 0) },
								{ label: "Dead letters not replayed", value: formatNumber(single(samples, "mailroom_dead_letters") ?? 0) },
								{ label: "Oldest pending email", value: oldest ? formatSeconds(oldest) : "none" },
								{ label: "Unmatched provider events", value: formatNumber(single(samples, "mailroom_unmatched_provider_events") ?? 0) },
							]}
						/>
					</section>
					<section aria-labelledby="emails-heading">
						<h2 id="emails-heading">Open emails by status</h2>
						<StatGrid label="Open emails by status" stats={statusStats(emails)} />
					</section>
					<section aria-labelledby="deliveries-heading">
						<h2 id="deliveries-heading">Webhook deliveries by status</h2>
						<StatGrid label="Webhook deliveries by status" stats={statusStats(deliveries)} />
					</section>
				</>
			) : null}
		</>
	);
}
