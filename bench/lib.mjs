/** Shared by the benchmarks: a `wrangler dev` on fresh local state, tenants to send as, a fake provider. */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "jsonc-parser";
import { findFreePort, PROJECT_ROOT, startDevServer } from "../scripts/lib/dev-server.mjs";

export function machine() {
	return `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

/** Generous limits for benchmark tenants: the benchmark measures the work, not the limits. */
const BENCH_LIMITS = {
	api_rate: { per_second: 100_000, burst: 100_000 },
	send_rate: { per_second: 100_000, burst: 100_000 },
	daily_quota: 100_000_000,
};

/**
 * Starts wrangler dev with `vars` (and `env` for the wrangler process, e.g. NODE_EXTRA_CA_CERTS); `tenant()` creates a
 * tenant with generous limits and returns its API key. `config` runs another wrangler configuration (see
 * `acceptOnlyConfig`); the DevTools port is `inspectorPort` (for CPU profiles, bench/profile.mjs).
 */
export async function startBenchServer(vars = {}, env = {}, { config } = {}) {
	const stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-bench-"));
	const adminToken = randomBytes(24).toString("hex");
	const inspectorPort = await findFreePort();
	const server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: { ADMIN_TOKEN: adminToken, ...vars },
		env,
		config,
		inspectorPort,
	});
	const admin = async (url, body) => {
		const res = await fetch(`${server.url}${url}`, {
			method: "POST",
			headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
			body: JSON.stringify(body),
		});
		if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
		return res.json();
	};
	return {
		url: server.url,
		pid: server.pid,
		inspectorPort,
		adminToken,
		admin,
		async tenant(name, limits = {}) {
			const t = await admin("/admin/tenants", { name, allowed_from_domains: ["example.com"], ...BENCH_LIMITS, ...limits });
			return (await admin(`/admin/tenants/${t.id}/api-keys`, { name: "bench" })).token;
		},
		async stop() {
			await server.stop();
			await rm(stateDir, { recursive: true, force: true });
		},
	};
}

/** The minimal Worker (bench/floor) on fresh state; `tenant()` seeds a tenant through its bench-only route. */
export async function startFloorServer() {
	const server = await startBenchServer({}, {}, { config: path.join(PROJECT_ROOT, "bench", "floor", "wrangler.jsonc") });
	return {
		...server,
		async tenant() {
			return (await server.admin("/__floor/tenant", { allowed_from_domains: ["example.com"], ...BENCH_LIMITS })).token;
		},
	};
}

/**
 * Mailroom's wrangler.jsonc without queue consumers, written to bench/.tmp: the accept benchmarks measure accepting,
 * and a consumer working through the accepted emails in the same isolate would be counted as accept CPU. The
 * consumer is measured by the pipeline phase, which runs the real configuration.
 */
export async function acceptOnlyConfig() {
	const config = parse(readFileSync(path.join(PROJECT_ROOT, "wrangler.jsonc"), "utf8"));
	const root = (p) => path.join(PROJECT_ROOT, p);
	const { $schema, env: _environments, queues, triggers: _crons, ...rest } = config;
	const accept = {
		...rest,
		main: root(config.main),
		assets: { ...config.assets, directory: root(config.assets.directory) },
		d1_databases: config.d1_databases.map((d) => ({ ...d, migrations_dir: root(d.migrations_dir) })),
		queues: { producers: queues.producers },
	};
	const dir = path.join(PROJECT_ROOT, "bench", ".tmp");
	await mkdir(dir, { recursive: true });
	const file = path.join(dir, "wrangler.accept.jsonc");
	await writeFile(file, `${JSON.stringify(accept, null, "\t")}\n`);
	return file;
}

/**
 * CPU seconds (user + system) and resident MiB of the processes in wrangler's process group (`pid` leads it):
 * wrangler, esbuild and workerd; and for each workerd thread the kernel's schedstat: seconds it ran on a CPU and
 * seconds it waited, runnable, for one (preempted by other processes). Null when /proc cannot be read.
 */
export async function processGroupUsage(pid) {
	let pids = [];
	try {
		pids = execFileSync("pgrep", ["-g", String(pid)], { encoding: "utf8" })
			.trim()
			.split("\n")
			.filter(Boolean);
	} catch {
		return null;
	}
	const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	const cpuOf = (stat) => {
		const fields = stat.split(") ")[1]?.split(" ") ?? [];
		return (Number(fields[11]) + Number(fields[12])) / ticks;
	};
	let cpu = 0;
	let rssKiB = 0;
	const threads = {};
	for (const p of pids) {
		try {
			const comm = (await readFile(`/proc/${p}/comm`, "utf8")).trim();
			cpu += cpuOf(await readFile(`/proc/${p}/stat`, "utf8"));
			rssKiB += Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
			if (comm !== "workerd") continue;
			for (const tid of await readdir(`/proc/${p}/task`)) {
				const [run = 0, wait = 0] = (await readFile(`/proc/${p}/task/${tid}/schedstat`, "utf8")).split(" ").map(Number);
				threads[`${p}/${tid}`] = { run: run / 1e9, wait: wait / 1e9 };
			}
		} catch {
			// The process ended between pgrep and the read.
		}
	}
	return { cpuSeconds: cpu, rssMiB: Math.round(rssKiB / 1024), threads };
}

/**
 * Between two `processGroupUsage` readings: the group's CPU seconds, and the workerd thread that ran the most (the one
 * running the Worker's isolate, and in wrangler dev the local D1, queue and Durable Object simulators too): its CPU
 * seconds and the seconds it waited for a CPU.
 */
export function usageBetween(before, after) {
	if (!before || !after) return null;
	let thread = { run: 0, wait: 0 };
	for (const [id, now] of Object.entries(after.threads)) {
		const was = before.threads[id] ?? { run: 0, wait: 0 };
		if (now.run - was.run > thread.run) thread = { run: now.run - was.run, wait: now.wait - was.wait };
	}
	return {
		cpuSeconds: after.cpuSeconds - before.cpuSeconds,
		threadSeconds: thread.run,
		threadWaitSeconds: thread.wait,
		rssMiB: after.rssMiB,
	};
}

/** Adds `usageBetween` results of several windows of one server (null if any is). */
export function addUsages(usages) {
	if (usages.length === 0 || !usages.every(Boolean)) return null;
	const total = (field) => usages.reduce((n, u) => n + u[field], 0);
	return {
		cpuSeconds: total("cpuSeconds"),
		threadSeconds: total("threadSeconds"),
		threadWaitSeconds: total("threadWaitSeconds"),
		rssMiB: usages.at(-1)?.rssMiB ?? null,
	};
}

/** A fake Resend: answers `{id}` after `latencyMs`; records the time and idempotency key of every call. */
export async function startFakeResend(latencyMs = 0) {
	const calls = [];
	const byKey = new Map();
	const server = createServer((req, res) => {
		req.resume();
		req.on("end", () => {
			const key = req.headers["idempotency-key"];
			calls.push(performance.now());
			byKey.set(key, (byKey.get(key) ?? 0) + 1);
			setTimeout(() => {
				res.writeHead(200, { "content-type": "application/json" });
				res.end(JSON.stringify({ id: `re_${calls.length}` }));
			}, latencyMs);
		});
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		calls,
		duplicates: () => [...byKey.values()].filter((n) => n > 1).length,
		close: () => new Promise((resolve) => server.close(resolve)),
	};
}

/**
 * `--name value` pairs from argv; a name whose default is a boolean is a flag (`--compare`), true when present.
 * Unknown names are refused, so a mistyped option does not silently run the defaults.
 */
export function options(defaults, argv = process.argv.slice(2)) {
	const out = { ...defaults };
	for (let i = 0; i < argv.length; i++) {
		const name = argv[i]?.replace(/^--/, "") ?? "";
		if (!(name in out))
			throw new Error(
				`Unknown option ${argv[i]}; known: ${Object.keys(defaults)
					.map((n) => `--${n}`)
					.join(", ")}`,
			);
		if (typeof defaults[name] === "boolean") {
			out[name] = true;
			continue;
		}
		const value = argv[++i];
		out[name] = value === undefined || Number.isNaN(Number(value)) ? value : Number(value);
	}
	return out;
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	if (sorted.length === 0) return Number.NaN;
	const mid = sorted.length >> 1;
	return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
