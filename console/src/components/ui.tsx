/** Small building blocks shared by the pages: badges, notices, page headers, tables, paging, times. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { describeProblem } from "../api";
import { formatDateTime, formatNumber, formatRelative, statusLabel, statusTone } from "../format";

export function StatusBadge({ status }: { status: string }) {
	return <span class={`badge badge-${statusTone(status)}`}>{statusLabel(status)}</span>;
}

/** An API failure in words (role=alert, so screen readers announce it). */
export function Problem({ error, action }: { error: unknown; action?: string }) {
	if (error === undefined || error === null) return null;
	return (
		<div class="notice notice-bad" role="alert">
			{action ? <strong>{action}: </strong> : null}
			{describeProblem(error)}
		</div>
	);
}

export function Notice({ tone = "info", children }: { tone?: "info" | "good" | "warn"; children: ComponentChildren }) {
	return (
		<div class={`notice notice-${tone}`} role="status">
			{children}
		</div>
	);
}

export function Loading({ what }: { what: string }) {
	return (
		<p class="muted" aria-live="polite">
			Loading {what}…
		</p>
	);
}

/** The page's h1, its document title, and actions on the right. */
export function PageHeader({
	title,
	description,
	children,
}: {
	title: string;
	description?: ComponentChildren;
	children?: ComponentChildren;
}) {
	useEffect(() => {
		document.title = `${title} · Mailroom console`;
	}, [title]);
	return (
		<header class="page-header">
			<div>
				<h1>{title}</h1>
				{description ? <p class="muted">{description}</p> : null}
			</div>
			{children ? <div class="page-actions">{children}</div> : null}
		</header>
	);
}

/** A box that scrolls sideways (tables on narrow screens, long text): a labelled region reachable by keyboard. */
export function TableWrap({
	label,
	children,
	className = "table-wrap",
}: {
	label: string;
	children: ComponentChildren;
	className?: string;
}) {
	return (
		// biome-ignore lint/a11y/useSemanticElements: a <section> would add a landmark per table; a focusable region is the scroll-box pattern.
		// biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll by keyboard.
		<div class={className} role="region" aria-label={label} tabIndex={0}>
			{children}
		</div>
	);
}

export type Stat = { label: string; value: string; href?: string };

/** Numbers as labelled tiles; a tile with `href` links to the list behind the number. */
export function StatGrid({ stats, label }: { stats: Stat[]; label: string }) {
	return (
		<ul class="stat-grid" aria-label={label}>
			{stats.map((s) => {
				const body = (
					<>
						<span class="stat-label">{s.label}</span>
						<span class="stat-value">{s.value}</span>
					</>
				);
				return <li key={s.label}>{s.href ? <a href={s.href}>{body}</a> : <div class="stat">{body}</div>}</li>;
			})}
		</ul>
	);
}

/** `{status: count}` as tiles, statuses in words. */
export function statusStats(counts: Record<string, number>, href?: (status: string) => string): Stat[] {
	return Object.entries(counts).map(([status, n]) => ({
		label: statusLabel(status),
		value: formatNumber(n),
		...(href ? { href: href(status) } : {}),
	}));
}

export function Tags({ tags }: { tags: { name: string; value: string }[] }) {
	return (
		<>
			{tags.map((t) => (
				<span key={`${t.name}:${t.value}`} class="tag">
					{t.name}:{t.value}
				</span>
			))}
		</>
	);
}

export function Time({ iso }: { iso: string | null | undefined }) {
	if (!iso) return <span class="muted">—</span>;
	return (
		<time dateTime={iso} title={formatRelative(iso)}>
			{formatDateTime(iso)}
		</time>
	);
}

/** Two paging buttons; a missing handler disables its button. Nothing at all when neither way goes anywhere. */
export function Pager({
	label,
	onNewer,
	onOlder,
	labels = ["← Newer", "Older →"],
}: {
	label: string;
	onNewer?: (() => void) | undefined;
	onOlder?: (() => void) | undefined;
	labels?: [string, string];
}) {
	if (!onNewer && !onOlder) return null;
	return (
		<nav class="pager" aria-label={label}>
			<button type="button" class="button secondary" onClick={onNewer} disabled={!onNewer}>
				{labels[0]}
			</button>
			<button type="button" class="button secondary" onClick={onOlder} disabled={!onOlder}>
				{labels[1]}
			</button>
		</nav>
	);
}

/** Copies `text`; says so for screen readers too. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
	const [done, setDone] = useState(false);
	return (
		<button
			type="button"
			class="button secondary small"
			onClick={() => {
				navigator.clipboard?.writeText(text).then(
					() => setDone(true),
					() => setDone(false),
				);
			}}
		>
			{done ? "Copied" : label}
			<span class="visually-hidden" aria-live="polite">
				{done ? " to the clipboard" : ""}
			</span>
		</button>
	);
}

/** A secret shown exactly once (new API key, webhook signing secret). */
export function ShownOnce({ title, value, children }: { title: string; value: string; children?: ComponentChildren }) {
	return (
		<section class="notice notice-good shown-once" aria-label={title}>
			<h2>{title}</h2>
			<p>It is shown only now: copy it somewhere safe.</p>
			<p class="secret">
				<code>{value}</code> <CopyButton text={value} />
			</p>
			{children}
		</section>
	);
}
