#!/usr/bin/env node
/**
 * `npm run bench`: numbers, not pass/fail (the README, "Measured"). Each phase runs against its own `wrangler dev` on fresh
 * local state:
 *
 * 1. Accept: Mailroom's `POST /emails` and the minimal Worker's (bench/floor: the same accept work in raw binding
 *    calls) in the same run, interleaved (floor, Mailroom, floor, Mailroom, …, `--rounds`), each measured window at
 *    16 connections preceded by a `--warmup` that is not counted, a new recipient per request; medians of the rounds
 *    and Mailroom / floor ratios of rps, worker-isolate CPU per request (V8 profiles over the inspector,
 *    bench/profile.mjs) and latency (autocannon's HdrHistogram: p50, p90, p99). Before that, a counting pass with
 *    BENCH_METRICS=on: the remote calls (D1 round trips, Durable Object RPCs, queue sends) and D1 rows per single send
 *    and per batch of 100, for Mailroom and the floor; the benchmark stops if the floor does not write the rows
 *    Mailroom writes. Then Mailroom alone at 1 and 64 connections, `GET /health`, and with RATE_LIMITING=off.
 *    These servers run without queue consumers (`acceptOnlyConfig`): accepting is what is measured.
 * 2. Batch accept: `POST /emails/batch` with 100 emails per request: plain, rendered from a 20 KB template with 10
 *    variables per recipient, and plain with that html pre-rendered; CPU per email; the render cost per email of that
 *    template (bench/render.mjs).
 * 3. Pipeline: N emails over 10 tenants, accepted by batch, sent by the consumer to a fake Resend (latency set by
 *    --latency-ms) that confirms each one with a signed `email.delivered` webhook; emails/s end to end, p50/p99
 *    accept→delivered, worker CPU per delivered email (profiled over the whole run), and BENCH_METRICS's counts per
 *    phase: invocations, D1 rows, RPCs, queue messages, per delivered email and per consumed batch.
 * 4. Bundle: `wrangler deploy --dry-run` size, raw and gzip, and the five largest packages in it.
 * 5. SMTP: --smtp-emails emails accepted by batch and sent by the consumer over STARTTLS with AUTH to a local SMTP
 *    server (scripts/lib/smtp-catcher.mjs), emails/s, with connection reuse and without, and the time `buildMime`
 *    takes per email.
 * Then the cost per 1,000,000 delivered emails (bench/cost.mjs, prices in bench/prices.json) from those counts.
 *
 *   node bench/run.mjs [--seconds 10] [--warmup 2] [--rounds 3] [--emails 5000] [--latency-ms 20]
 *     [--smtp-emails 1000] [--phases accept,batch,pipeline,bundle,smtp] [--compare [--write]] [--threshold 10]
 *
 * Writes bench/results.json (a run of some phases keeps the other phases' numbers) and prints tables. With
 * `--compare` it prints each number's change against the committed results.json instead and writes nothing unless
 * `--write` is given too.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import autocannon from "autocannon";
import { Webhook } from "standardwebhooks";
import { ensureAssetsDirectory } from "../scripts/lib/console-build.mjs";
import { PROJECT_ROOT } from "../scripts/lib/dev-server.mjs";
import { localCertificate, startSmtpCatcher } from "../scripts/lib/smtp-catcher.mjs";
import { importWorkerModule } from "../scripts/lib/worker-code.mjs";
import { committedResults, compareResults, formatComparison } from "./compare.mjs";
import { costScenarios } from "./cost.mjs";
import {
	acceptOnlyConfig,
	addUsages,
	machine,
	median,
	options,
	processGroupUsage,
	startBenchServer,
	startFloorServer,
	usageBetween,
} from "./lib.mjs";
import { addSummaries, bundleModules, connectInspector, startProfile, stopProfile, summariseProfile, workerBundle } from "./profile.mjs";
import { measureRender } from "./render.mjs";
import { markdownReport } from "./report.mjs";
import { orderConfirmationTemplate, orderValues } from "./template-fixture.mjs";

// Ended from outside (Ctrl-C, a timeout): exit normally, so every dev server's exit hook takes its process group down.
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
/** Progress on stderr; the tables go to stdout. */
const step = (text) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);

const opts = options({
	seconds: 10,
	warmup: 2,
	rounds: 3,
	emails: 5000,
	"latency-ms": 20,
	"smtp-emails": 1000,
	phases: "accept,batch,pipeline,bundle,smtp",
	compare: false,
	write: false,
	threshold: 10,
});
const ALL_PHASES = ["accept", "batch", "pipeline", "bundle", "smtp"];
const phases = new Set(String(opts.phases).split(","));
for (const p of phases) if (!ALL_PHASES.includes(p)) throw new Error(`Unknown phase ${p}; phases: ${ALL_PHASES.join(", ")}`);
const want = (phase) => phases.has(phase);
// The 1-minute load average at the start and end: on a shared machine, what the other numbers should be read against.
const results = { date: new Date().toISOString(), machine: machine(), load_average_start: Number(loadavg()[0].toFixed(2)) };
const resultsFile = path.join(PROJECT_ROOT, "bench", "results.json");
const previous = JSON.parse(await readFile(resultsFile, "utf8").catch(() => "{}"));
const prices = JSON.parse(await readFile(path.join(PROJECT_ROOT, "bench", "prices.json"), "utf8"));
const sendBody = { from: "Bench <bench@example.com>", to: "delivered@example.org", subject: "bench", text: "hello" };
const round = (value, digits = 3) => Number(value.toFixed(digits));

