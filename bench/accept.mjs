#!/usr/bin/env node
/**
 * Accept-path throughput: `POST /emails` with autocannon against `wrangler dev`, the same run twice, once with the
 * RateLimiter on (one RPC per request) and once off (RATE_LIMITING=off), plus `GET /health` as the platform floor.
 *
 *   node bench/accept.mjs [--seconds 10] [--connections 16]
 *
 * Writes bench/results-accept.json. Numbers, not pass/fail. The queue consumer is idle (queue held far in the future
 * via scheduled sends would skew the write path), so sends use the sandbox and are delivered in the background.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import autocannon from "autocannon";
import { PROJECT_ROOT } from "../scripts/lib/dev-server.mjs";
import { machine, options, startBenchServer } from "./lib.mjs";

const opts = options({ seconds: 10, connections: 16 });

async function load(url, init) {
	const result = await autocannon({ url, connections: opts.connections, duration: opts.seconds, ...init });
	return {
		rps: Math.round(result.requests.average),
		p50_ms: result.latency.p50,
		p99_ms: result.latency.p99,
		non_2xx: result.non2xx,
		errors: result.errors,
	};
}

async function measure(rateLimiting) {
	const server = await startBenchServer({ RATE_LIMITING: rateLimiting });
	try {
		const key = await server.tenant(`accept ${rateLimiting}`);
		const body = JSON.stringify({ from: "Bench <bench@example.com>", to: "delivered@example.org", subject: "bench", text: "hello" });
		const send = await load(`${server.url}/emails`, {
			method: "POST",
			headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
			body,
		});
		const health = await load(`${server.url}/health`, {});
		return { send, health };
	} finally {
		await server.stop();
	}
}

const on = await measure("on");
const off = await measure("off");
const result = {
	date: new Date().toISOString(),
	machine: machine(),
	connections: opts.connections,
	seconds: opts.seconds,
	limiter_on: on,
	limiter_off: off,
	accept_rps_ratio_on_to_off: Number((on.send.rps / off.send.rps).toFixed(3)),
	accept_to_health_ratio: Number((on.send.rps / on.health.rps).toFixed(3)),
};
console.table({ "POST /emails, limiter on": on.send, "POST /emails, limiter off": off.send, "GET /health": on.health });
console.log(`accept throughput with the limiter on / off: ${result.accept_rps_ratio_on_to_off}`);
await writeFile(path.join(PROJECT_ROOT, "bench", "results-accept.json"), `${JSON.stringify(result, null, "\t")}\n`);
