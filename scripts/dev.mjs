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
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { buildConsole } from "./lib/console-build.mjs";
import { ensureDevTenant, PROJECT_ROOT, parseDotenv, startDevServer } from "./lib/dev-server.mjs";

const DEV_VARS = path.join(PROJECT_ROOT, ".dev.vars");
const STATE_FILE = path.join(PROJECT_ROOT, ".wrangler", "dev-tenant.json");

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

function banner({ url, key, tenant, createdKey, createdDevVars }) {
	const domains = tenant?.allowed_from_domains ?? [];
	const from = `Acme <hello@${domains[0] ?? "example.com"}>`;
	const body = JSON.stringify({ from, to: "delivered@example.org", subject: "Hi", text: "Hello" });
	const rel = (p) => path.relative(process.cwd(), p) || p;
	const lines = [
		"",
		"━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
		`  Mailroom is running on ${url}   (provider: sandbox, Ctrl-C to stop)`,
		"",
		`  API key (tenant "${tenant?.name ?? "dev"}"): ${key.token}${createdKey ? "   (new)" : ""}`,
		`  Saved in:          ${rel(STATE_FILE)}`,
		`  Admin token:       ADMIN_TOKEN in ${rel(DEV_VARS)}${createdDevVars ? " (just created)" : ""}`,
		`  Allowed from:      ${domains.map((d) => `*@${d}`).join(", ") || "(none)"}`,
		`  Console:           ${url}/console/   (sign in with the API key above, or the admin token)`,
		`  API reference:     ${url}/docs`,
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
	console.log(`Applying local D1 migrations and starting wrangler dev on port ${port}…`);
	const server = await startDevServer({
		port,
		onOutput: (chunk, stream) => (stream === "stdout" ? process.stdout : process.stderr).write(chunk),
	});

	let shuttingDown = false;
	const shutdown = async (code) => {
		if (shuttingDown) return;
		shuttingDown = true;
		console.log("\nStopping wrangler dev…");
		await server.stop();
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
		console.log(banner({ url, key, tenant: key.tenant, createdKey: key.createdKey, createdDevVars }));
	} catch (err) {
		console.error(`Could not set up the dev tenant: ${err instanceof Error ? err.message : err}`);
		await shutdown(1);
	}
}

main().catch((err) => {
	console.error(err instanceof Error ? err.message : err);
	process.exit(1);
});
