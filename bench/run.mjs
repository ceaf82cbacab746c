#!/usr/bin/env node
/**
 * `npm run bench`: numbers, not pass/fail. Each phase runs against its own `wrangler dev` on fresh local state:
 *
 * 1. Accept path: autocannon on `POST /emails` at 1, 16 and 64 connections; `GET /health` at 16 (the platform's
 *    floor); the same accept run with RATE_LIMITING=off for the limiter's cost.
 * 2. Batch accept: `POST /emails/batch` with 100 emails per request: plain, rendered from a 20 KB template with 10
 *    variables per recipient, and plain with that html pre-rendered (same rows written, no rendering); then the
 *    render cost per email of that template (bench/render.mjs).
 * 3. Pipeline: N emails over 10 tenants, accepted by batch, sent by the consumer to a fake Resend (latency set by
 *    --latency-ms) that confirms each one with a signed `email.delivered` webhook; emails/s end to end and p50/p99
 *    accept→delivered. BENCH_METRICS=on counts D1 queries, rows and RateLimiter RPCs per phase in the Worker.
 * 4. Bundle: `wrangler deploy --dry-run` size, raw and gzip, and the five largest packages in it.
 * 5. Isolate: workerd reports no per-request CPU or memory locally, so this reads the workerd process from /proc:
 *    its resident memory and the CPU time it spent during the c16 accept run, per request (an upper bound: it includes
 *    the runtime itself, the consumer working in the background, and the Durable Object).
 * 6. SMTP: --smtp-emails emails accepted by batch and sent by the consumer over STARTTLS with AUTH to a local SMTP
 *    server (scripts/lib/smtp-catcher.mjs), emails/s from the first accept to the last message received, with
 *    connection reuse (SMTP_MESSAGES_PER_CONNECTION=100) and without (1), and the connections each opened; and the
 *    time `buildMime` takes per email (small, and with html and a 100 KiB attachment), in Node's V8.
 *
 *   node bench/run.mjs [--seconds 10] [--emails 5000] [--latency-ms 20] [--smtp-emails 1000] [--phases accept,batch,pipeline,bundle,smtp]
 *
 * Writes bench/results.json and prints a table.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
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
import { measureLanes } from "./lanes.mjs";
import { machine, options, startBenchServer } from "./lib.mjs";
import { measureRender } from "./render.mjs";
import { orderConfirmationTemplate, orderValues } from "./template-fixture.mjs";

const opts = options({ seconds: 10, emails: 5000, "latency-ms": 20, "smtp-emails": 1000, phases: "accept,batch,pipeline,bundle,smtp" });
const phases = new Set(String(opts.phases).split(","));
const want = (phase) => phases.has(phase);
// The 1-minute load average at the start and end: on a shared machine, what the other numbers should be read against.
const results = { date: new Date().toISOString(), machine: machine(), load_average_start: Number(loadavg()[0].toFixed(2)) };
const sendBody = JSON.stringify({ from: "Bench <bench@example.com>", to: "delivered@example.org", subject: "bench", text: "hello" });

async function load(url, init, connections) {
	const r = await autocannon({ url, connections, duration: opts.seconds, ...init });
	return { rps: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99, non_2xx: r.non2xx, errors: r.errors };
}

/** CPU seconds (user + system) and resident MiB of the running workerd processes, from /proc. */
function workerdUsage() {
	let pids = [];
	try {
		pids = execFileSync("pgrep", ["-f", "workerd serve"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
	} catch {
		return null;
	}
	const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	let cpu = 0;
	let rssKiB = 0;
	for (const pid of pids) {
		try {
			const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
			cpu += (Number(fields[11]) + Number(fields[12])) / ticks;
			rssKiB += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
		} catch {
			// The process ended between pgrep and the read.
		}
	}
	return { cpuSeconds: cpu, rssMiB: Math.round(rssKiB / 1024) };
}

// 1. Accept path, and the isolate's cost per request.
if (want("accept")) {
	const server = await startBenchServer({});
	try {
		const key = await server.tenant("accept");
		const send = { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: sendBody };
		const idle = workerdUsage();
		const c16 = await load(`${server.url}/emails`, send, 16);
		const busy = workerdUsage();
		results.accept = { c1: await load(`${server.url}/emails`, send, 1), c16, c64: await load(`${server.url}/emails`, send, 64) };
		results.health = { c16: await load(`${server.url}/health`, {}, 16) };
		const requests = c16.rps * opts.seconds;
		results.isolate =
			idle && busy
				? {
						workerd_rss_mib_idle: idle.rssMiB,
						workerd_rss_mib_after_load: busy.rssMiB,
						workerd_cpu_ms_per_accepted_request: Number((((busy.cpuSeconds - idle.cpuSeconds) * 1000) / Math.max(1, requests)).toFixed(2)),
						note: "workerd reports no per-request CPU or memory in wrangler dev; these are the workerd process's own numbers from /proc",
					}
				: { note: "workerd process not found; no memory or CPU numbers" };
	} finally {
		await server.stop();
	}
	const off = await startBenchServer({ RATE_LIMITING: "off" });
	try {
		const key = await off.tenant("accept-off");
		const c16 = await load(
			`${off.url}/emails`,
			{ method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: sendBody },
			16,
		);
		results.accept_limiter_off = { c16 };
		results.accept_limiter_ratio_on_to_off = Number((results.accept.c16.rps / c16.rps).toFixed(3));
	} finally {
		await off.stop();
	}
	results.accept_to_health_ratio = Number((results.accept.c16.rps / results.health.c16.rps).toFixed(3));
}

// 2. Batch accept: plain emails, then in the same server the same batch with the 20 KB template rendered per email,
//    and, to tell rendering from writing bigger rows, plain emails carrying that template's html already rendered.
if (want("batch")) {
	const server = await startBenchServer({});
	try {
		const key = await server.tenant("batch");
		const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
		const batchBody = (item) => JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ to: `user${i}@example.org`, ...item(i) })));
		/** Batches of 100 at 4 connections; emails/s from the requests completed, not autocannon's rounded average. */
		const batchRun = async (body) => {
			const r = await autocannon({
				url: `${server.url}/emails/batch`,
				connections: 4,
				duration: opts.seconds,
				method: "POST",
				headers,
				body,
			});
			if (r.non2xx > 0 || r.errors > 0) throw new Error(`batch answered ${r.non2xx} non-2xx, ${r.errors} errors`);
			return { emailsPerSecond: (r.requests.total * 100) / r.duration, p50: r.latency.p50, p99: r.latency.p99 };
		};
		const summary = (runs) => ({
			emails_per_second: Math.round(runs.reduce((n, r) => n + r.emailsPerSecond, 0) / runs.length),
			p50_ms: Math.max(...runs.map((r) => r.p50)),
			p99_ms: Math.max(...runs.map((r) => r.p99)),
			runs: runs.length,
		});
		const plainBody = batchBody(() => ({ ...JSON.parse(sendBody) }));

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
		// Two interleaved rounds, so a neighbour's load on a shared machine does not fall on one kind only.
		const runs = { plain: [], templated: [], prerendered: [] };
		for (let round = 0; round < 2; round++) {
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
			templated_to_plain_ratio: Number((templated.emails_per_second / results.batch.emails_per_second).toFixed(3)),
			templated_to_plain_same_html_ratio: Number((templated.emails_per_second / prerendered.emails_per_second).toFixed(3)),
		};
	} finally {
		await server.stop();
	}
}

