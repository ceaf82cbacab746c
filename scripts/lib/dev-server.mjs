/**
 * Starts `wrangler dev` for this project and provisions a local tenant through the admin API.
 * Shared by `npm run dev` (scripts/dev.mjs) and the end-to-end tests (test/e2e/).
 *
 * wrangler always runs through scripts/wrangler.mjs (its own bin refuses Node 20).
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAssetsDirectory } from "./console-build.mjs";

/** The repository root (this file is scripts/lib/dev-server.mjs). */
export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER = path.join(PROJECT_ROOT, "scripts", "wrangler.mjs");
const D1_DATABASE = "mailroom";
/** How much of wrangler's output is kept for error messages. */
const LOG_LIMIT = 64 * 1024;

/** A bounded text buffer of a child's stdout and stderr, for error messages. */
class OutputLog {
	#text = "";
	append(chunk) {
		this.#text += chunk;
		if (this.#text.length > LOG_LIMIT) this.#text = this.#text.slice(-LOG_LIMIT);
	}
	toString() {
		return this.#text;
	}
}

function wranglerEnv(extra = {}) {
	return { ...process.env, WRANGLER_SEND_METRICS: "false", ...extra };
}

/** Rejects unless `port` can be bound on `host` right now (a busy port would make /health answer for someone else). */
export function assertPortFree(port, host = "127.0.0.1") {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", (err) => {
			const busy = err && /** @type {NodeJS.ErrnoException} */ (err).code === "EADDRINUSE";
			reject(new Error(busy ? `Port ${port} on ${host} is already in use (is another dev server running?)` : String(err)));
		});
		server.listen(port, host, () => server.close(() => resolve()));
	});
}

/** A TCP port that was free a moment ago (the OS picks it). */
export function findFreePort(host = "127.0.0.1") {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, host, () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => (port ? resolve(port) : reject(new Error("Could not determine a free port"))));
		});
	});
}

/**
 * Applies the D1 migrations to the local database, without prompting (stdin is not a TTY and CI=true).
 * Returns wrangler's output; throws with it when wrangler fails.
 */
