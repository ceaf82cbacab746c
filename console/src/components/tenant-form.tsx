/**
 * A tenant's settings as a form: name, allowed sender domains, rate limits, daily quota and providers. Used to
 * create a tenant (`POST /admin/tenants`) and to change one (`PATCH /admin/tenants/:id`).
 */
import { useState } from "preact/hooks";
import { TENANT_DEFAULTS } from "../catalog";
import { useProviderNames } from "../hooks";
import type { Rate, Tenant } from "../types";
import { Problem } from "./ui";

export type TenantSettings = Pick<Tenant, "name" | "allowed_from_domains" | "api_rate" | "send_rate" | "daily_quota" | "providers">;

/** A new tenant's form starts from the admin API's defaults. */
export const NEW_TENANT: TenantSettings = { ...TENANT_DEFAULTS, name: "", allowed_from_domains: [], providers: null };

export function settingsOf(tenant: Tenant): TenantSettings {
	const { name, allowed_from_domains, api_rate, send_rate, daily_quota, providers } = tenant;
	return { name, allowed_from_domains, api_rate, send_rate, daily_quota, providers };
}

function NumberField({
	id,
	label,
	value,
	onChange,
	step = "1",
}: {
	id: string;
	label: string;
	value: number;
	onChange: (n: number) => void;
	step?: string;
}) {
	return (
		<div class="field">
			<label for={id}>{label}</label>
			<input id={id} type="number" min="0" step={step} value={value} onInput={(e) => onChange(Number(e.currentTarget.value))} />
		</div>
	);
}

/** A token bucket: a steady rate and the burst it allows. */
function RateFields({
	idPrefix,
	legend,
	perSecondLabel,
	rate,
	onChange,
}: {
	idPrefix: string;
	legend: string;
	perSecondLabel: string;
	rate: Rate;
	onChange: (rate: Rate) => void;
}) {
	return (
		<fieldset>
			<legend>{legend}</legend>
			<div class="row">
				<NumberField
					id={`${idPrefix}-rate`}
					label={perSecondLabel}
					step="any"
					value={rate.per_second}
					onChange={(n) => onChange({ ...rate, per_second: n })}
				/>
				<NumberField id={`${idPrefix}-burst`} label="Burst" value={rate.burst} onChange={(n) => onChange({ ...rate, burst: n })} />
			</div>
		</fieldset>
	);
}

export function TenantForm({
	initial,
	submitLabel,
	onSubmit,
	idPrefix,
}: {
	initial: TenantSettings;
	submitLabel: string;
	onSubmit: (settings: TenantSettings) => Promise<void>;
	idPrefix: string;
}) {
	const [s, setS] = useState(initial);
	const providerNames = useProviderNames();
	const [domains, setDomains] = useState(initial.allowed_from_domains.join(", "));
	const [error, setError] = useState<unknown>(undefined);
	const [busy, setBusy] = useState(false);
	const id = (name: string) => `${idPrefix}-${name}`;

	const submit = async (event: Event) => {
		event.preventDefault();
		setBusy(true);
		setError(undefined);
		try {
			await onSubmit({
				...s,
				name: s.name.trim(),
				allowed_from_domains: domains
					.split(/[\s,]+/)
					.map((d) => d.trim())
					.filter(Boolean),
			});
		} catch (err) {
			setError(err);
		} finally {
			setBusy(false);
		}
	};

	const toggleProvider = (name: string, on: boolean) => {
		const current = s.providers ?? [];
		const next = on ? [...current, name] : current.filter((p) => p !== name);
		setS({ ...s, providers: next.length > 0 ? next : null });
	};

	return (
		<form class="card form" onSubmit={submit} aria-label={submitLabel}>
			<label for={id("name")}>Name</label>
			<input id={id("name")} required value={s.name} onInput={(e) => setS({ ...s, name: e.currentTarget.value })} />
			<label for={id("domains")}>Allowed sender domains (optional)</label>
			<input
				id={id("domains")}
				value={domains}
				placeholder="example.com, mail.example.com"
				onInput={(e) => setDomains(e.currentTarget.value)}
			/>
			<p class="hint">
				Pre-verified: the tenant may send from these domains and their subdomains without verifying them. Otherwise it adds and verifies its
				own domains (<code>/domains</code>). Separate with commas.
			</p>
			<RateFields
				idPrefix={id("api")}
				legend="API requests"
				perSecondLabel="Per second"
				rate={s.api_rate}
				onChange={(api_rate) => setS({ ...s, api_rate })}
			/>
			<RateFields
				idPrefix={id("send")}
				legend="Sending pace"
				perSecondLabel="Emails per second"
				rate={s.send_rate}
				onChange={(send_rate) => setS({ ...s, send_rate })}
			/>
			<NumberField
				id={id("quota")}
				label="Daily quota (emails per UTC day)"
				value={s.daily_quota}
				onChange={(n) => setS({ ...s, daily_quota: n })}
			/>
			<fieldset>
				<legend>Providers, in failover order</legend>
				<p class="hint">None checked: the deployment's PROVIDERS. Checked ones are tried in the order checked.</p>
				<div class="checks">
					{providerNames.map((p) => (
						<label key={p} class="inline">
							<input
								type="checkbox"
								checked={s.providers?.includes(p) ?? false}
								onChange={(e) => toggleProvider(p, e.currentTarget.checked)}
							/>{" "}
							{p}
							{s.providers?.includes(p) ? <span class="muted"> (#{s.providers.indexOf(p) + 1})</span> : null}
						</label>
					))}
				</div>
			</fieldset>
			<Problem error={error} action="Not saved" />
			<button class="button" type="submit" disabled={busy}>
				{busy ? "Saving…" : submitLabel}
			</button>
		</form>
	);
}