// 2b. Render cost per email (Node, the Worker's module; see bench/render.mjs).
results.render = await measureRender();

// 3. Pipeline to delivered, with cost counters.
if (want("pipeline")) {
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
		const metrics = async () =>
			(await (await fetch(`${server.url}/admin/bench-metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).json())
				.phases;
		const before = await metrics();
		const accepted = new Map();
		const started = performance.now();
		for (let n = 0, b = 0; n < opts.emails; b++) {
			const size = Math.min(100, opts.emails - n);
			const body = Array.from({ length: size }, (_, i) => ({ ...JSON.parse(sendBody), to: `user${n + i}@example.org` }));
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
		const finished = Math.max(...delivered.values());
		const after = await metrics();
		const delta = (phase, field) => (after[phase]?.[field] ?? 0) - (before[phase]?.[field] ?? 0);
		const latencies = [...accepted].flatMap(([id, at]) => (delivered.has(id) ? [delivered.get(id) - at] : [])).sort((a, b) => a - b);
		const pct = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0);
		const emails = accepted.size;
		const done = delivered.size;
		results.pipeline = {
			emails,
			delivered: done,
			provider_latency_ms: opts["latency-ms"],
			emails_per_second: Math.round((done / (finished - started)) * 1000),
			p50_ms: pct(50),
			p99_ms: pct(99),
		};
		const per = (value, count) => Number((value / Math.max(1, count)).toFixed(3));
		results.cost = {
			d1_queries_per_accepted_email: per(delta("accept", "d1_queries"), emails),
			d1_round_trips_per_accepted_email: per(delta("accept", "d1_round_trips"), emails),
			d1_rows_read_per_accepted_email: per(delta("accept", "rows_read"), emails),
			d1_rows_written_per_accepted_email: per(delta("accept", "rows_written"), emails),
			d1_queries_per_delivered_email: per(delta("consume", "d1_queries") + delta("webhook", "d1_queries"), done),
			d1_rows_read_per_delivered_email: per(delta("consume", "rows_read") + delta("webhook", "rows_read"), done),
			d1_rows_written_per_delivered_email: per(delta("consume", "rows_written") + delta("webhook", "rows_written"), done),
			do_rpcs_per_email: per(delta("accept", "do_rpcs") + delta("consume", "do_rpcs"), emails),
			provider_calls_per_email: per(providerCalls, emails),
			note: "rows are lower bounds: D1 reports none for drizzle's single selects (raw())",
		};
	} finally {
		await server.stop();
		fake.close();
	}
}

// 4. Bundle (the Worker script only: the console's static assets are uploaded beside it, not bundled into it).
if (want("bundle")) {
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

// 6. SMTP, with and without connection reuse; MIME building.
if (want("smtp")) {
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
					const body = Array.from({ length: size }, (_, i) => ({ ...JSON.parse(sendBody), to: `user${n + i}@example.org` }));
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

// 7. Priority lanes (bench/lanes.mjs; only when asked: --phases lanes).
if (want("lanes")) results.lanes = await measureLanes();

results.load_average_end = Number(loadavg()[0].toFixed(2));
// A run of some phases keeps the other phases' last numbers.
const resultsFile = path.join(PROJECT_ROOT, "bench", "results.json");
const previous = phases.size < 5 ? JSON.parse(await readFile(resultsFile, "utf8").catch(() => "{}")) : {};
await writeFile(resultsFile, `${JSON.stringify({ ...previous, ...results }, null, "\t")}\n`);
const row = (r) => (r ? `${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms` : "—");
console.table({
	"POST /emails c1": row(results.accept?.c1),
	"POST /emails c16": row(results.accept?.c16),
	"POST /emails c64": row(results.accept?.c64),
	"POST /emails c16, limiter off": row(results.accept_limiter_off?.c16),
	"GET /health c16": row(results.health?.c16),
	"accept / health (c16)": results.accept_to_health_ratio,
	"POST /emails/batch": `${results.batch?.emails_per_second} emails/s`,
	"POST /emails/batch, 20 KB template": `${results.batch_templated?.templated?.emails_per_second} emails/s (same html pre-rendered: ${results.batch_templated?.plain_same_html?.emails_per_second})`,
	"render / email (20 KB, 10 vars)": `p50 ${results.render?.render_p50_ms} ms, p99 ${results.render?.render_p99_ms} ms; compile once ${results.render?.compile_p50_ms} ms`,
	pipeline: `${results.pipeline?.emails_per_second} emails/s, p50 ${results.pipeline?.p50_ms} ms, p99 ${results.pipeline?.p99_ms} ms (${results.pipeline?.delivered}/${results.pipeline?.emails} delivered)`,
	"D1 queries / accepted email": results.cost?.d1_queries_per_accepted_email,
	"D1 queries / delivered email": results.cost?.d1_queries_per_delivered_email,
	"DO RPCs / email": results.cost?.do_rpcs_per_email,
	"provider calls / email": results.cost?.provider_calls_per_email,
	bundle: `${results.bundle?.raw_kib} KiB raw, ${results.bundle?.gzip_kib} KiB gzip`,
	"SMTP, connection reuse": `${results.smtp?.reuse?.emails_per_second} emails/s (${results.smtp?.reuse?.smtp_connections} connections)`,
	"SMTP, a connection per email": `${results.smtp?.no_reuse?.emails_per_second} emails/s (${results.smtp?.no_reuse?.smtp_connections} connections)`,
	"buildMime / email": `${results.mime_build_us_per_email?.small} µs small, ${results.mime_build_us_per_email?.html_and_100kib_attachment} µs with html + 100 KiB attachment`,
	"workerd CPU / accepted request":
		results.isolate?.workerd_cpu_ms_per_accepted_request === undefined
			? results.isolate?.note
			: `${results.isolate.workerd_cpu_ms_per_accepted_request} ms`,
});
