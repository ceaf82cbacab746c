/** Words and numbers as the console shows them. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function formatDateTime(iso: string | null | undefined): string {
	if (!iso) return "—";
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** "3 minutes ago", "in 2 hours". */
export function formatRelative(iso: string, now = Date.now()): string {
	const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
	const abs = Math.abs(seconds);
	if (abs < 60) return relative.format(seconds, "second");
	if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
	if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
	return relative.format(Math.round(seconds / 86_400), "day");
}

export function formatSeconds(seconds: number): string {
	if (seconds < 120) return `${seconds} s`;
	if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
	if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
	return `${Math.round(seconds / 86_400)} days`;
}

export function formatNumber(n: number): string {
	return n.toLocaleString();
}

export function formatPercent(ratio: number | null): string {
	return ratio === null ? "—" : `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)} %`;
}

/** Statuses still moving towards a final one (the console polls while it sees them). */
export const MOVING_STATUSES = new Set(["queued", "sending", "sent", "delivery_delayed", "uncertain"]);

const STATUS_WORDS: Record<string, string> = {
	scheduled: "Scheduled",
	queued: "Queued",
	sending: "Sending",
	sent: "Sent",
	delivery_delayed: "Delayed",
	delivered: "Delivered",
	bounced: "Bounced",
	complained: "Complained",
	failed: "Failed",
	canceled: "Canceled",
	uncertain: "Uncertain",
	opened: "Opened",
	clicked: "Clicked",
	attempt_failed: "Attempt failed",
	rescheduled: "Rescheduled",
	pending: "Pending",
	succeeded: "Succeeded",
	enabled: "Enabled",
	disabled: "Disabled",
};

export function statusLabel(status: string): string {
	return STATUS_WORDS[status] ?? status.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

/** The colour family of a status badge; the badge always shows the word too. */
export function statusTone(status: string): "good" | "bad" | "warn" | "info" | "muted" {
	if (["delivered", "succeeded", "enabled", "opened", "clicked", "closed", "ready"].includes(status)) return "good";
	if (["bounced", "complained", "failed", "open", "disabled", "not_ready"].includes(status)) return "bad";
	if (["delivery_delayed", "uncertain", "attempt_failed", "half_open"].includes(status)) return "warn";
	if (["canceled"].includes(status)) return "muted";
	return "info";
}

const DETAIL_WORDS: Record<string, string> = {
	attempt: "Attempt",
	retry_in_seconds: "Retry in",
	failover_to: "Fails over to",
	error: "Error",
	error_kind: "Kind of error",
	status: "Provider status",
	code: "Provider code",
	reason: "Reason",
	provider_message_id: "Provider message id",
	replayed_from: "Replayed from dead letter",
	provider: "Provider",
	bounce: "Bounce",
	recipient: "Recipient",
	scheduled_at: "Scheduled for",
	url: "URL",
};

/** An event's detail as labelled lines, in a stable order: the ones people look for first. */
export function describeDetail(detail: Record<string, unknown> | null): { label: string; value: string }[] {
	if (!detail) return [];
	const order = Object.keys(DETAIL_WORDS);
	return Object.entries(detail)
		.sort(([a], [b]) => (order.indexOf(a) === -1 ? 99 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 99 : order.indexOf(b)))
		.map(([key, value]) => ({
			label: DETAIL_WORDS[key] ?? key.replace(/_/g, " "),
			value:
				key === "retry_in_seconds" && typeof value === "number"
					? formatSeconds(value)
					: typeof value === "string"
						? value
						: JSON.stringify(value),
		}));
}
