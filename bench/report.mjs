#!/usr/bin/env node
/**
 * The README's performance tables ("Mailroom vs minimal Worker", "cost per 1,000,000 emails") as markdown, from
 * bench/results.json (or the file given): `node bench/report.mjs [results.json]`. `npm run bench` prints the same.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const n = (value, digits = 2) =>
	value === undefined || value === null || Number.isNaN(value)
		? "—"
		: Number(value).toLocaleString("en-US", { maximumFractionDigits: digits });
const usd = (value) => (value === undefined || value === null ? "—" : `$${Number(value).toFixed(value >= 1 ? 2 : 4)}`);

/** Markdown for the README from a results.json object; sections whose numbers are missing are left out. */
export function markdownReport(results) {
	const out = [];
	const m = results.accept?.c16;
	const f = results.floor?.c16;
	const im = results.isolate?.mailroom;
	const iff = results.isolate?.floor;
	const r = results.accept_vs_floor;
	const cm = results.calls_per_send?.mailroom;
	const cf = results.calls_per_send?.floor;
	if (m && f) {
		const calls = (c) => (c ? `${n(c.total)} (D1 ${n(c.d1_round_trips)}, DO ${n(c.do_rpcs)}, queue ${n(c.queue_sends)})` : "—");
		out.push(
			`### Mailroom vs minimal Worker, \`POST /emails\` (${results.date?.slice(0, 10) ?? "?"}, ${results.machine ?? ""})`,
			"",
			"| | Mailroom | minimal Worker (bench/floor) | Mailroom / floor |",
			"|---|---|---|---|",
			`| requests/s at 16 connections (median of ${m.runs} interleaved runs) | ${n(m.rps, 0)} | ${n(f.rps, 0)} | ${n(r?.rps_ratio)} |`,
			`| worker-isolate CPU per accepted request | ${n(im?.cpu_ms)} ms | ${n(iff?.cpu_ms)} ms | ${n(r?.cpu_ratio)} |`,
			`| of which in the Worker's own code (bundle + GC) | ${n(im?.worker_code_cpu_ms)} ms | ${n(iff?.worker_code_cpu_ms)} ms | ${n(r?.worker_code_cpu_ratio)} |`,
			`| workerd thread CPU per request (kernel; includes the local D1/queue simulators) | ${n(im?.workerd_thread_cpu_ms)} ms | ${n(iff?.workerd_thread_cpu_ms)} ms | ${n(r?.thread_cpu_ratio)} |`,
			`| latency p50 / p90 / p99 | ${n(m.p50_ms, 0)} / ${n(m.p90_ms, 0)} / ${n(m.p99_ms, 0)} ms | ${n(f.p50_ms, 0)} / ${n(f.p90_ms, 0)} / ${n(f.p99_ms, 0)} ms | p50 ${n(r?.p50_ratio)}, p99 ${n(r?.p99_ratio)} |`,
			`| sequential remote calls per single send | ${calls(cm?.single)} | ${calls(cf?.single)} | |`,
			`| remote calls per batch of 100 | ${calls(cm?.batch_of_100)} | | |`,
			`| D1 rows written per single send | ${n(cm?.single?.d1_rows_written)} | ${n(cf?.single?.d1_rows_written)} | |`,
			"",
		);
	}
	if (im?.top_self?.length) {
		out.push(
			"Where Mailroom's accept CPU goes (self time in the isolate, by file or package, per accepted request):",
			"",
			"| | ms per request | share |",
			"|---|---|---|",
			...(im?.top_self ?? []).map((e) => `| ${e.name} | ${n(e.ms_per_unit, 3)} | ${n(e.share * 100, 1)} % |`),
			"",
		);
	}
	const p = results.pipeline;
	const pc = results.pipeline_counts;
	if (p && pc) {
		const b = pc.per_consumed_batch;
		out.push(
			`### Pipeline (${n(p.delivered, 0)} emails, fake provider at ${p.provider_latency_ms} ms, to \`delivered\` by signed webhooks)`,
			"",
			"| measurement | result |",
			"|---|---|",
			`| emails/s end to end | ${n(p.emails_per_second, 0)} (accept→delivered p50 ${n(p.p50_ms / 1000, 1)} s, p99 ${n(p.p99_ms / 1000, 1)} s) |`,
			`| worker CPU per delivered email (accept + consume + webhook) | ${n(p.cpu_ms_per_delivered_email)} ms |`,
			`| D1 rows written / read per delivered email | ${n(pc.per_delivered_email?.d1_rows_written)} / ${n(pc.per_delivered_email?.d1_rows_read)} |`,
			`| per consumed batch (${n(b?.emails, 1)} emails) | ${n(b?.d1_round_trips)} D1 round trips, ${n(b?.d1_rows_written)} rows written, ${n(b?.d1_rows_read)} read, ${n(b?.do_rpcs)} DO RPCs |`,
			"",
		);
	}
	const cost = results.cost;
	if (cost?.batch_of_100) {
		const single = cost.single_sends;
		const bySingle = new Map((single?.items ?? []).map((i) => [i.item, i]));
		out.push(
			`### Cost per 1,000,000 delivered emails (list prices read ${cost.batch_of_100.prices_read}; marginal: included allowances ignored)`,
			"",
			"| line item | unit price | per email, batches of 100 | USD per 1M | per email, single sends | USD per 1M |",
			"|---|---|---|---|---|---|",
			...cost.batch_of_100.items.map((i) => {
				const s = bySingle.get(i.item);
				return `| ${i.label} | ${i.unit_price} | ${n(i.per_email, 4)} | ${usd(i.usd_per_million)} | ${n(s?.per_email, 4)} | ${usd(s?.usd_per_million)} |`;
			}),
			`| **total** | | | **${usd(cost.batch_of_100.total_usd_per_million)}** | | **${usd(single?.total_usd_per_million)}** |`,
			"",
		);
	}
	return out.join("\n");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const file = process.argv[2] ?? fileURLToPath(new URL("./results.json", import.meta.url));
	console.log(markdownReport(JSON.parse(readFileSync(file, "utf8"))));
}
