#!/usr/bin/env node
// Runs the project's wrangler CLI on the Node that is running this script.
//
// wrangler >= 4.100 declares Node >= 22, and its bin wrapper refuses to start on older Node even though the
// CLI itself runs fine on Node 20 (the Node this project's machines and CI have). Calling the bundled CLI
// directly skips only that version gate; on Node >= 22 this is exactly what `npx wrangler` would do.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const cli = path.join(path.dirname(require.resolve("wrangler/package.json")), "wrangler-dist", "cli.js");
const child = spawn(process.execPath, ["--no-warnings", cli, ...process.argv.slice(2)], {
	stdio: "inherit",
	env: { WRANGLER_SEND_METRICS: "false", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
