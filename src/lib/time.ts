/** Time parsing for `scheduled_at`: ISO 8601, or Resend's natural language `in N minutes|hours|days`. */

const RELATIVE = /^in\s+(\d{1,6})\s*(second|sec|minute|min|hour|hr|day)s?$/i;
const UNIT_MS: Record<string, number> = {
	second: 1000,
	sec: 1000,
	minute: 60_000,
	min: 60_000,
	hour: 3_600_000,
	hr: 3_600_000,
	day: 86_400_000,
};
/** An ISO 8601 date-time with an explicit offset or Z; a bare date or local time is ambiguous, so refused. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * The epoch milliseconds `input` names, or null when it is neither form.
 *
 * @example
 * parseScheduleTime("in 2 hours", Date.parse("2026-01-01T00:00:00Z")) // 1767232800000
 * parseScheduleTime("2026-08-05T11:52:01.858Z", now)                  // 1786017121858
 */
export function parseScheduleTime(input: string, now: number): number | null {
	const text = input.trim();
	const relative = RELATIVE.exec(text);
	if (relative) {
		const unit = UNIT_MS[(relative[2] ?? "").toLowerCase()];
		return unit === undefined ? null : now + Number(relative[1]) * unit;
	}
	if (!ISO_DATE_TIME.test(text)) return null;
	const ms = Date.parse(text.replace(" ", "T"));
	return Number.isFinite(ms) ? ms : null;
}

export function iso(ms: number): string {
	return new Date(ms).toISOString();
}

export function isoOrNull(ms: number | null): string | null {
	return ms === null ? null : iso(ms);
}