export async function applyLocalMigrations({ persistTo, cwd = PROJECT_ROOT, config } = {}) {
	const args = [WRANGLER, "d1", "migrations", "apply", D1_DATABASE, "--local"];
	if (persistTo) args.push("--persist-to", persistTo);
	if (config) args.push("--config", config);
	const log = new OutputLog();
	const child = spawn(process.execPath, args, { cwd, env: wranglerEnv({ CI: "true" }), stdio: ["ignore", "pipe", "pipe"] });
	child.stdout.setEncoding("utf8").on("data", (c) => log.append(c));
	child.stderr.setEncoding("utf8").on("data", (c) => log.append(c));
	const code = await new Promise((resolve, reject) => {
		child.once("error", reject);
		child.once("close", (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
	});
	if (code !== 0) throw new Error(`wrangler d1 migrations apply failed (exit ${code}):\n${log}`);
	return log.toString();
}

/** Sends `signal` to the whole process group led by `pid`; false when nothing is left to signal. */
function signalGroup(pid, signal) {
	try {
		process.kill(-pid, signal);
		return true;
	} catch (err) {
		if (/** @type {NodeJS.ErrnoException} */ (err).code === "ESRCH") return false;
		throw err;
	}
}

function groupAlive(pid) {
	return signalGroup(pid, 0);
}

/** Parses dotenv syntax: KEY=value, KEY="value" or KEY='value', `#` comments, optional `export `. */
export function parseDotenv(text) {
	const vars = {};
	for (const raw of text.split(/\r?\n/)) {
		const line = raw.trim();
		if (!line || line.startsWith("#")) continue;
		const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
		if (!match) continue;
		const [, key, rest] = /** @type {[string, string, string]} */ (match);
		let value = rest.trim();
		const quote = value[0];
		if ((quote === '"' || quote === "'" || quote === "`") && value.indexOf(quote, 1) > 0) {
			value = value.slice(1, value.indexOf(quote, 1));
			if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"');
		} else {
			value = value.replace(/\s+#.*$/, "");
		}
		vars[key] = value;
	}
	return vars;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies local migrations, then runs `wrangler dev` on `port` (127.0.0.1) and resolves once `GET /health`
 * answers 200. The child is the leader of its own process group, so `stop()` ends wrangler, esbuild and
 * workerd together.
 *
 * @param {object} options
 * @param {number} [options.port] defaults to 8787
 * @param {string} [options.ip] defaults to 127.0.0.1
 * @param {string} [options.persistTo] local state directory; omitted → wrangler's default (.wrangler/state)
 * @param {Record<string, string>} [options.vars] passed as `--var KEY:VALUE` (override wrangler.jsonc and .dev.vars)
 * @param {number} [options.timeoutMs] how long to wait for /health, default 60 s
 * @param {(chunk: string, stream: "stdout" | "stderr") => void} [options.onOutput] sees wrangler's output as it arrives
 * @param {string} [options.cwd] project directory, defaults to this repository
 * @param {Record<string, string>} [options.env] extra environment for wrangler (e.g. NODE_EXTRA_CA_CERTS, which
 *   workerd's outbound TLS then trusts: the e2e tests' self-signed SMTP certificate)
 * @param {string} [options.config] a wrangler configuration file other than `cwd`'s wrangler.jsonc (the benchmark's
 *   minimal Worker, bench/floor/wrangler.jsonc)
 * @param {number} [options.inspectorPort] the DevTools port; 0 (the default) lets the OS pick one
 */
export async function startDevServer(options = {}) {
	const {
		port = 8787,
		ip = "127.0.0.1",
		persistTo,
		vars = {},
		timeoutMs = 60_000,
		onOutput,
		cwd = PROJECT_ROOT,
		env = {},
		config,
		inspectorPort = 0,
	} = options;
	await assertPortFree(port, ip);
	// wrangler refuses to start without the assets directory; the console itself is built by its users (dev, e2e).
	await ensureAssetsDirectory(cwd);
	await applyLocalMigrations({ persistTo, cwd, config });

	const args = [
		WRANGLER,
		"dev",
		"--port",
		String(port),
		"--ip",
		ip,
		"--show-interactive-dev-session=false",
		// 0: the OS picks a free port, so parallel dev servers never clash on 9229.
		"--inspector-port",
		String(inspectorPort),
	];
	if (config) args.push("--config", config);
	if (persistTo) args.push("--persist-to", persistTo);
	for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);

	const log = new OutputLog();
	const child = spawn(process.execPath, args, {
		cwd,
		env: wranglerEnv(env),
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
	});
	const pid = child.pid;
	if (pid === undefined) {
		await new Promise((resolve) => child.once("error", resolve));
		throw new Error("Could not spawn wrangler dev");
	}
	for (const stream of /** @type {const} */ (["stdout", "stderr"])) {
		child[stream].setEncoding("utf8").on("data", (chunk) => {
			log.append(chunk);
			onOutput?.(chunk, stream);
		});
	}

	/** @type {{ code: number | null, signal: NodeJS.Signals | null } | null} */
	let exited = null;
	const exitedPromise = new Promise((resolve) => {
		child.once("exit", (code, signal) => {
			exited = { code, signal };
			resolve(exited);
		});
	});
	// If this process dies without calling stop(), take the dev server down with it.
	const killOnExit = () => signalGroup(pid, "SIGKILL");
	process.once("exit", killOnExit);

	let stopping = null;
	const stop = () => {
		stopping ??= (async () => {
			process.removeListener("exit", killOnExit);
			if (!groupAlive(pid)) return;
			signalGroup(pid, "SIGTERM");
			const deadline = Date.now() + 5_000;
			// Wait for wrangler itself, then for any straggler in its group (workerd, esbuild).
			await Promise.race([exitedPromise, sleep(5_000)]);
			while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
			if (groupAlive(pid)) {
				signalGroup(pid, "SIGKILL");
				await Promise.race([exitedPromise, sleep(2_000)]);
			}
		})();
		return stopping;
	};

	const url = `http://${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
	const deadline = Date.now() + timeoutMs;
	let lastProblem = "no answer yet";
	while (true) {
		if (exited) {
			await stop();
			throw new Error(`wrangler dev exited before ${url}/health answered (${describeExit(exited)}). Output:\n${log}`);
		}
		if (Date.now() > deadline) {
			await stop();
			throw new Error(`wrangler dev did not answer 200 on ${url}/health within ${timeoutMs} ms (last: ${lastProblem}). Output:\n${log}`);
		}
		try {
			const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
			const body = await res.text();
			if (res.status === 200) break;
			lastProblem = `${res.status} ${body.slice(0, 500)}`;
		} catch (err) {
			lastProblem = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
		}
		await sleep(250);
	}

	return { url, port, pid, stop, output: () => log.toString(), exited: exitedPromise };
}

function describeExit({ code, signal }) {
	return signal ? `signal ${signal}` : `exit code ${code}`;
}

/**
 * A JSON request to a Mailroom (the dev server, or a deployed one for the smoke test) that returns the status and the
 * parsed JSON body (or the text). Network failures reject, as `fetch` does.
 *
 * @param {string} url origin
 * @param {string} method
 * @param {string} pathname
 * @param {string} token bearer token (API key or ADMIN_TOKEN)
 * @param {unknown} [body] sent as JSON
 * @param {{ timeoutMs?: number }} [options]
 */
export async function request(url, method, pathname, token, body, { timeoutMs } = {}) {
	const res = await fetch(new URL(pathname, url), {
		method,
		headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
		body: body === undefined ? undefined : JSON.stringify(body),
		signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
	});
	const text = await res.text();
	let json;
	try {
		json = text ? JSON.parse(text) : undefined;
	} catch {
		json = undefined;
	}
	return { status: res.status, json, text };
}

function fail(what, res) {
	let hint = "";
	if (res.status === 401 || res.status === 403) hint = " (is ADMIN_TOKEN the one this dev server was started with?)";
	return new Error(`${what} answered ${res.status}${hint}: ${res.text.slice(0, 1000)}`);
}

async function readState(stateFile) {
	try {
		const state = JSON.parse(await readFile(stateFile, "utf8"));
		return state && typeof state === "object" ? state : {};
	} catch {
		return {};
	}
}

async function writeState(stateFile, state) {
	await mkdir(path.dirname(stateFile), { recursive: true });
	const tmp = `${stateFile}.${process.pid}.tmp`;
	await writeFile(tmp, `${JSON.stringify(state, null, "\t")}\n`, { mode: 0o600 });
	await rename(tmp, stateFile);
}

/** Limits of the local dev tenant (the admin API's defaults are 10 requests/s, burst 20). */
export const DEV_TENANT_LIMITS = {
	api_rate: { per_second: 100, burst: 500 },
	send_rate: { per_second: 100, burst: 500 },
	daily_quota: 100_000,
};

/**
 * Makes sure a `dev` tenant and a full-access API key exist, reusing the ones recorded in `stateFile` when the
 * server still knows them. Keys are stored hashed, so the token itself lives only in the state file.
 *
 * @param {object} options
 * @param {string} options.url the dev server's origin
 * @param {string} options.adminToken the server's ADMIN_TOKEN
 * @param {string} options.stateFile JSON file holding `{ tenantId, apiKeyId, token }`
 * @param {string} [options.name] tenant and key name, default "dev"
 * @param {string[]} [options.allowedFromDomains] default ["example.com", "resend.dev"]
 */
export async function ensureDevTenant(options) {
	const { url, adminToken, stateFile, name = "dev", allowedFromDomains = ["example.com", "resend.dev"] } = options;
	const state = await readState(stateFile);

	// 1. The recorded key still works: nothing to do.
	if (typeof state.token === "string" && typeof state.tenantId === "string") {
		const keys = await request(url, "GET", "/api-keys", state.token);
		if (keys.status === 200) {
			const tenant = await request(url, "GET", `/admin/tenants/${encodeURIComponent(state.tenantId)}`, adminToken);
			if (tenant.status !== 200) throw fail(`GET /admin/tenants/${state.tenantId}`, tenant);
			return { ...pick(state), tenant: tenant.json, createdTenant: false, createdKey: false };
		}
	}

	// 2. The recorded tenant still exists: mint a new key for it. 3. Otherwise create both.
	let tenant;
	let createdTenant = false;
	if (typeof state.tenantId === "string") {
		const found = await request(url, "GET", `/admin/tenants/${encodeURIComponent(state.tenantId)}`, adminToken);
		if (found.status === 200) tenant = found.json;
		else if (found.status !== 404) throw fail(`GET /admin/tenants/${state.tenantId}`, found);
	}
	if (!tenant) {
		const created = await request(url, "POST", "/admin/tenants", adminToken, {
			name,
			allowed_from_domains: allowedFromDomains,
			// Roomier than a production tenant's defaults: local trying-out and the e2e tests send in quick bursts.
			...DEV_TENANT_LIMITS,
		});
		if (created.status !== 201) throw fail("POST /admin/tenants", created);
		tenant = created.json;
		createdTenant = true;
	}
	const key = await request(url, "POST", `/admin/tenants/${encodeURIComponent(tenant.id)}/api-keys`, adminToken, {
		name,
		permission: "full_access",
	});
	if (key.status !== 201) throw fail(`POST /admin/tenants/${tenant.id}/api-keys`, key);

	const next = { tenantId: tenant.id, apiKeyId: key.json.id, token: key.json.token };
	await writeState(stateFile, next);
	return { ...next, tenant, createdTenant, createdKey: true };
}

function pick(state) {
	return { tenantId: state.tenantId, apiKeyId: state.apiKeyId, token: state.token };
}
