/**
 * Worker-isolate CPU, from V8 CPU profiles taken over `wrangler dev`'s inspector (the Chrome DevTools Protocol:
 * `Profiler.start` / `Profiler.stop` over a WebSocket, `ws`).
 *
 * What a profile counts. V8 samples the isolate about every `intervalUs`; each sample is the stack at that moment and
 * lasts until the next one (DevTools' convention). `(idle)` samples are time the isolate waited for I/O (workerd marks
 * it idle); every other sample is busy time, split here by the sample's leaf frame:
 * - `bundle_ms`: the Worker's own bundle: our src/ and the libraries bundled with it (hono, zod, drizzle, …);
 * - `runtime_ms`: workerd's built-in modules (`cloudflare-internal:d1-api`, `node-internal:…`) and `native_ms`, its
 *   native functions (`fetch`, a queue's `send`, `Response`, …). In wrangler dev the local D1, queue and Durable
 *   Object simulators run on the same thread, and V8 charges their time to the frame that was waiting for them (a
 *   local D1 query's SQLite time shows as `d1-api`): locally these include work that production runs elsewhere;
 * - `gc_ms` (`(garbage collector)`), `program_ms` (`(program)`: V8 and workerd native code outside any JS frame);
 * - `do_ms`: samples with the RateLimiter's code on the stack, whatever their leaf: the Durable Object runs in the
 *   same isolate locally, and in production its time is billed to the Durable Object, not the Worker.
 * `cpu_ms` is all busy time, `worker_ms` = cpu_ms − do_ms.
 * The profiler measures wall time in each state: when the OS preempts the thread (a shared machine), the wait is
 * charged to whatever was running. bench/run.mjs scales profile times by the thread's run / (run + wait) from the
 * kernel's schedstat over the same window, so the numbers are CPU time.
 *
 * Attribution. workerd names the bundle (wrangler's `.wrangler/tmp/dev-*‍/index.js`); esbuild marks where each input
 * module starts with a `// path` comment, so a frame's line gives its file (src/…) or package (node_modules/<name>).
 * Source maps are not used: drizzle's own maps lose the package name.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

/** A DevTools session with the Worker: `send(method, params)` resolves with the result; `close()`. */
export async function connectInspector(port, host = "127.0.0.1") {
	const targets = await (await fetch(`http://${host}:${port}/json`)).json();
	const target = targets.find((t) => t.webSocketDebuggerUrl);
	if (!target) throw new Error(`No inspector target on ${host}:${port}`);
	const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1024 * 1024 * 1024 });
	await new Promise((resolve, reject) => {
		ws.once("open", resolve);
		ws.once("error", reject);
	});
	let nextId = 0;
	const pending = new Map();
	const listeners = new Set();
	ws.on("message", (data) => {
		const message = JSON.parse(String(data));
		// wrangler's inspector proxy answers some requests with the request itself (method and params, no result).
		if (message.id !== undefined && pending.has(message.id)) {
			const { resolve, reject } = pending.get(message.id);
			pending.delete(message.id);
			if (message.error) reject(new Error(`${message.error.message} (${message.error.code})`));
			else resolve(message.result ?? {});
		} else if (message.method) {
			for (const listener of listeners) listener(message);
		}
	});
	return {
		/** Resolves with the answer's result; rejects after `timeoutMs` (a profile of minutes takes seconds to arrive). */
		send(method, params = {}, timeoutMs = 120_000) {
			return new Promise((resolve, reject) => {
				nextId += 1;
				const id = nextId;
				const timer = setTimeout(() => {
					pending.delete(id);
					reject(new Error(`The inspector did not answer ${method} within ${timeoutMs} ms`));
				}, timeoutMs);
				const settle = (fn) => (value) => {
					clearTimeout(timer);
					fn(value);
				};
				pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
				ws.send(JSON.stringify({ id, method, params }));
			});
		},
		onEvent(listener) {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		close: () => ws.close(),
	};
}

/** Starts the sampling profiler (default interval 1 ms, V8's own default). */
export async function startProfile(inspector, intervalUs = 1000) {
	await inspector.send("Profiler.enable");
	await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
	await inspector.send("Profiler.start");
}

/** Stops it and returns the profile (DevTools' `Profiler.Profile`). */
export async function stopProfile(inspector) {
	const { profile } = await inspector.send("Profiler.stop");
	return profile;
}

/**
 * The Worker's bundle as workerd loaded it: its URL and source, read from disk. `Debugger.enable` replays the
 * scripts already parsed; it is enabled only for this, after the measured window.
 */
export async function workerBundle(inspector) {
	const scripts = [];
	const stop = inspector.onEvent((m) => {
		if (m.method === "Debugger.scriptParsed") scripts.push(m.params);
	});
	try {
		await inspector.send("Debugger.enable");
		await new Promise((resolve) => setTimeout(resolve, 500));
	} finally {
		stop();
		await inspector.send("Debugger.disable").catch(() => undefined);
	}
	const bundle = scripts.find((s) => /\/\.wrangler\/tmp\/dev-[^/]+\/[^/]+\.js$/.test(s.url));
	if (!bundle) throw new Error("The Worker's bundle was not among the inspector's scripts");
	return { url: bundle.url, scriptId: bundle.scriptId, source: await readFile(fileURLToPath(bundle.url), "utf8") };
}

/**
 * Where each bundled module starts: esbuild's `// path` comment lines, as `[{ line, module }]` (1-based lines,
 * ascending). Lines before the first marker belong to `(bundle)`.
 */
