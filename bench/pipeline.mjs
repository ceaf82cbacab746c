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
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { findFreePort, PROJECT_ROOT, startDevServer } from "../scripts/lib/dev-server.mjs";

const args = Object.fromEntries(
	process.argv
		.slice(2)
		.join(" ")
		.split("--")
		.filter(Boolean)
		.map((a) => a.trim().split(/\s+/)),
);
const EMAILS = Number(args.emails ?? 2000);
const LATENCY_MS = Number(args["latency-ms"] ?? 50);
const TENANTS = Number(args.tenants ?? 10);

const calls = [];
const seenIds = new Map();
const fake = createServer((req, res) => {
	// The body is not needed; draining it lets the request end.
	req.resume();
	req.on("end", () => {
		const key = req.headers["idempotency-key"];
		calls.push(performance.now());
		seenIds.set(key, (seenIds.get(key) ?? 0) + 1);
		setTimeout(() => {
			res.writeHead(200, { "content-type": "application/json" });
			res.end(JSON.stringify({ id: `re_${calls.length}` }));
		}, LATENCY_MS);
	});
});
await new Promise((resolve) => fake.listen(0, "127.0.0.1", resolve));
const fakeUrl = `http://127.0.0.1:${fake.address().port}`;

const stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-bench-"));
const adminToken = randomBytes(24).toString("hex");
const server = await startDevServer({
	port: await findFreePort(),
	persistTo: path.join(stateDir, "state"),
	vars: { ADMIN_TOKEN: adminToken, PROVIDERS: "resend", RESEND_API_KEY: "re_bench", RESEND_BASE_URL: fakeUrl },
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
	for (let i = 0; i < TENANTS; i++) {
		const tenant = await api("POST", "/admin/tenants", adminToken, { name: `bench ${i}`, allowed_from_domains: ["example.com"] });
		keys.push((await api("POST", `/admin/tenants/${tenant.id}/api-keys`, adminToken, { name: "bench" })).token);
	}
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
	const duplicates = [...seenIds.values()].filter((n) => n > 1).length;
	const result = {
		date: new Date().toISOString(),
		machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
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
	fake.close();
	await rm(stateDir, { recursive: true, force: true });
}
