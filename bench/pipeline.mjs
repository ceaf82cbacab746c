#!/usr/bin/env node
/**
 * Pipeline throughput: emails accepted through `POST /emails/batch` on a real `wrangler dev` (local D1, queue and
 * consumer) and delivered to a fake Resend HTTP server in this process, with configurable latency.
 *
 *   node bench/pipeline.mjs [--emails 2000] [--latency-ms 50] [--tenants 10]
 *
 * Prints accept throughput, consumer throughput (provider calls per second, first to last), duplicates seen by
 * the provider (expected 0) and writes bench/results-pipeline.json. Numbers, not pass/fail; local queues run one
 * consumer invocation at a time (max_concurrency is ignored locally), so production scales further.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/lib/dev-server.mjs";
import { machine, options, startBenchServer, startFakeResend } from "./lib.mjs";

const opts = options({ emails: 2000, "latency-ms": 50, tenants: 10 });
const EMAILS = opts.emails;
const LATENCY_MS = opts["latency-ms"];
const TENANTS = opts.tenants;

const fake = await startFakeResend(LATENCY_MS);
const calls = fake.calls;
const server = await startBenchServer({
	PROVIDERS: "resend",
	RESEND_API_KEY: "re_bench",
	RESEND_BASE_URL: fake.url,
	PROVIDER_RATES: JSON.stringify({ resend: { per_second: 100_000, burst: 100_000 } }),
});

async function api(method, url, key, body) {
	const res = await fetch(`${server.url}${url}`, {
		method,
		headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const json = await res.json();
	if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
	return json;
}

try {
	const keys = [];
	for (let i = 0; i < TENANTS; i++) keys.push(await server.tenant(`bench ${i}`));
	const acceptStart = performance.now();
	let accepted = 0;
	for (let batch = 0; accepted < EMAILS; batch++) {
		const size = Math.min(100, EMAILS - accepted);
		const body = Array.from({ length: size }, (_, i) => ({
			from: "Bench <bench@example.com>",
			to: `user${accepted + i}@example.org`,
			subject: `bench ${accepted + i}`,
			text: "hello",
		}));
		const res = await api("POST", "/emails/batch", keys[batch % keys.length], body);
		accepted += res.data.length;
	}
	const acceptMs = performance.now() - acceptStart;
	const deadline = Date.now() + 10 * 60_000;
	while (calls.length < EMAILS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
	const first = calls[0] ?? 0;
	const last = calls[calls.length - 1] ?? 0;
	const duplicates = fake.duplicates();
	const result = {
		date: new Date().toISOString(),
		machine: machine(),
		emails: EMAILS,
		provider_latency_ms: LATENCY_MS,
		accept_emails_per_second: Math.round((EMAILS / acceptMs) * 1000),
		provider_calls: calls.length,
		consumer_emails_per_second: calls.length > 1 ? Math.round(((calls.length - 1) / (last - first)) * 1000) : null,
		accept_to_last_provider_call_s: Number(((last - acceptStart) / 1000).toFixed(1)),
		duplicate_provider_calls: duplicates,
	};
	console.table(result);
	await writeFile(path.join(PROJECT_ROOT, "bench", "results-pipeline.json"), `${JSON.stringify(result, null, "\t")}\n`);
	if (calls.length < EMAILS) process.exitCode = 1;
} finally {
	await server.stop();
	await fake.close();
}
