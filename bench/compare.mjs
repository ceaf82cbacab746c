#!/usr/bin/env node
/**
 * The change of each benchmark number between two results.json files, as a table; `npm run bench -- --compare` uses
 * it against the committed bench/results.json. Alone: `node bench/compare.mjs [before.json] [after.json]
 * [--threshold 10]` (defaults: the committed file, i.e. `git show HEAD:bench/results.json`, and the working copy).
 *
 * Which way is better is read from the metric's name: throughput (`rps`, `per_second`, rps-like ratios) should go up;
 * time, CPU, calls, rows, bytes and money should go down. A change for the worse beyond the threshold (percent) is
 * flagged. Numbers of neither kind (dates, counts of emails) and per-round lists are not compared.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Numeric leaves as dotted paths; arrays (per-round details, top lists) are skipped. */
export function flatten(value, prefix = "", out = {}) {
	if (typeof value === "number" && Number.isFinite(value)) out[prefix] = value;
	else if (value && typeof value === "object" && !Array.isArray(value)) {
		for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out);
	}
	return out;
}

const HIGHER = /(^|[._])(rps|emails_per_second|requests_per_second|per_second)($|[._])/;
const RATIO_LOWER = /(cpu|_ms|latency|p50|p90|p99|calls|rows|usd|cost)/;
const LOWER =
	/(_ms$|_ms_|_us$|_us_|cpu|calls|rows|round_trips|queries|rpcs|queue_sends|usd|cost|_kib$|_mib|per_email|per_request|per_send|total$)/;
const NEUTRAL =
	/(^|\.)(date|emails|delivered|received|runs|requests|samples|window_ms|idle_ms|non_2xx|errors|load_average_start|load_average_end|provider_latency_ms|template_bytes|variables|smtp_connections|share)$/;

/** "higher", "lower" or null (not compared), from a metric's path. */
export function direction(name) {
	if (NEUTRAL.test(name)) return null;
	if (/ratio/.test(name)) return RATIO_LOWER.test(name.split(".").pop() ?? "") ? "lower" : "higher";
	if (HIGHER.test(name)) return "higher";
	if (LOWER.test(name)) return "lower";
	return null;
}

/** Rows `{ name, before, after, change_pct, worse }` for every compared metric present in either file. */
export function compareResults(before, after, threshold = 10) {
	const a = flatten(before);
	const b = flatten(after);
	const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((n) => direction(n) !== null).sort();
	return names.map((name) => {
		const was = a[name];
		const now = b[name];
		const change = was === undefined || now === undefined || was === 0 ? null : ((now - was) / Math.abs(was)) * 100;
		const dir = direction(name);
		const worse = change !== null && (dir === "higher" ? change < -threshold : change > threshold);
		return { name, before: was ?? null, after: now ?? null, change_pct: change === null ? null : Math.round(change * 10) / 10, worse };
	});
}

/** The rows as a fixed-width text table, the flagged ones marked. */
export function formatComparison(rows, threshold) {
	const cell = (v) => (v === null ? "—" : String(v));
	const table = [["metric", "before", "after", "change %", ""]].concat(
		rows.map((r) => [
			r.name,
			cell(r.before),
			cell(r.after),
			r.change_pct === null ? "—" : `${r.change_pct > 0 ? "+" : ""}${r.change_pct}`,
			r.worse ? `WORSE (>${threshold}%)` : "",
		]),
	);
	const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
	const lines = table.map((row) =>
		row
			.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
			.join("  ")
			.trimEnd(),
	);
	const flagged = rows.filter((r) => r.worse).length;
	lines.push("", flagged === 0 ? `Nothing worse than ${threshold}%.` : `${flagged} number(s) worse than ${threshold}%.`);
	return lines.join("\n");
}

/** The committed bench/results.json (HEAD), or null outside git. */
export function committedResults(root) {
	try {
		return JSON.parse(
			execFileSync("git", ["show", "HEAD:bench/results.json"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
		);
	} catch {
		return null;
	}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const args = process.argv.slice(2);
	const at = args.indexOf("--threshold");
	const threshold = at >= 0 ? Number(args[at + 1]) : 10;
	const files = args.filter((a, i) => !a.startsWith("--") && (at < 0 || i !== at + 1));
	const root = fileURLToPath(new URL("../", import.meta.url));
	const before = files[0] ? JSON.parse(readFileSync(files[0], "utf8")) : committedResults(root);
	const after = JSON.parse(readFileSync(files[1] ?? path.join(root, "bench", "results.json"), "utf8"));
	if (!before) throw new Error("No committed bench/results.json to compare with: pass two files");
	console.log(formatComparison(compareResults(before, after, threshold), threshold));
}