/** A new recipient for every request, so no cache, suppression lookup or dedupe is flattered. */
let recipient = 0;
const nextRecipient = () => `user${++recipient}@example.org`;
const sendInit = (key) => ({
	method: "POST",
	headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
	setupRequest: (req) => ({ ...req, body: JSON.stringify({ ...sendBody, to: nextRecipient() }) }),
});

/** One autocannon window; rps from the requests completed over the window's own duration. */
async function load(url, init, connections, seconds = opts.seconds) {
	// autocannon calls any `setupRequest` key it finds, so absent fields are left out rather than undefined.
	const request = Object.fromEntries(Object.entries({ method: "GET", ...init }).filter(([, v]) => v !== undefined));
	const r = await autocannon({ url, connections, duration: seconds, requests: [request] });
	return {
		rps: round(r.requests.total / r.duration, 1),
		p50_ms: r.latency.p50,
		p90_ms: r.latency.p90,
		p99_ms: r.latency.p99,
		requests: r.requests.total,
		non_2xx: r.non2xx,
		errors: r.errors,
	};
}

/** Medians of several windows' numbers. */
function medianOf(runs) {
	const m = (field) => median(runs.map((r) => r[field]));
	return {
		rps: m("rps"),
		p50_ms: m("p50_ms"),
		p90_ms: m("p90_ms"),
		p99_ms: m("p99_ms"),
		non_2xx: m("non_2xx"),
		errors: m("errors"),
		runs: runs.length,
	};
}

/**
 * Runs `work` inside a CPU profile of `server`'s isolate and /proc readings of its process group. The inspector
 * session and the bundle's module map are kept on the server for its next windows.
 */
async function profiled(server, work) {
	server.inspector ??= await connectInspector(server.inspectorPort);
	const before = await processGroupUsage(server.pid);
	await startProfile(server.inspector);
	let outcome;
	let profile;
	try {
		outcome = await work();
	} finally {
		profile = await stopProfile(server.inspector);
	}
	const usage = usageBetween(before, await processGroupUsage(server.pid));
	if (!server.bundle) {
		const b = await workerBundle(server.inspector);
		server.bundle = { url: b.url, scriptId: b.scriptId, modules: bundleModules(b.source) };
	}
	return { outcome, profile, usage };
}

