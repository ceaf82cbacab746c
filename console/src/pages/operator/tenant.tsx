/** One tenant for the operator: its settings and limits (`PATCH /admin/tenants/:id`) and its API keys. */

import { useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { ApiKeyManager } from "../../components/api-keys";
import { settingsOf, TenantForm } from "../../components/tenant-form";
import { Loading, Notice, PageHeader, Problem } from "../../components/ui";
import { useResource } from "../../hooks";
import { BASE } from "../../paths";
import { api } from "../../session";
import type { Tenant } from "../../types";

export function TenantPage() {
	const { params } = useRoute();
	const id = params.id ?? "";
	const tenant = useResource(() => api.get<Tenant>(`/admin/tenants/${id}`), id);
	const [saved, setSaved] = useState<string | null>(null);

	return (
		<>
			<PageHeader title={tenant.data?.name ?? "Tenant"} description={<a href={`${BASE}/tenants`}>← All tenants</a>} />
			<Problem error={tenant.error} action="Could not load the tenant" />
			{!tenant.data && !tenant.error ? <Loading what="the tenant" /> : null}
			{tenant.data ? (
				<div class="grid-2">
					<section aria-labelledby="settings-heading">
						<h2 id="settings-heading">Settings and limits</h2>
						<p class="muted">
							Id <code>{tenant.data.id}</code>
						</p>
						{saved ? <Notice tone="good">{saved}</Notice> : null}
						<TenantForm
							key={tenant.data.updated_at}
							idPrefix="tenant"
							initial={settingsOf(tenant.data)}
							submitLabel="Save changes"
							onSubmit={async (settings) => {
								setSaved(null);
								await api.patch<Tenant>(`/admin/tenants/${id}`, settings);
								setSaved("Saved.");
								tenant.reload();
							}}
						/>
					</section>
					<section aria-labelledby="keys-heading">
						<h2 id="keys-heading">API keys</h2>
						<ApiKeyManager
							paths={{
								list: `/admin/tenants/${id}/api-keys`,
								create: `/admin/tenants/${id}/api-keys`,
								revoke: (keyId) => `/admin/api-keys/${keyId}`,
							}}
						/>
					</section>
				</div>
			) : null}
		</>
	);
}
