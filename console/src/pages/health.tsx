/** The tenant's sending at a glance (`GET /stats`): emails by status, what is waiting, and provider health. */
import { ProviderTable } from "../components/providers";
import { Loading, PageHeader, Problem, StatGrid, statusStats } from "../components/ui";
import { formatNumber, formatSeconds } from "../format";
import { useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { Stats } from "../types";

const REFRESH_MS = 10_000;

export function HealthPage() {
	const stats = useResource(() => api.get<Stats>("/stats"), "stats", { refreshMs: () => REFRESH_MS });
	const data = stats.data;
	return (
		<>
			<PageHeader title="Health" description="Your emails by status and the providers they go through. Refreshes every 10 seconds." />
			<Problem error={stats.error} action="Could not load stats" />
			{!data && !stats.error ? <Loading what="stats" /> : null}
			{data ? (
				<>
					<section class="card" aria-labelledby="pending-heading">
						<h2 id="pending-heading">Waiting to be sent</h2>
						<p class="big-number">{formatNumber(data.pending.count)}</p>
						<p class="muted">
							{data.pending.oldest_age_seconds === null
								? "Nothing is waiting."
								: `The oldest has waited ${formatSeconds(data.pending.oldest_age_seconds)}.`}
						</p>
					</section>
					<section aria-labelledby="by-status-heading">
						<h2 id="by-status-heading">Emails by status</h2>
						<StatGrid label="Emails by status" stats={statusStats(data.emails, (status) => `${BASE}/emails?status=${status}`)} />
					</section>
					<section aria-labelledby="providers-heading">
						<h2 id="providers-heading">Providers, in failover order</h2>
						<ProviderTable
							label="Providers"
							rows={Object.entries(data.providers).map(([name, p]) => ({
								name,
								errorRate1h: p.error_rate_1h,
								attempts1h: p.attempts_1h,
								reconcilable: p.reconcilable,
							}))}
						/>
					</section>
				</>
			) : null}
		</>
	);
}