export function bundleModules(source) {
	const starts = [];
	const lines = source.split("\n");
	for (let i = 0; i < lines.length; i++) {
		const m = /^\/\/ ((?:\.\.\/)*[\w@.\-/]+\.(?:[cm]?js|[cm]?ts|tsx|json))$/.exec(lines[i] ?? "");
		if (m?.[1]) starts.push({ line: i + 1, module: m[1].replace(/^(?:\.\.\/)+/, "") });
	}
	return starts;
}

/** The module a 1-based line of the bundle belongs to. */
export function moduleAt(modules, line) {
	let lo = 0;
	let hi = modules.length - 1;
	let found = "(bundle)";
	while (lo <= hi) {
		const mid = (lo + hi) >> 1;
		if ((modules[mid]?.line ?? 0) <= line) {
			found = modules[mid]?.module ?? found;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

/** `node_modules/drizzle-orm/sqlite-core/db.js` → `drizzle-orm`; our files stay as they are. */
export function ownerOf(module) {
	const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
	return m?.[1] ?? module;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/**
 * Sums a profile. `bundle` is `{ scriptId, url, modules }` (from `workerBundle` and `bundleModules`); `durableObject`
 * matches the module of the Durable Object's code; `phases` are `[RegExp, name]` rules tried on each sample's frames
 * from the leaf down, the first matching module naming the sample's phase (else `unattributed`). Times in ms.
 */
export function summariseProfile(profile, { bundle, durableObject = /durable-objects\/rate-limiter\.ts$/, phases = [] } = {}) {
	const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
	const parent = new Map();
	for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
	const inBundle = (cf) =>
		Boolean(bundle) && (cf.scriptId === bundle.scriptId || (cf.url !== "" && (cf.url === bundle.url || bundle.url.endsWith(`/${cf.url}`))));
	const frameOwner = new Map();
	const ownerOfNode = (node) => {
		let owner = frameOwner.get(node.id);
		if (owner !== undefined) return owner;
		const cf = node.callFrame;
		if (SPECIAL.has(cf.functionName)) owner = cf.functionName;
		else if (inBundle(cf)) owner = moduleAt(bundle.modules, cf.lineNumber + 1);
		else if (cf.url) owner = cf.url;
		else owner = `(native) ${cf.functionName || "anonymous"}`;
		frameOwner.set(node.id, owner);
		return owner;
	};
	const totals = { idle: 0, bundle: 0, runtime: 0, native: 0, gc: 0, program: 0, do: 0 };
	const self = new Map();
	const byPhase = new Map();
	const { samples, timeDeltas } = profile;
	let elapsed = 0;
	for (const d of timeDeltas) elapsed += d;
	for (let i = 0; i < samples.length; i++) {
		// A sample lasts until the next one; the last one until the profile's end.
		const us = i + 1 < samples.length ? (timeDeltas[i + 1] ?? 0) : Math.max(0, profile.endTime - (profile.startTime + elapsed));
		const leaf = nodes.get(samples[i]);
		if (!leaf) continue;
		const leafName = leaf.callFrame.functionName;
		if (leafName === "(idle)") {
			totals.idle += us;
			continue;
		}
		const owners = [];
		for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
			const node = nodes.get(id);
			if (node) owners.push(ownerOfNode(node));
		}
		if (owners.some((o) => durableObject.test(o))) totals.do += us;
		else if (leafName === "(garbage collector)") totals.gc += us;
		else if (leafName === "(program)" || leafName === "(root)") totals.program += us;
		else if (inBundle(leaf.callFrame)) totals.bundle += us;
		else if (leaf.callFrame.url) totals.runtime += us;
		else totals.native += us;
		const key = ownerOf(owners[0] ?? "(program)");
		self.set(key, (self.get(key) ?? 0) + us);
		const phase = owners.map((o) => phases.find(([rule]) => rule.test(o))?.[1]).find((p) => p !== undefined) ?? "unattributed";
		byPhase.set(phase, (byPhase.get(phase) ?? 0) + us);
	}
	const ms = (us) => us / 1000;
	const busy = totals.bundle + totals.runtime + totals.native + totals.gc + totals.program + totals.do;
	return {
		window_ms: ms(profile.endTime - profile.startTime),
		idle_ms: ms(totals.idle),
		cpu_ms: ms(busy),
		worker_ms: ms(busy - totals.do),
		bundle_ms: ms(totals.bundle),
		runtime_ms: ms(totals.runtime),
		native_ms: ms(totals.native),
		gc_ms: ms(totals.gc),
		program_ms: ms(totals.program),
		do_ms: ms(totals.do),
		samples: samples.length,
		self: [...self].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: ms(us) })),
		phases: Object.fromEntries([...byPhase].map(([name, us]) => [name, ms(us)])),
	};
}

const SUMMED = [
	"window_ms",
	"idle_ms",
	"cpu_ms",
	"worker_ms",
	"bundle_ms",
	"runtime_ms",
	"native_ms",
	"gc_ms",
	"program_ms",
	"do_ms",
	"samples",
];

/** Adds summaries (several measured windows of one server) field by field; `self` and `phases` by name. */
export function addSummaries(summaries) {
	const out = Object.fromEntries(SUMMED.map((key) => [key, 0]));
	const self = new Map();
	out.phases = {};
	for (const s of summaries) {
		for (const key of SUMMED) out[key] += s[key];
		for (const { name, ms } of s.self) self.set(name, (self.get(name) ?? 0) + ms);
		for (const [name, ms] of Object.entries(s.phases)) out.phases[name] = (out.phases[name] ?? 0) + ms;
	}
	out.self = [...self].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms }));
	return out;
}
