#!/usr/bin/env node
/**
 * `npm run dev`: local Mailroom with the sandbox provider (docs/architecture.md, "Local run and tests").
 *
 * Creates .dev.vars with a random ADMIN_TOKEN when it is missing, builds the console when its sources changed
 * (dist/public, served by the Worker at /console), applies the local D1 migrations, runs
 * `wrangler dev` on http://localhost:8787 (PORT overrides), makes sure a `dev` tenant and API key exist,
 * prints how to use them, and forwards wrangler's output until Ctrl-C.
 *
 * Local state is wrangler's default (.wrangler/state), so `node scripts/wrangler.mjs d1 execute mailroom --local`
 * sees the same data. The dev API key is kept in .wrangler/dev-tenant.json (keys are only stored hashed).
 *
 * `PROVIDERS=…` in the environment overrides the providers (`PROVIDERS=cloudflare npm run dev`: the local EMAIL
 * binding simulates sending, shown in wrangler's local explorer). `npm run dev -- --smtp` also starts a local SMTP
 * catcher (scripts/lib/smtp-catcher.mjs, on SMTP_CATCHER_PORT, default 2525) and sends through it with
 * PROVIDERS=smtp unless PROVIDERS says otherwise; every message it receives is logged and kept in
 * .wrangler/smtp-catcher/<n>.eml.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { buildConsole } from "./lib/console-build.mjs";
import { ensureDevTenant, PROJECT_ROOT, parseDotenv, startDevServer } from "./lib/dev-server.mjs";
import { startSmtpCatcher } from "./lib/smtp-catcher.mjs";

const DEV_VARS = path.join(PROJECT_ROOT, ".dev.vars");
const STATE_FILE = path.join(PROJECT_ROOT, ".wrangler", "dev-tenant.json");
const CATCHER_DIR = path.join(PROJECT_ROOT, ".wrangler", "smtp-catcher");

async function ensureDevVars() {
	if (existsSync(DEV_VARS)) return false;
	const token = randomBytes(32).toString("hex");
	const text = [
		"# Created by `npm run dev`. Local secrets for `wrangler dev`; see .dev.vars.example for everything else.",
		`ADMIN_TOKEN="${token}"`,
		"# Lets tenant webhooks and attachment paths use http:// and loopback hosts locally (docs/architecture.md, URL policy).",
		'ALLOW_HTTP_WEBHOOKS="true"',
		"",
	].join("\n");
	await writeFile(DEV_VARS, text, { mode: 0o600 });
	return true;
}

function banner({ url, key, tenant, createdKey, createdDevVars, providers, catcher }) {
	const domains = tenant?.allowed_from_domains ?? [];
	const from = `Acme <hello@${domains[0] ?? "example.com"}>`;
	const body = JSON.stringify({ from, to: "delivered@example.org", subject: "Hi", text: "Hello" });
	const rel = (p) => path.relative(process.cwd(), p) || p;
	const lines = [
		"",
		"━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
		`  Mailroom is running on ${url}   (providers: ${providers}, Ctrl-C to stop)`,
		"",
		`  API key (tenant "${tenant?.name ?? "dev"}"): ${key.token}${createdKey ? "   (new)" : ""}`,
		`  Saved in:          ${rel(STATE_FILE)}`,
		`  Admin token:       ADMIN_TOKEN in ${rel(DEV_VARS)}${createdDevVars ? " (just created)" : ""}`,
		`  Allowed from:      ${domains.map((d) => `*@${d}`).join(", ") || "(none)"}`,
		`  Console:           ${url}/console/   (sign in with the API key above, or the admin token)`,
		`  API reference:     ${url}/docs`,
		...(catcher
			? [
					`  SMTP catcher:      127.0.0.1:${catcher.port}; received mail is logged here and kept in ${rel(CATCHER_DIR)}/<n>.eml`,
					"                     (to unknown@… → 550 5.1.1, greylist@… → 451 then accepted, drop-after-data@… → no final reply)",
				]
			: []),
		...(providers.split(",").includes("cloudflare")
			? [`  Sent through the local EMAIL binding: ${url}/cdn-cgi/local/explorer (Email, Sending)`]
			: []),
		"",
		"  Send an email:",
		`    curl -X POST ${url}/emails -H "Authorization: Bearer ${key.token}" -H "Content-Type: application/json" -d '${body}'`,
		"",
		"  With the resend SDK:",
		'    import { Resend } from "resend";',
		`    const resend = new Resend("${key.token}", { baseUrl: "${url}" });`,
		`    const { data, error } = await resend.emails.send({ from: "${from}", to: "delivered@example.org", subject: "Hi", text: "Hello" });`,
		"━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
		"",
	];
	return lines.join("\n");
}

async function main() {
	const createdDevVars = await ensureDevVars();
	const adminToken = parseDotenv(await readFile(DEV_VARS, "utf8")).ADMIN_TOKEN;
	if (!adminToken) throw new Error(`${DEV_VARS} has no ADMIN_TOKEN; add one (see .dev.vars.example) or delete the file`);
	// The Worker refuses to serve anything with a shorter one (src/config.ts).
	if (adminToken.length < 16) throw new Error(`ADMIN_TOKEN in ${DEV_VARS} must be at least 16 characters`);

	const port = Number(process.env.PORT ?? 8787);
	if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Invalid PORT: ${process.env.PORT}`);

	await buildConsole();
	const withSmtp = process.argv.slice(2).includes("--smtp");
	const vars = {};
	let catcher = null;
	if (withSmtp) {
		const catcherPort = Number(process.env.SMTP_CATCHER_PORT ?? 2525);
		catcher = await startSmtpCatcher({
			port: catcherPort,
			dir: CATCHER_DIR,
			onMessage: (m) =>
				console.log(
					`[smtp catcher] ${m.dropped ? "dropped before answering" : "received"} #${catcher?.messages.length}: ${m.from} → ${m.to.join(", ")}`,
				),
		});
		Object.assign(vars, { SMTP_HOST: "127.0.0.1", SMTP_PORT: String(catcher.port), SMTP_SECURE: "none", PROVIDERS: "smtp" });
	}
	if (process.env.PROVIDERS) vars.PROVIDERS = process.env.PROVIDERS;
	const providers = vars.PROVIDERS ?? parseDotenv(await readFile(DEV_VARS, "utf8")).PROVIDERS ?? "sandbox";

	console.log(`Applying local D1 migrations and starting wrangler dev on port ${port}…`);
	const server = await startDevServer({
		port,
		vars,
		onOutput: (chunk, stream) => (stream === "stdout" ? process.stdout : process.stderr).write(chunk),
	});

	let shuttingDown = false;
	const shutdown = async (code) => {
		if (shuttingDown) return;
		shuttingDown = true;
		console.log("\nStopping wrangler dev…");
		await server.stop();
		await catcher?.close();
		process.exit(code);
	};
	process.on("SIGINT", () => void shutdown(0));
	process.on("SIGTERM", () => void shutdown(0));
	process.on("SIGHUP", () => void shutdown(0));
	server.exited.then((exit) => {
		if (shuttingDown) return;
		console.error(`\nwrangler dev exited unexpectedly (${exit.signal ?? `exit code ${exit.code}`}).`);
		void shutdown(1);
	});

	try {
		const key = await ensureDevTenant({ url: server.url, adminToken, stateFile: STATE_FILE });
		const url = `http://localhost:${port}`;
		console.log(banner({ url, key, tenant: key.tenant, createdKey: key.createdKey, createdDevVars, providers, catcher }));
	} catch (err) {
		console.error(`Could not set up the dev tenant: ${err instanceof Error ? err.message : err}`);
		await shutdown(1);
	}
}

main().catch((err) => {
	console.error(err instanceof Error ? err.message : err);
	process.exit(1);
});
