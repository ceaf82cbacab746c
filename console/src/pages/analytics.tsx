/**
 * Analytics (`GET /analytics`): sent, delivered, bounced and complained per hour or per day, as a chart and as a
 * table with the same numbers. Filters by tag, and by template once the API has templates.
 */

import { useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { type ChartSeries, TimeChart } from "../components/chart";
import { DataTable } from "../components/table";
import { Loading, PageHeader, Problem } from "../components/ui";
import { formatNumber } from "../format";
import { useApiHas, useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { Analytics, List, TemplateListItem } from "../types";

const RANGES = {
	"24h": { label: "Last 24 hours, by hour", hours: 24, group_by: "hour" },
	"7d": { label: "Last 7 days, by day", hours: 24 * 7, group_by: "day" },
	"30d": { label: "Last 30 days, by day", hours: 24 * 30, group_by: "day" },
} as const;
type RangeKey = keyof typeof RANGES;

const SERIES = [
	{ key: "sent", label: "Sent", colorVar: "--chart-sent" },
	{ key: "delivered", label: "Delivered", colorVar: "--chart-delivered" },
	{ key: "bounced", label: "Bounced", colorVar: "--chart-bounced" },
	{ key: "complained", label: "Complained", colorVar: "--chart-complained" },
] as const;

const HOUR_MS = 3_600_000;

type Bucket = Analytics["data"][number];

function rangeWindow(range: RangeKey): { from: string; to: string } {
	const { hours, group_by } = RANGES[range];
	// The end is the start of the next bucket, so the current hour or day is included whole.
	const size = group_by === "hour" ? HOUR_MS : 24 * HOUR_MS;
	const to = Math.ceil((Date.now() + 1) / size) * size;
	return { from: new Date(to - hours * HOUR_MS).toISOString(), to: new Date(to).toISOString() };
}

function bucketLabel(iso: string, groupBy: "hour" | "day"): string {
	const d = new Date(iso);
	return groupBy === "hour"
		? d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
		: d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

function TemplateFilter({ value, onChange }: { value: string; onChange: (v: string) => void }) {
	const templates = useResource(() => api.get<List<TemplateListItem>>("/templates", { limit: 100 }), "templates");
	if (!templates.data) return null;
	return (
		<div class="field">
			<label for="analytics-template">Template</label>
			<select id="analytics-template" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
				<option value="">Any template</option>
				{templates.data.data.map((t) => (
					<option key={t.id} value={t.id}>
						{t.name}
					</option>
				))}
			</select>
		</div>
	);
}

export function AnalyticsPage() {
	const { query, route } = useLocation();
	const range: RangeKey = query.range && query.range in RANGES ? (query.range as RangeKey) : "24h";
	const tag = query.tag ?? "";
	const templateId = query.template_id ?? "";
	const hasTemplates = useApiHas(/^\/templates$/);
	const [form, setForm] = useState({ range, tag, templateId });
	const key = JSON.stringify({ range, tag, templateId });
	const analytics = useResource(
		() => api.get<Analytics>("/analytics", { ...rangeWindow(range), group_by: RANGES[range].group_by, tag, template_id: templateId }),
		key,
	);

	const data = analytics.data;
	const series: ChartSeries[] = useMemo(
		() => SERIES.map((s) => ({ label: s.label, colorVar: s.colorVar, values: data?.data.map((b) => b.counts[s.key] ?? 0) ?? [] })),
		[data],
	);
	const times = useMemo(() => data?.data.map((b) => b.start) ?? [], [data]);
	const totals = SERIES.map((s, i) => ({ ...s, total: series[i]?.values.reduce((a, b) => a + b, 0) ?? 0 }));
	const anything = totals.some((t) => t.total > 0);

	const apply = (event: Event) => {
		event.preventDefault();
		const params = new URLSearchParams({ range: form.range });
		if (form.tag.trim()) params.set("tag", form.tag.trim());
		if (form.templateId) params.set("template_id", form.templateId);
		route(`${BASE}/analytics?${params}`);
	};

	return (
		<>
			<PageHeader title="Analytics" description="What happened to your emails over time, counted from their events." />
			<form class="filters card" onSubmit={apply} aria-label="Analytics range and filters">
				<div class="field">
					<label for="analytics-range">Range</label>
					<select id="analytics-range" value={form.range} onChange={(e) => setForm({ ...form, range: e.currentTarget.value as RangeKey })}>
						{Object.entries(RANGES).map(([k, r]) => (
							<option key={k} value={k}>
								{r.label}
							</option>
						))}
					</select>
				</div>
				<div class="field">
					<label for="analytics-tag">Tag</label>
					<input
						id="analytics-tag"
						value={form.tag}
						placeholder="name or name:value"
						onInput={(e) => setForm({ ...form, tag: e.currentTarget.value })}
					/>
				</div>
				{hasTemplates ? <TemplateFilter value={form.templateId} onChange={(v) => setForm({ ...form, templateId: v })} /> : null}
				<div class="field actions">
					<button class="button" type="submit">
						Show
					</button>
				</div>
			</form>
			<Problem error={analytics.error} action="Could not load analytics" />
			{!data && !analytics.error ? <Loading what="analytics" /> : null}
			{data ? (
				<>
					<ul class="totals" aria-label="Totals for the range">
						{totals.map((t) => (
							<li key={t.key} style={{ "--swatch": `var(${t.colorVar})` }}>
								<span class="swatch" aria-hidden="true" />
								<span class="total-label">{t.label}</span> <strong>{formatNumber(t.total)}</strong>
							</li>
						))}
					</ul>
					<section class="card" aria-labelledby="chart-heading">
						<h2 id="chart-heading">{RANGES[range].label}</h2>
						<TimeChart
							times={times}
							series={series}
							caption={
								anything
									? `${totals.map((t) => `${t.label} ${formatNumber(t.total)}`).join(", ")}. The table below has every ${data.group_by}.`
									: "Nothing was sent in this range."
							}
						/>
					</section>
					<details class="card">
						<summary>
							The numbers, {data.group_by} by {data.group_by}
						</summary>
						<DataTable
							label="Analytics numbers"
							rows={data.data.filter((b) => SERIES.some((s) => (b.counts[s.key] ?? 0) > 0))}
							rowKey={(b) => b.start}
							columns={[
								{ header: data.group_by === "hour" ? "Hour" : "Day", rowHeader: true, cell: (b) => bucketLabel(b.start, data.group_by) },
								...SERIES.map((s) => ({ header: s.label, numeric: true, cell: (b: Bucket) => formatNumber(b.counts[s.key] ?? 0) })),
							]}
						/>
						<p class="muted">Only {data.group_by === "hour" ? "hours" : "days"} with something in them are listed.</p>
					</details>
				</>
			) : null}
		</>
	);
}