/** Phases of a pipeline sample, by the first of our modules on its stack from the leaf (bench/profile.mjs). */
const PIPELINE_PHASES = [
	[/durable-objects\/rate-limiter\.ts$/, "durable_object"],
	[/^src\/queue\/send\//, "consume"],
	[/^src\/queue\/dead-letter-consumer\.ts$/, "consume"],
	[/^src\/(routes\/provider-webhooks|queue\/webhook-consumer|webhooks\/)/, "webhook"],
	[/^src\/(routes\/emails|services\/accept|middleware\/)/, "accept"],
];

/**
 * CPU per unit of work (request, email) from a profile summary and the /proc readings of the same windows. Profile
 * times are wall time per state (bench/profile.mjs); they are scaled by the isolate thread's run / (run + wait) from
 * schedstat, which takes out the time the thread waited for a CPU on a shared machine.
 * - cpu_ms: the Worker's busy time, Durable Object excluded: what the issue and the README call worker-isolate CPU
 *   (locally it includes the D1 / queue simulators' time charged to the binding frames waiting for them);
 * - worker_code_cpu_ms: the part in the Worker's own bundle (our code and its libraries) plus GC: free of simulator
 *   time, the part the code controls;
 * - runtime_cpu_ms: workerd's binding clients, native functions and `(program)`;
 * - workerd_thread_cpu_ms / workerd_process_cpu_ms: the kernel's own numbers, thread and whole process group.
 */
function cpuPer(summary, usage, units) {
	const ran = usage ? usage.threadSeconds + usage.threadWaitSeconds : 0;
	const scale = ran > 0 ? usage.threadSeconds / ran : 1;
	const per = (ms) => round((ms * scale) / Math.max(1, units));
	return {
		cpu_ms: per(summary.worker_ms),
		worker_code_cpu_ms: per(summary.bundle_ms + summary.gc_ms),
		runtime_cpu_ms: per(summary.runtime_ms + summary.native_ms + summary.program_ms),
		do_ms: per(summary.do_ms),
		gc_ms: per(summary.gc_ms),
		profile_wall_ms_unscaled: round(summary.worker_ms / Math.max(1, units)),
		run_share: round(scale),
		idle_share: round(summary.idle_ms / Math.max(1, summary.window_ms)),
		workerd_thread_cpu_ms: usage ? round((usage.threadSeconds * 1000) / Math.max(1, units)) : null,
		workerd_process_cpu_ms: usage ? round((usage.cpuSeconds * 1000) / Math.max(1, units)) : null,
	};
}

/** The top `n` self-time owners (files of ours, packages, runtime internals) per unit of work, with their share. */
function topSelf(summary, cpu, units, n = 15) {
	const scale = cpu.run_share;
	return summary.self.slice(0, n).map(({ name, ms }) => ({
		name,
		ms_per_unit: round((ms * scale) / Math.max(1, units), 4),
		share: round(ms / Math.max(1e-9, summary.cpu_ms), 3),
	}));
}

async function json(url, init) {
	const res = await fetch(url, init);
	const text = await res.text();
	if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${res.status} ${text.slice(0, 2000)}`);
	return JSON.parse(text);
}

const mailroomMetrics = async (server) =>
	(await json(`${server.url}/admin/bench-metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).phases;
const floorMetrics = (server) => json(`${server.url}/__floor/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } });
const difference = (after = {}, before = {}) =>
	Object.fromEntries(Object.entries(after).map(([k, v]) => [k, typeof v === "number" ? v - (before[k] ?? 0) : v]));

/** `count` requests one after another; each must answer 200. */
async function sendSequentially(url, init, count) {
	for (let i = 0; i < count; i++) {
		const body = init.body ?? init.setupRequest({}).body;
		const res = await fetch(url, { method: init.method, headers: init.headers, body });
		if (res.status !== 200) throw new Error(`${url}: ${res.status} ${(await res.text()).slice(0, 2000)}`);
		await res.arrayBuffer();
	}
}

/** Remote calls and rows per request from a phase's counter delta over `requests` requests. */
function callsPer(delta, requests) {
	const per = (v) => round((v ?? 0) / requests, 3);
	const d1 = per(delta.d1_round_trips);
	const rpcs = per(delta.do_rpcs);
	const queue = per(delta.queue_sends);
	return {
		total: round(d1 + rpcs + queue, 3),
		d1_round_trips: d1,
		do_rpcs: rpcs,
		queue_sends: queue,
		d1_rows_read: per(delta.rows_read),
		d1_rows_written: per(delta.rows_written),
		...(delta.d1_unmetered_reads !== undefined ? { d1_unmetered_reads: per(delta.d1_unmetered_reads) } : {}),
		...(delta.queue_bytes !== undefined ? { queue_bytes: per(delta.queue_bytes) } : {}),
		...(delta.do_rows_written !== undefined ? { do_rows_written: per(delta.do_rows_written) } : {}),
	};
}

/**
 * The floor must write what Mailroom writes: its columns match the tables (else it would fail or skew), and one send
 * writes as many D1 rows as one of Mailroom's. Throws with what to change.
 */
async function checkFloorSchema(floor) {
	const check = await json(`${floor.url}/__floor/schema`, { headers: { authorization: `Bearer ${floor.adminToken}` } });
	const problems = Object.entries(check).flatMap(([table, { missing, unknown }]) => [
		...(missing.length ? [`${table}: the floor does not write ${missing.join(", ")}`] : []),
		...(unknown.length ? [`${table}: the table has no ${unknown.join(", ")}`] : []),
	]);
	if (problems.length > 0) {
		throw new Error(`The floor's rows do not match Mailroom's schema; update emailRow in bench/floor/index.ts:\n${problems.join("\n")}`);
	}
}

// 1. Accept: Mailroom and the floor, counted, then timed side by side.
if (want("accept")) {
	step("accept: starting the floor");
	const acceptConfig = await acceptOnlyConfig();
	const floor = await startFloorServer();
	try {
		await checkFloorSchema(floor);
		const floorKey = await floor.tenant();

		// Counting pass (BENCH_METRICS=on wraps the bindings, so it is kept out of the timed windows).
		const singles = 50;
		const batches = 5;
		step("accept: counting remote calls and rows (BENCH_METRICS=on)");
		const counted = await startBenchServer({ BENCH_METRICS: "on" }, {}, { config: acceptConfig });
		let mailroomSingle;
		let mailroomBatch;
		try {
			const key = await counted.tenant("count");
			// One send first: the tenant's first request creates its limiter buckets, which later sends only update.
			await sendSequentially(`${counted.url}/emails`, sendInit(key), 1);
			let before = (await mailroomMetrics(counted)).accept;
			await sendSequentially(`${counted.url}/emails`, sendInit(key), singles);
			let after = (await mailroomMetrics(counted)).accept;
			mailroomSingle = callsPer(difference(after, before), singles);
			const batchInit = {
				method: "POST",
				headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
				setupRequest: () => ({ body: JSON.stringify(Array.from({ length: 100 }, () => ({ ...sendBody, to: nextRecipient() }))) }),
			};
			before = after;
			await sendSequentially(`${counted.url}/emails/batch`, batchInit, batches);
			after = (await mailroomMetrics(counted)).accept;
			mailroomBatch = callsPer(difference(after, before), batches);
		} finally {
			await counted.stop();
		}
		await sendSequentially(`${floor.url}/emails`, sendInit(floorKey), 1);
		const floorBefore = await floorMetrics(floor);
		await sendSequentially(`${floor.url}/emails`, sendInit(floorKey), singles);
		const floorSingle = callsPer(difference(await floorMetrics(floor), floorBefore), singles);
		results.calls_per_send = {
			note: "sequential remote calls per request in the accept path (D1 round trips + Durable Object RPCs + queue sends), and D1 rows; Mailroom counted by BENCH_METRICS, the floor by its own counters",
			mailroom: { single: mailroomSingle, batch_of_100: mailroomBatch },
			floor: { single: floorSingle },
		};
		results.limiter = { do_rows_written_per_admit: floorSingle.do_rows_written };
		if (Math.abs(floorSingle.d1_rows_written - mailroomSingle.d1_rows_written) > 0.01) {
			throw new Error(
				`The floor writes ${floorSingle.d1_rows_written} D1 rows per send and Mailroom ${mailroomSingle.d1_rows_written}: the floor no longer does Mailroom's accept work. Update emailRow (and the batch) in bench/floor/index.ts to write the rows Mailroom writes.`,
			);
		}

		// Timed, interleaved: floor, Mailroom, floor, Mailroom, …
		step("accept: starting Mailroom");
		const mailroom = await startBenchServer({}, {}, { config: acceptConfig });
		try {
			const mailroomKey = await mailroom.tenant("accept");
			const targets = [
				{ name: "floor", server: floor, key: floorKey, runs: [], summaries: [], usages: [] },
				{ name: "mailroom", server: mailroom, key: mailroomKey, runs: [], summaries: [], usages: [] },
			];
			for (let r = 0; r < opts.rounds; r++) {
				for (const t of targets) {
					step(`accept: round ${r + 1} of ${opts.rounds}, ${t.name}`);
					const url = `${t.server.url}/emails`;
					await load(url, sendInit(t.key), 16, opts.warmup);
					const { outcome, profile, usage } = await profiled(t.server, () => load(url, sendInit(t.key), 16));
					if (outcome.non_2xx + outcome.errors > outcome.requests * 0.01) {
						throw new Error(`${t.name}: ${outcome.non_2xx} non-2xx and ${outcome.errors} errors in ${outcome.requests} requests`);
					}
					const summary = summariseProfile(profile, { bundle: t.server.bundle });
					t.runs.push({ ...outcome, cpu_ms_per_request: cpuPer(summary, usage, outcome.requests).cpu_ms });
					t.summaries.push(summary);
					t.usages.push(usage);
				}
			}
			const isolate = {};
			for (const t of targets) {
				const total = addSummaries(t.summaries);
				const requests = t.runs.reduce((n, r) => n + r.requests, 0);
				const usage = addUsages(t.usages);
				const cpu = cpuPer(total, usage, requests);
				isolate[t.name] = {
					...cpu,
					cpu_ms_median_of_runs: median(t.runs.map((r) => r.cpu_ms_per_request)),
					workerd_rss_mib_after_load: usage?.rssMiB ?? null,
					top_self: topSelf(total, cpu, requests),
				};
			}
			results.accept = { c16: medianOf(targets[1].runs), c16_rounds: targets[1].runs };
			results.floor = { c16: medianOf(targets[0].runs), c16_rounds: targets[0].runs };
			results.isolate = {
				method:
					"V8 CPU profiles of the isolate over wrangler's inspector during each measured c16 window (bench/profile.mjs), per request completed, scaled by the isolate thread's run / (run + wait) from schedstat so that time the thread waited for a CPU is not counted. cpu_ms: busy samples without the RateLimiter on the stack (locally this includes the D1/queue simulators' time charged to the binding frames waiting for them); worker_code_cpu_ms: samples in the Worker's bundle plus GC; workerd_thread_cpu_ms: the kernel's CPU time of the thread running the isolate (and the local simulators); workerd_process_cpu_ms: the whole process group's.",
				...isolate,
			};
			const ratio = (a, b) => (b > 0 ? round(a / b) : null);
			results.accept_vs_floor = {
				rps_ratio: ratio(results.accept.c16.rps, results.floor.c16.rps),
				cpu_ratio: ratio(isolate.mailroom.cpu_ms, isolate.floor.cpu_ms),
				worker_code_cpu_ratio: ratio(isolate.mailroom.worker_code_cpu_ms, isolate.floor.worker_code_cpu_ms),
				thread_cpu_ratio: ratio(isolate.mailroom.workerd_thread_cpu_ms, isolate.floor.workerd_thread_cpu_ms),
				p50_ratio: ratio(results.accept.c16.p50_ms, results.floor.c16.p50_ms),
				p99_ratio: ratio(results.accept.c16.p99_ms, results.floor.c16.p99_ms),
				calls_per_send_mailroom: mailroomSingle.total,
				calls_per_send_floor: floorSingle.total,
			};

			step("accept: Mailroom at 1 and 64 connections, /health");
			// Mailroom alone: 1 and 64 connections, and the platform's floor for any request (`/health`).
			const url = `${mailroom.url}/emails`;
			results.accept.c1 = await load(url, sendInit(mailroomKey), 1);
			results.accept.c64 = await load(url, sendInit(mailroomKey), 64);
			results.health = { c16: await load(`${mailroom.url}/health`, {}, 16) };
		} finally {
			mailroom.inspector?.close();
			await mailroom.stop();
		}
	} finally {
		floor.inspector?.close();
		await floor.stop();
	}
	step("accept: Mailroom with RATE_LIMITING=off");
	const off = await startBenchServer({ RATE_LIMITING: "off" }, {}, { config: acceptConfig });
	try {
		const key = await off.tenant("accept-off");
		await load(`${off.url}/emails`, sendInit(key), 16, opts.warmup);
		results.accept_limiter_off = { c16: await load(`${off.url}/emails`, sendInit(key), 16) };
		results.accept_limiter_ratio_on_to_off = round(results.accept.c16.rps / results.accept_limiter_off.c16.rps);
	} finally {
		await off.stop();
	}
	results.accept_to_health_ratio = round(results.accept.c16.rps / results.health.c16.rps);
}

