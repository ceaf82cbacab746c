/** The operator's tenants (`GET /admin/tenants`, newest first) and a form to add one. */

import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { NEW_TENANT, TenantForm } from "../../components/tenant-form";
import { Loading, PageHeader, Pager, Problem, TableWrap, Time } from "../../components/ui";
import { formatNumber } from "../../format";
import { useCursorStack, useResource } from "../../hooks";
import { BASE } from "../../paths";
import { api } from "../../session";
import type { List, Tenant } from "../../types";

export function TenantsPage() {
	const { route } = useLocation();
	const pages = useCursorStack();
	const tenants = useResource(() => api.get<List<Tenant>>("/admin/tenants", { limit: 50, after: pages.after }), pages.after ?? "");
	const [adding, setAdding] = useState(false);

	return (
		<>
			<PageHeader title="Tenants" description="Everyone who sends through this Mailroom, with their limits.">
				<button type="button" class="button" aria-expanded={adding} onClick={() => setAdding(!adding)}>
					{adding ? "Close" : "Add a tenant"}
				</button>
			</PageHeader>
			{adding ? (
				<TenantForm
					idPrefix="new-tenant"
					initial={NEW_TENANT}
					submitLabel="Create tenant"
					onSubmit={async (settings) => {
						const tenant = await api.post<Tenant>("/admin/tenants", settings);
						route(`${BASE}/tenants/${tenant.id}`);
					}}
				/>
			) : null}
			<Problem error={tenants.error} action="Could not load tenants" />
			{!tenants.data && !tenants.error ? <Loading what="tenants" /> : null}
			{tenants.data ? (
				<TableWrap label="Tenants">
					<table>
						<thead>
							<tr>
								<th scope="col">Name</th>
								<th scope="col">Sender domains</th>
								<th scope="col" class="num">
									API rate
								</th>
								<th scope="col" class="num">
									Send rate
								</th>
								<th scope="col" class="num">
									Daily quota
								</th>
								<th scope="col">Providers</th>
								<th scope="col">Created</th>
							</tr>
						</thead>
						<tbody>
							{tenants.data.data.map((t) => (
								<tr key={t.id}>
									<td>
										<a href={`${BASE}/tenants/${t.id}`}>{t.name}</a>
									</td>
									<td class="wrap">{t.allowed_from_domains.join(", ")}</td>
									<td class="num">
										{t.api_rate.per_second}/s, burst {t.api_rate.burst}
									</td>
									<td class="num">
										{t.send_rate.per_second}/s, burst {t.send_rate.burst}
									</td>
									<td class="num">{formatNumber(t.daily_quota)}</td>
									<td>{t.providers?.join(" → ") ?? <span class="muted">deployment default</span>}</td>
									<td>
										<Time iso={t.created_at} />
									</td>
								</tr>
							))}
						</tbody>
					</table>
				</TableWrap>
			) : null}
			<Pager label="Tenant pages" onNewer={pages.back} onOlder={pages.forward(tenants.data?.data.at(-1)?.id, tenants.data?.has_more)} />
		</>
	);
}
