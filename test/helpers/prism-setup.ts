/**
 * Vitest globalSetup (runs in Node, not workerd): serves the providers' published OpenAPI specs with Prism as
 * validating mocks, so adapter tests check our request bodies against the real contracts.
 *
 * Contract: each mock listens on 127.0.0.1 on a free port with `--errors`, so a request the spec rejects gets a
 * 4xx instead of a mock success. All start in parallel; setup resolves once each answers HTTP, provides the base
 * URLs as `prismResendUrl`, `prismSendGridUrl`, `prismSendGridActivityUrl`, `prismMailtrapUrl` and `prismMailgunUrl` (read with `inject()`), and the
 * returned teardown stops them.
 * The specs are unmodified copies kept in `test/specs/` (see its README), so a fresh clone tests on its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
	export interface ProvidedContext {
		/** Prism mock of `resend.openapi.yaml`, e.g. `http://127.0.0.1:41234` (no trailing slash). */
		prismResendUrl: string;
		/** Prism mock of `sendgrid-mail-v3.openapi.json`. */
		prismSendGridUrl: string;
		/** Prism mock of `sendgrid-email-activity-v3.openapi.json` (status lookups). */
		prismSendGridActivityUrl: string;
		/** Prism mock of `mailtrap-sending.openapi.yml` (transactional `POST /api/send`). */
		prismMailtrapUrl: string;
		/** Prism mock of `mailgun.openapi.yaml` (sends and Events API lookups). */
		prismMailgunUrl: string;
	}
}

const STARTUP_TIMEOUT_MS = 20_000;
const LOG_TAIL_CHARS = 4_000;

export type Prism = { url: string; child: ChildProcess; log: () => string };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
	const specs = path.resolve(project.config.root, "test", "specs");
	const started = await Promise.allSettled([
		startPrism(["mock", "--errors"], path.join(specs, "resend.openapi.yaml")),
		startPrism(["mock", "--errors"], path.join(specs, "sendgrid-mail-v3.openapi.json")),
		startPrism(["mock", "--errors"], path.join(specs, "sendgrid-email-activity-v3.openapi.json")),
		startPrism(["mock", "--errors"], path.join(specs, "mailtrap-sending.openapi.yml")),
		startPrism(["mock", "--errors"], path.join(specs, "mailgun.openapi.yaml")),
	]);
	const mocks = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
	const failure = started.find((s) => s.status === "rejected");
	if (failure) {
		await Promise.all(mocks.map(stopPrism));
		throw failure.reason;
	}
	const [resend, sendgrid, sendgridActivity, mailtrap, mailgun] = mocks;
	if (!resend || !sendgrid || !sendgridActivity || !mailtrap || !mailgun) throw new Error("prism-setup: a mock did not start");
	project.provide("prismResendUrl", resend.url);
	project.provide("prismSendGridUrl", sendgrid.url);
	project.provide("prismSendGridActivityUrl", sendgridActivity.url);
	project.provide("prismMailtrapUrl", mailtrap.url);
	project.provide("prismMailgunUrl", mailgun.url);
	return async () => {
		await Promise.all(mocks.map(stopPrism));
	};
}

/**
 * Starts Prism (`mode` is its command and flags, e.g. `["mock", "--errors"]` or `["proxy"]`; `extra` follows the spec,
 * e.g. a proxy's upstream URL) on a free port of 127.0.0.1 and resolves once it answers HTTP.
 */
export async function startPrism(mode: string[], specPath: string, extra: string[] = []): Promise<Prism> {
	if (!existsSync(specPath)) throw new Error(`prism-setup: spec not found at ${specPath} `);
	const port = await freePort();
	const child = spawn(process.execPath, [prismBin(), ...mode, "-v", "warn", "-h", "127.0.0.1", "-p", String(port), specPath, ...extra], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	// Should vitest exit without running teardown (a crash, a second Ctrl-C), do not leave Prism behind.
	const killOnExit = () => child.kill("SIGKILL");
	process.once("exit", killOnExit);
	child.once("exit", () => process.off("exit", killOnExit));
	let tail = "";
	const keep = (chunk: Buffer) => {
		tail = (tail + chunk.toString("utf8")).slice(-LOG_TAIL_CHARS);
	};
	child.stdout?.on("data", keep);
	child.stderr?.on("data", keep);
	const mock: Prism = { url: `http://127.0.0.1:${port}`, child, log: () => tail };
	try {
		await waitUntilAnswering(mock, path.basename(specPath));
	} catch (e) {
		await stopPrism(mock);
		throw e;
	}
	return mock;
}

/** Any HTTP answer (Prism says 404 for `/`) means the server is up; connection errors mean not yet. */
async function waitUntilAnswering(mock: Prism, label: string): Promise<void> {
	const deadline = Date.now() + STARTUP_TIMEOUT_MS;
	while (Date.now() < deadline) {
		if (mock.child.exitCode !== null || mock.child.signalCode !== null) {
			throw new Error(`prism-setup: prism for ${label} exited (${mock.child.exitCode ?? mock.child.signalCode}):\n${mock.log()}`);
		}
		try {
			const response = await fetch(mock.url, { signal: AbortSignal.timeout(1_000) });
			await response.body?.cancel();
			return;
		} catch {
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}
	throw new Error(`prism-setup: prism for ${label} did not answer within ${STARTUP_TIMEOUT_MS} ms:\n${mock.log()}`);
}

export async function stopPrism(mock: Prism): Promise<void> {
	const { child } = mock;
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
	child.kill("SIGTERM");
	const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
	await exited;
	clearTimeout(timer);
}

function prismBin(): string {
	const require = createRequire(import.meta.url);
	return path.join(path.dirname(require.resolve("@stoplight/prism-cli/package.json")), "dist", "index.js");
}

/** A port the OS reports free right now (released before Prism binds it; the race is acceptable in tests). */
function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() => {
				if (address !== null && typeof address === "object") resolve(address.port);
				else reject(new Error("prism-setup: no port assigned"));
			});
		});
	});
}