// 2. Batch accept: plain emails, then in the same server the same batch with the 20 KB template rendered per email,
//    and, to tell rendering from writing bigger rows, plain emails carrying that template's html already rendered.
if (want("batch")) {
	step("batch: plain, templated, pre-rendered");
	const server = await startBenchServer({}, {}, { config: await acceptOnlyConfig() });
	try {
		const key = await server.tenant("batch");
		const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
		// `+n` in every address is replaced per request: new recipients each time, without rebuilding 2 MB bodies.
		const batchBody = (item) => JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ to: `user${i}+n@example.org`, ...item(i) })));
		const perRequest = (body) => ({
			method: "POST",
			headers,
			setupRequest: (req) => ({ ...req, body: body.replaceAll("+n@example.org", `+${++recipient}@example.org`) }),
		});
		/** Batches of 100 at 4 connections, profiled; emails/s from the requests completed. */
		const batchRun = async (body) => {
			const init = perRequest(body);
			const {
				outcome: r,
				profile,
				usage,
			} = await profiled(server, () =>
				autocannon({ url: `${server.url}/emails/batch`, connections: 4, duration: opts.seconds, requests: [init] }),
			);
			if (r.non2xx > 0 || r.errors > 0) throw new Error(`batch answered ${r.non2xx} non-2xx, ${r.errors} errors`);
			const emails = r.requests.total * 100;
			return {
				emailsPerSecond: emails / r.duration,
				p50: r.latency.p50,
				p99: r.latency.p99,
				emails,
				summary: summariseProfile(profile, { bundle: server.bundle }),
				usage,
			};
		};
		const summary = (runs) => {
			const emails = runs.reduce((n, r) => n + r.emails, 0);
			const cpu = cpuPer(addSummaries(runs.map((r) => r.summary)), addUsages(runs.map((r) => r.usage)), emails);
			return {
				emails_per_second: Math.round(runs.reduce((n, r) => n + r.emailsPerSecond, 0) / runs.length),
				p50_ms: Math.max(...runs.map((r) => r.p50)),
				p99_ms: Math.max(...runs.map((r) => r.p99)),
				cpu_ms_per_email: cpu.cpu_ms,
				workerd_thread_cpu_ms_per_email: cpu.workerd_thread_cpu_ms,
				runs: runs.length,
			};
		};
		const plainBody = batchBody(() => ({ ...sendBody }));

		const fixture = orderConfirmationTemplate();
		const created = await fetch(`${server.url}/templates`, {
			method: "POST",
			headers,
			body: JSON.stringify({ name: "order", alias: "order", from: "Shop <orders@example.com>", ...fixture }),
		});
		if (created.status !== 201) throw new Error(`template: ${created.status} ${await created.text()}`);
		await fetch(`${server.url}/templates/order/publish`, { method: "POST", headers });
		const templatedBody = batchBody((i) => ({ template: { id: "order", variables: orderValues(i) } }));
		const preview = async (i) => {
			const res = await fetch(`${server.url}/templates/order/render`, {
				method: "POST",
				headers,
				body: JSON.stringify({ version: "published", variables: orderValues(i) }),
			});
			return res.json();
		};
		const rendered = await Promise.all(Array.from({ length: 100 }, (_, i) => preview(i)));
		const prerenderedBody = batchBody((i) => ({
			from: "Shop <orders@example.com>",
			subject: rendered[i].subject,
			html: rendered[i].html,
			text: rendered[i].text,
		}));
		await autocannon({ url: `${server.url}/emails/batch`, connections: 4, duration: opts.warmup, requests: [perRequest(plainBody)] });
		// Two interleaved rounds, so a neighbour's load on a shared machine does not fall on one kind only.
		const runs = { plain: [], templated: [], prerendered: [] };
		for (let r = 0; r < 2; r++) {
			runs.plain.push(await batchRun(plainBody));
			runs.templated.push(await batchRun(templatedBody));
			runs.prerendered.push(await batchRun(prerenderedBody));
		}
		results.batch = summary(runs.plain);
		const templated = summary(runs.templated);
		const prerendered = summary(runs.prerendered);
		results.batch_templated = {
			template_bytes: Buffer.byteLength(fixture.html),
			variables: fixture.variables.length,
			templated,
			plain_same_html: prerendered,
			templated_to_plain_ratio: round(templated.emails_per_second / results.batch.emails_per_second),
			templated_to_plain_same_html_ratio: round(templated.emails_per_second / prerendered.emails_per_second),
		};
	} finally {
		server.inspector?.close();
		await server.stop();
	}
	step("batch: render cost per email");
	// Render cost per email (Node, the Worker's module; see bench/render.mjs).
	results.render = await measureRender();
}

