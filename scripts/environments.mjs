#!/usr/bin/env node
/**
 * `npm run envs`: rewrites the `env.<name>` blocks of wrangler.jsonc from its top level (scripts/lib/environments.mjs
 * says what is repeated and how resources are renamed), then formats the file with Biome.
 * `npm run envs -- --check` changes nothing and exits 1 when an environment is out of date (a test runs the same check).
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "./lib/dev-server.mjs";
import { staleEnvironments, writeEnvironments } from "./lib/environments.mjs";

const CONFIG = path.join(PROJECT_ROOT, "wrangler.jsonc");

if (process.argv.includes("--check")) {
	const stale = await staleEnvironments(CONFIG);
	for (const { env, keys } of stale) console.error(`env.${env} is out of date in wrangler.jsonc: ${keys.join(", ")} (run npm run envs)`);
	process.exit(stale.length > 0 ? 1 : 0);
}

const changed = await writeEnvironments(CONFIG);
if (changed.length > 0) {
	const biome = spawnSync(
		process.execPath,
		[path.join(PROJECT_ROOT, "node_modules", "@biomejs", "biome", "bin", "biome"), "format", "--write", CONFIG],
		{
			stdio: "inherit",
		},
	);
	if (biome.status !== 0) process.exit(biome.status ?? 1);
}
console.log(changed.length > 0 ? `Updated env.${changed.join(", env.")} in wrangler.jsonc` : "wrangler.jsonc environments are current");
