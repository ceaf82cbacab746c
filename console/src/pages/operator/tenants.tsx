/** The operator's tenants (`GET /admin/tenants`, newest first) and a form to add one. */

import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ListTable } from "../../components/table";
import { NEW_TENANT, TenantForm } from "../../components/tenant-form";
import { PageHeader, Pager, Time } from "../../components/ui";
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
			<ListTable
				resource={tenants}
				what="tenants"
				empty="No tenants yet."
				rowKey={(t) => t.id}
				columns={[
					{ header: "Name", cell: (t) => <a href={`${BASE}/tenants/${t.id}`}>{t.name}</a> },
					{ header: "Sender domains", wrap: true, cell: (t) => t.allowed_from_domains.join(", ") },
					{ header: "API rate", numeric: true, cell: (t) => `${t.api_rate.per_second}/s, burst ${t.api_rate.burst}` },
					{ header: "Send rate", numeric: true, cell: (t) => `${t.send_rate.per_second}/s, burst ${t.send_rate.burst}` },
					{ header: "Daily quota", numeric: true, cell: (t) => formatNumber(t.daily_quota) },
					{ header: "Providers", cell: (t) => t.providers?.join(" → ") ?? <span class="muted">deployment default</span> },
					{ header: "Created", cell: (t) => <Time iso={t.created_at} /> },
				]}
			/>
			<Pager label="Tenant pages" onNewer={pages.back} onOlder={pages.forward(tenants.data?.data.at(-1)?.id, tenants.data?.has_more)} />
		</>
	);
}