// 3. Pipeline to delivered: throughput, latency, and the counts and CPU the cost table is computed from.
if (want("pipeline")) {
	step(`pipeline: ${opts.emails} emails, provider latency ${opts["latency-ms"]} ms`);
	const secret = `whsec_${randomBytes(24).toString("base64")}`;
	const signer = new Webhook(secret);
	let workerUrl = "";
	const sends = new Map();
	const delivered = new Map();
	let providerCalls = 0;
	const webhookQueue = [];
	let webhooksInFlight = 0;
	const pump = () => {
		while (webhooksInFlight < 8 && webhookQueue.length > 0) {
			const job = webhookQueue.shift();
			webhooksInFlight += 1;
			postDelivered(job).finally(() => {
				webhooksInFlight -= 1;
				pump();
			});
		}
	};
	async function postDelivered({ emailId, resendId }) {
		const body = JSON.stringify({
			type: "email.delivered",
			created_at: new Date().toISOString(),
			data: { email_id: resendId, to: ["delivered@example.org"], tags: { mailroom_id: emailId } },
		});
		const id = `msg_${randomUUID()}`;
		const now = new Date();
		for (let attempt = 0; attempt < 5; attempt++) {
			const res = await fetch(`${workerUrl}/provider-webhooks/resend`, {
				method: "POST",
				headers: {
					"content-type": "application/json",
					"svix-id": id,
					"svix-timestamp": String(Math.floor(now.getTime() / 1000)),
					"svix-signature": signer.sign(id, now, body),
				},
				body,
			}).catch(() => null);
			if (res?.ok) {
				if (!delivered.has(emailId)) delivered.set(emailId, performance.now());
				return;
			}
			await new Promise((r) => setTimeout(r, 200));
		}
	}
	const fake = createServer((req, res) => {
		req.resume();
		req.on("end", () => {
			providerCalls += 1;
			const key = req.headers["idempotency-key"];
			const known = sends.get(key);
			const resendId = known ?? `re_${randomUUID()}`;
			sends.set(key, resendId);
			setTimeout(() => {
				res.writeHead(200, { "content-type": "application/json" });
				res.end(JSON.stringify({ id: resendId }));
				if (!known) {
					webhookQueue.push({ emailId: key, resendId });
					pump();
				}
			}, opts["latency-ms"]);
		});
	});
	await new Promise((r) => fake.listen(0, "127.0.0.1", r));
	const server = await startBenchServer({
		PROVIDERS: "resend",
		RESEND_API_KEY: "re_bench",
		RESEND_BASE_URL: `http://127.0.0.1:${fake.address().port}`,
		RESEND_WEBHOOK_SECRET: secret,
		PROVIDER_RATES: JSON.stringify({ resend: { per_second: 100_000, burst: 100_000 } }),
		BENCH_METRICS: "on",
	});
	workerUrl = server.url;
	try {
		const keys = [];
		for (let i = 0; i < 10; i++) keys.push(await server.tenant(`pipeline ${i}`));
		const before = await mailroomMetrics(server);
		const accepted = new Map();
		let started = 0;
		let finished = 0;
		// The whole run is profiled: accepting, consuming and the webhooks overlap, and together they are what an email costs.
		const { profile, usage } = await profiled(server, async () => {
			started = performance.now();
			for (let n = 0, b = 0; n < opts.emails; b++) {
				const size = Math.min(100, opts.emails - n);
				const body = Array.from({ length: size }, (_, i) => ({ ...sendBody, to: `user${n + i}@example.org` }));
				const res = await fetch(`${server.url}/emails/batch`, {
					method: "POST",
					headers: { authorization: `Bearer ${keys[b % keys.length]}`, "content-type": "application/json" },
					body: JSON.stringify(body),
				});
				const json = await res.json();
				if (!res.ok) throw new Error(`batch: ${res.status} ${JSON.stringify(json)}`);
				const at = performance.now();
				for (const { id } of json.data) accepted.set(id, at);
				n += size;
			}
			const deadline = Date.now() + 15 * 60_000;
			while (delivered.size < accepted.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
			finished = Math.max(...delivered.values());
		});
		const after = await mailroomMetrics(server);
		const latencies = [...accepted].flatMap(([id, at]) => (delivered.has(id) ? [delivered.get(id) - at] : [])).sort((a, b) => a - b);
		const pct = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0);
		const emails = accepted.size;
		const done = delivered.size;
		const summary = summariseProfile(profile, { bundle: server.bundle, phases: PIPELINE_PHASES });
		const cpu = cpuPer(summary, usage, done);
		results.pipeline = {
			emails,
			delivered: done,
			provider_latency_ms: opts["latency-ms"],
			emails_per_second: Math.round((done / (finished - started)) * 1000),
			p50_ms: pct(50),
			p99_ms: pct(99),
			cpu_ms_per_delivered_email: cpu.cpu_ms,
			do_ms_per_delivered_email: cpu.do_ms,
			workerd_thread_cpu_ms_per_delivered_email: cpu.workerd_thread_cpu_ms,
			// Where the CPU went by the first of our modules on each sample's stack; drizzle and D1 work resumed after an
			// await has none of ours below it and stays unattributed.
			cpu_ms_per_delivered_email_by_phase: Object.fromEntries(
				Object.entries(summary.phases).map(([k, v]) => [k, round(v / Math.max(1, done))]),
			),
			top_self: topSelf(summary, cpu, done, 10),
		};
		const per = (value, count) => round(value / Math.max(1, count));
		const phaseDelta = (phase) => difference(after[phase], before[phase]);
		const counts = {};
		for (const phase of ["accept", "consume", "webhook"]) {
			const d = phaseDelta(phase);
			counts[phase] = {
				invocations: d.invocations ?? 0,
				d1_round_trips: d.d1_round_trips ?? 0,
				d1_rows_read: d.rows_read ?? 0,
				d1_rows_written: d.rows_written ?? 0,
				d1_unmetered_reads: d.d1_unmetered_reads ?? 0,
				d1_unmetered_writes: d.d1_unmetered_writes ?? 0,
				do_rpcs: d.do_rpcs ?? 0,
				queue_messages: d.queue_messages ?? 0,
				queue_bytes: d.queue_bytes ?? 0,
			};
		}
		const sum = (field) => counts.accept[field] + counts.consume[field] + counts.webhook[field];
		const perEmail = (c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, per(v, done)]));
		results.pipeline_counts = {
			note: "BENCH_METRICS counts over the pipeline run; invocations are HTTP requests (accept, provider webhooks) and queue batches (consume, webhook queue). Rows of statements counted as unmetered are not in the row totals.",
			totals: {
				delivered: done,
				requests: sum("invocations"),
				d1_rows_read: sum("d1_rows_read"),
				d1_rows_written: sum("d1_rows_written"),
				d1_unmetered_statements: sum("d1_unmetered_reads") + sum("d1_unmetered_writes"),
				queue_messages: sum("queue_messages"),
				queue_bytes: sum("queue_bytes"),
				do_rpcs: sum("do_rpcs"),
				// Profile time scaled to CPU time (cpuPer), as everywhere else.
				cpu_ms: round(cpu.cpu_ms * done),
				do_ms: round(cpu.do_ms * done),
				provider_calls: providerCalls,
			},
			per_delivered_email: {
				accept: perEmail(counts.accept),
				consume: perEmail(counts.consume),
				webhook: perEmail(counts.webhook),
				d1_rows_written: per(sum("d1_rows_written"), done),
				d1_rows_read: per(sum("d1_rows_read"), done),
				provider_calls: per(providerCalls, done),
			},
			per_consumed_batch: {
				batches: counts.consume.invocations,
				emails: per(done, counts.consume.invocations),
				d1_round_trips: per(counts.consume.d1_round_trips, counts.consume.invocations),
				d1_rows_read: per(counts.consume.d1_rows_read, counts.consume.invocations),
				d1_rows_written: per(counts.consume.d1_rows_written, counts.consume.invocations),
				do_rpcs: per(counts.consume.do_rpcs, counts.consume.invocations),
			},
		};
	} finally {
		server.inspector?.close();
		await server.stop();
		fake.close();
	}
}

