#!/usr/bin/env node
/**
 * Priority lanes under load (README, "Priority lanes"): accept→sent of single high-priority sends, measured
 *
 * 1. `idle`: with nothing else queued;
 * 2. `bulk_lane`: while a --bulk-emails backlog (accepted in batches of 100, so bulk by BULK_BATCH_THRESHOLD) drains
 *    through the bulk lane's local consumer;
 * 3. `same_lane`: the same backlog sent as `priority: "normal"`, so it queues in the transactional lane in front of the
 *    high sends (what one queue for everything would do);
 *
 * each on its own `wrangler dev` with a fake Resend answering after --latency-ms. A high send goes out every
 * --interval-ms once the backlog is accepted, --high-sends of them; "sent" is when the fake provider answered it.
 * Locally each queue has one consumer invocation at a time (wrangler ignores max_concurrency), so the figures show the
 * lanes' separation and the shared CPU, D1 and limiter, not production's throughput.
 *
 *   node bench/lanes.mjs [--bulk-emails 10000] [--high-sends 40] [--interval-ms 250] [--latency-ms 20]
 *   npm run bench -- --phases lanes   (the same, inside bench/run.mjs)
 *
 * Run alone, it writes its figures under `lanes` in bench/results.json, keeping every other key.
 */
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../scripts/lib/dev-server.mjs";
import { machine, options, startBenchServer, startFakeResend } from "./lib.mjs";

/** The options and their defaults (bench/run.mjs passes them with its own --latency-ms). */
export const LANES_DEFAULTS = { "bulk-emails": 10_000, "high-sends": 40, "interval-ms": 250, "latency-ms": 20 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const percentile = (sorted, p) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);

/** One scenario on a fresh server: the backlog (`backlog` priority, or none), then the high sends while it drains. */
async function scenario(o, backlog) {
	const provider = await startFakeResend(o["latency-ms"]);
	const server = await startBenchServer({
		PROVIDERS: "resend",
		RESEND_API_KEY: "re_bench",
		RESEND_BASE_URL: provider.url,
		PROVIDER_RATES: JSON.stringify({ resend: { per_second: 100_000, burst: 100_000 } }),
	});
	try {
		const key = await server.tenant(`lanes ${backlog ?? "idle"}`);
		const post = async (url, body) => {
			const res = await fetch(`${server.url}${url}`, {
				method: "POST",
				headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
				body: JSON.stringify(body),
			});
			const json = await res.json();
			if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
			return json;
		};
		const bulkIds = new Set();
		if (backlog) {
			for (let n = 0; n < o["bulk-emails"]; n += 100) {
				const size = Math.min(100, o["bulk-emails"] - n);
				const body = Array.from({ length: size }, (_, i) => ({
					from: "News <news@example.com>",
					to: `reader${n + i}@example.org`,
					subject: "newsletter",
					text: "hello",
					// Explicit, so the same-lane control does not depend on BULK_BATCH_THRESHOLD either.
					priority: backlog,
				}));
				for (const { id } of (await post("/emails/batch", body)).data) bulkIds.add(id);
			}
		}
		const bulkSent = () => [...bulkIds].filter((id) => provider.answeredAt.has(id)).length;
		const highs = [];
		for (let i = 0; i < o["high-sends"]; i++) {
			const { id } = await post("/emails", {
				from: "Security <security@example.com>",
				to: `user${i}@example.org`,
				subject: "Your password reset link",
				text: "reset",
				priority: "high",
			});
			highs.push({ id, acceptedAt: performance.now(), bulkSentAtAccept: bulkSent() });
			await sleep(o["interval-ms"]);
		}
		const deadline = Date.now() + 20 * 60_000;
		while (highs.some((h) => !provider.answeredAt.has(h.id)) && Date.now() < deadline) await sleep(50);
		const latencies = highs
			.filter((h) => provider.answeredAt.has(h.id))
			.map((h) => provider.answeredAt.get(h.id) - h.acceptedAt)
			.sort((a, b) => a - b);
		const lastHigh = Math.max(...highs.map((h) => provider.answeredAt.get(h.id) ?? 0));
		const bulkWhenLastHighSent = [...bulkIds].filter((id) => (provider.answeredAt.get(id) ?? Number.POSITIVE_INFINITY) <= lastHigh).length;
		return {
			high_sends: highs.length,
			high_sent: latencies.length,
			p50_ms: percentile(latencies, 50),
			p99_ms: percentile(latencies, 99),
			max_ms: Math.round(latencies.at(-1) ?? 0),
			...(backlog && {
				backlog_emails: bulkIds.size,
				backlog_sent_when_first_high_accepted: highs[0]?.bulkSentAtAccept ?? 0,
				backlog_sent_when_last_high_sent: bulkWhenLastHighSent,
			}),
		};
	} finally {
		await server.stop();
		await provider.close();
	}
}

/** The three scenarios, for `results.lanes`; `o` as `LANES_DEFAULTS`. */
export async function measureLanes(o = LANES_DEFAULTS) {
	const started = loadavg()[0];
	const idle = await scenario(o, null);
	const bulkLane = await scenario(o, "bulk");
	const sameLane = await scenario(o, "normal");
	return {
		date: new Date().toISOString(),
		machine: machine(),
		provider_latency_ms: o["latency-ms"],
		interval_ms: o["interval-ms"],
		idle,
		bulk_lane: bulkLane,
		same_lane: sameLane,
		load_average_start: Number(started.toFixed(2)),
		load_average_end: Number(loadavg()[0].toFixed(2)),
	};
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const lanes = await measureLanes(options(LANES_DEFAULTS));
	const file = path.join(PROJECT_ROOT, "bench", "results.json");
	const previous = JSON.parse(await readFile(file, "utf8").catch(() => "{}"));
	await writeFile(file, `${JSON.stringify({ ...previous, lanes }, null, "\t")}\n`);
	const row = (r) => `p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms (${r.high_sent}/${r.high_sends} sent)`;
	console.table({
		"high sends, nothing else queued": row(lanes.idle),
		[`high sends, ${lanes.bulk_lane.backlog_emails} bulk emails draining in the bulk lane`]: `${row(lanes.bulk_lane)}; backlog sent by the last high send: ${lanes.bulk_lane.backlog_sent_when_last_high_sent}`,
		[`high sends behind ${lanes.same_lane.backlog_emails} normal emails in the same lane`]: `${row(lanes.same_lane)}; backlog sent by the last high send: ${lanes.same_lane.backlog_sent_when_last_high_sent}`,
	});
}
