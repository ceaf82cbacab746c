/** Shared by the benchmarks: a `wrangler dev` on fresh local state, tenants to send as, a fake provider. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { findFreePort, startDevServer } from "../scripts/lib/dev-server.mjs";

export function machine() {
	return `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

/**
 * Starts wrangler dev with `vars` (and `env` for the wrangler process, e.g. NODE_EXTRA_CA_CERTS); `tenant()` creates a
 * tenant with generous limits and returns its API key.
 */
export async function startBenchServer(vars = {}, env = {}) {
	const stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-bench-"));
	const adminToken = randomBytes(24).toString("hex");
	const server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: { ADMIN_TOKEN: adminToken, ...vars },
		env,
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
		adminToken,
		async tenant(name, limits = {}) {
			const t = await admin("/admin/tenants", {
				name,
				allowed_from_domains: ["example.com"],
				api_rate: { per_second: 100_000, burst: 100_000 },
				send_rate: { per_second: 100_000, burst: 100_000 },
				daily_quota: 100_000_000,
				...limits,
			});
			return (await admin(`/admin/tenants/${t.id}/api-keys`, { name: "bench" })).token;
		},
		async stop() {
			await server.stop();
			await rm(stateDir, { recursive: true, force: true });
		},
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

/** `--name value` pairs from argv. */
export function options(defaults) {
	const out = { ...defaults };
	const argv = process.argv.slice(2);
	for (let i = 0; i < argv.length; i += 2) {
		const name = argv[i]?.replace(/^--/, "");
		if (name && name in out) out[name] = Number.isNaN(Number(argv[i + 1])) ? argv[i + 1] : Number(argv[i + 1]);
	}
	return out;
}