// 4. Bundle (the Worker script only: the console's static assets are uploaded beside it, not bundled into it).
if (want("bundle")) {
	step("bundle");
	await ensureAssetsDirectory(PROJECT_ROOT);
	const out = await mkdtemp(path.join(tmpdir(), "mailroom-bundle-"));
	try {
		execFileSync(
			process.execPath,
			[
				path.join(PROJECT_ROOT, "scripts", "wrangler.mjs"),
				"deploy",
				"--dry-run",
				"--outdir",
				out,
				"--metafile",
				path.join(out, "meta.json"),
			],
			{
				cwd: PROJECT_ROOT,
				stdio: "ignore",
			},
		);
		const code = await readFile(path.join(out, "index.js"));
		const meta = JSON.parse(await readFile(path.join(out, "meta.json"), "utf8"));
		const byPackage = new Map();
		for (const output of Object.values(meta.outputs)) {
			for (const [file, info] of Object.entries(output.inputs ?? {})) {
				const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
				const name = m ? m[1] : "(mailroom src)";
				byPackage.set(name, (byPackage.get(name) ?? 0) + info.bytesInOutput);
			}
		}
		results.bundle = {
			raw_kib: Math.round(code.byteLength / 1024),
			gzip_kib: Math.round(gzipSync(code).byteLength / 1024),
			top_modules: [...byPackage]
				.sort((a, b) => b[1] - a[1])
				.slice(0, 5)
				.map(([name, bytes]) => ({ name, kib: Math.round(bytes / 1024) })),
		};
	} finally {
		await rm(out, { recursive: true, force: true });
	}
}

