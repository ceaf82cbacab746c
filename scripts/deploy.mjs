#!/usr/bin/env node
/**
 * `npm run deploy [-- --env staging|production] [--config path]`: deploys Mailroom to the logged-in Cloudflare
 * account, creating what is missing (scripts/lib/deploy.mjs says what, in which order and why), then prints the
 * Worker's URL, the provider webhook URLs to configure and the smoke test to run. Exit code 0 when deployed, 1 with
 * one sentence when stopped.
 *
 * The console is built first (dist/public, uploaded with the Worker as static assets).
 *
 * Secrets the Worker lacks are read from this command's environment (`RESEND_API_KEY=… npm run deploy`) and uploaded
 * with the deploy; a missing ADMIN_TOKEN is generated and printed once.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { buildConsole } from "./lib/console-build.mjs";
import { DeployStop, deploy } from "./lib/deploy.mjs";
import { PROJECT_ROOT } from "./lib/dev-server.mjs";
import { readWorkerFacts } from "./lib/worker-code.mjs";
import { wranglerRunner } from "./lib/wrangler-cli.mjs";

function report(result) {
	const envFlag = result.envName ? ` --env ${result.envName}` : "";
	const lines = ["", `✓ Mailroom is deployed: ${result.url ?? "(no workers.dev URL or custom domain; see the routes above)"}`];
	if (result.webhooks.length > 0) {
		lines.push("", "  Point each provider's delivery webhooks at:");
		const width = Math.max(...result.webhooks.map((w) => w.provider.length));
		for (const w of result.webhooks) {
			const auth =
				w.missing.length === 0
					? "verified with its secrets, which are set"
					: `set ${w.missing.join(" and ")} first (\`npx wrangler secret put ${w.missing[0]}${envFlag}\`); until then its events are refused (401)`;
			lines.push(`    ${w.provider.padEnd(width)}  ${w.url}`, `    ${" ".repeat(width)}  ${auth}`);
		}
	} else {
		lines.push("", "  No provider webhooks to configure (the sandbox reports its own events).");
	}
	const token = result.generatedAdminToken;
	if (token) {
		lines.push(
			"",
			"  ADMIN_TOKEN was not set, so one was generated. It is shown only now; keep it in your password manager:",
			`    ${token}`,
		);
	}
	// A token this command generated is printed; one from the environment is referred to; a deployed one is unknown here.
	const tokenArg = { generated: token, environment: '"$ADMIN_TOKEN"', deployed: "<your ADMIN_TOKEN>" }[result.adminTokenSource];
	lines.push("", "  Next, check the deployment end to end:", `    npm run smoke -- ${result.url ?? "<worker url>"} ${tokenArg}`, "");
	return lines.join("\n");
}

/** Prints wrangler's output indented under the step that runs it, whole lines at a time. */
function indented(write) {
	let partial = "";
	return (chunk) => {
		const lines = (partial + chunk).split("\n");
		partial = lines.pop() ?? "";
		for (const line of lines) write(`    │ ${line}\n`);
	};
}

async function main() {
	let values;
	try {
		({ values } = parseArgs({ options: { env: { type: "string", short: "e" }, config: { type: "string", short: "c" } }, strict: true }));
	} catch (err) {
		throw new DeployStop(`${err instanceof Error ? err.message : err}; usage: npm run deploy [-- --env NAME] [--config PATH]`);
	}
	// The console and the API reference's script are static assets uploaded with the Worker (dist/public).
	await buildConsole({ log: (line) => console.log(line) });
	const run = wranglerRunner();
	const facts = await readWorkerFacts();
	const result = await deploy({
		envName: values.env,
		configPath: path.resolve(values.config ?? path.join(PROJECT_ROOT, "wrangler.jsonc")),
		run,
		environ: process.env,
		providers: facts.providers,
		adminTokenMinLength: facts.adminTokenMinLength,
		log: (line) => console.log(line),
		echo: indented((line) => process.stdout.write(line)),
	});
	console.log(report(result));
}

main().catch((err) => {
	if (err instanceof DeployStop) {
		console.error(`\n✘ Deploy stopped: ${err.message}`);
	} else {
		console.error(`\n✘ Deploy failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
	}
	process.exit(1);
});