// 5. SMTP, with and without connection reuse; MIME building.
if (want("smtp")) {
	step("smtp");
	const work = await mkdtemp(path.join(tmpdir(), "mailroom-bench-smtp-"));
	const tls = await localCertificate();
	const caFile = path.join(work, "ca.pem");
	await writeFile(caFile, tls.cert);
	const auth = { user: "bench", password: randomBytes(8).toString("hex") };
	results.smtp = { emails: opts["smtp-emails"], transport: "STARTTLS + AUTH PLAIN to 127.0.0.1" };
	try {
		for (const [label, perConnection] of [
			["reuse", "100"],
			["no_reuse", "1"],
		]) {
			const catcher = await startSmtpCatcher({ tls, auth });
			const server = await startBenchServer(
				{
					PROVIDERS: "smtp",
					SMTP_HOST: "127.0.0.1",
					SMTP_PORT: String(catcher.port),
					SMTP_SECURE: "starttls",
					SMTP_USER: auth.user,
					SMTP_PASSWORD: auth.password,
					SMTP_MESSAGES_PER_CONNECTION: perConnection,
					PROVIDER_RATES: JSON.stringify({ smtp: { per_second: 100_000, burst: 100_000 } }),
				},
				{ NODE_EXTRA_CA_CERTS: caFile },
			);
			try {
				const key = await server.tenant(`smtp ${label}`);
				const started = performance.now();
				for (let n = 0; n < opts["smtp-emails"]; n += 100) {
					const size = Math.min(100, opts["smtp-emails"] - n);
					const body = Array.from({ length: size }, (_, i) => ({ ...sendBody, to: `user${n + i}@example.org` }));
					const res = await fetch(`${server.url}/emails/batch`, {
						method: "POST",
						headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
						body: JSON.stringify(body),
					});
					if (!res.ok) throw new Error(`batch: ${res.status} ${await res.text()}`);
				}
				const deadline = Date.now() + 10 * 60_000;
				while (catcher.messages.length < opts["smtp-emails"] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
				const seconds = (performance.now() - started) / 1000;
				results.smtp[label] = {
					received: catcher.messages.length,
					emails_per_second: Math.round(catcher.messages.length / seconds),
					smtp_connections: catcher.connections,
				};
			} finally {
				await server.stop();
				await catcher.close();
			}
		}
		results.smtp.reuse_to_no_reuse_ratio = Number(
			(results.smtp.reuse.emails_per_second / Math.max(1, results.smtp.no_reuse.emails_per_second)).toFixed(2),
		);
	} finally {
		await rm(work, { recursive: true, force: true });
	}

	const { buildMime } = await importWorkerModule('export { buildMime } from "./src/lib/mime";');
	const base = {
		id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01",
		tenantId: "bench",
		from: "Bench <bench@example.com>",
		fromMailbox: { name: "Bench", address: "bench@example.com" },
		to: ["Ann <ann@example.org>"],
		cc: [],
		bcc: [],
		replyTo: [],
		subject: "Your receipt",
		html: null,
		text: "Thanks for your order.",
		headers: {},
		tags: [],
		attachments: [],
	};
	const large = {
		...base,
		html: `<p>${"Thanks for your order. ".repeat(200)}</p>`,
		attachments: [
			{ filename: "receipt.pdf", contentType: "application/pdf", content: randomBytes(100 * 1024).toString("base64"), contentId: null },
		],
	};
	const timePerEmail = (email, runs) => {
		for (let i = 0; i < 50; i++) buildMime(email, { date: new Date(), messageId: "<bench@example.com>" });
		const started = performance.now();
		for (let i = 0; i < runs; i++) buildMime(email, { date: new Date(), messageId: "<bench@example.com>" });
		return Number((((performance.now() - started) * 1000) / runs).toFixed(1));
	};
	results.mime_build_us_per_email = { small: timePerEmail(base, 5000), html_and_100kib_attachment: timePerEmail(large, 500) };
}

results.load_average_end = Number(loadavg()[0].toFixed(2));

// A run of some phases keeps the other phases' last numbers; the cost table is computed from what is there.
const merged = phases.size < ALL_PHASES.length ? { ...previous, ...results } : results;
merged.cost = costScenarios(merged, prices);
const before = opts.compare ? (committedResults(PROJECT_ROOT) ?? previous) : null;
if (!opts.compare || opts.write) await writeFile(resultsFile, `${JSON.stringify(merged, null, "\t")}\n`);

const row = (r) => (r ? `${r.rps} req/s, p50 ${r.p50_ms} ms, p90 ${r.p90_ms ?? "—"} ms, p99 ${r.p99_ms} ms` : "—");
console.table({
	"POST /emails c16, Mailroom (median)": row(merged.accept?.c16),
	"POST /emails c16, floor (median)": row(merged.floor?.c16),
	"Mailroom / floor: rps, CPU per request": `${merged.accept_vs_floor?.rps_ratio}, ${merged.accept_vs_floor?.cpu_ratio}`,
	"worker CPU per request: Mailroom, floor": `${merged.isolate?.mailroom?.cpu_ms} ms, ${merged.isolate?.floor?.cpu_ms} ms`,
	"remote calls per single send: Mailroom, floor": `${merged.calls_per_send?.mailroom?.single?.total}, ${merged.calls_per_send?.floor?.single?.total}`,
	"POST /emails c1 / c64": `${row(merged.accept?.c1)} / ${row(merged.accept?.c64)}`,
	"POST /emails c16, limiter off": row(merged.accept_limiter_off?.c16),
	"GET /health c16": row(merged.health?.c16),
	"POST /emails/batch": `${merged.batch?.emails_per_second} emails/s, ${merged.batch?.cpu_ms_per_email} ms CPU per email`,
	"POST /emails/batch, 20 KB template": `${merged.batch_templated?.templated?.emails_per_second} emails/s (same html pre-rendered: ${merged.batch_templated?.plain_same_html?.emails_per_second})`,
	pipeline: `${merged.pipeline?.emails_per_second} emails/s, p50 ${merged.pipeline?.p50_ms} ms, p99 ${merged.pipeline?.p99_ms} ms (${merged.pipeline?.delivered}/${merged.pipeline?.emails} delivered)`,
	"pipeline: CPU per delivered email": `${merged.pipeline?.cpu_ms_per_delivered_email} ms`,
	"D1 rows written per delivered email": merged.pipeline_counts?.per_delivered_email?.d1_rows_written,
	"cost per 1M emails, batches of 100 / single sends": `$${merged.cost?.batch_of_100?.total_usd_per_million} / $${merged.cost?.single_sends?.total_usd_per_million}`,
	bundle: `${merged.bundle?.raw_kib} KiB raw, ${merged.bundle?.gzip_kib} KiB gzip`,
	"SMTP, connection reuse / a connection per email": `${merged.smtp?.reuse?.emails_per_second} / ${merged.smtp?.no_reuse?.emails_per_second} emails/s`,
});
console.log(markdownReport(merged));
if (before)
	console.log(
		`\nAgainst the committed bench/results.json:\n\n${formatComparison(compareResults(before, merged, opts.threshold), opts.threshold)}`,
	);
if (opts.compare && !opts.write) console.log("\nbench/results.json left as it was (--write to replace it).");
