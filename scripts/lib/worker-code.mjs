/**
 * Facts the operator scripts read from the Worker's own TypeScript, so that no script keeps a second list of
 * providers or settings that drifts from the code.
 *
 * Node 20 cannot import `.ts`, so a small entry module is bundled in memory with esbuild (the bundler wrangler itself
 * uses) and imported from a data: URL. `cloudflare:*` modules stay external: the transports import them lazily, when they
 * send (src/providers/smtp, src/providers/cloudflare), so a module-level import of one would stop this bundle loading.
 */
import { build } from "esbuild";
import { PROJECT_ROOT } from "./dev-server.mjs";

/**
 * Bundles `source` (TypeScript, imports resolved from the project root) and imports it.
 *
 * @param {string} source
 * @param {{ cwd?: string }} [options]
 * @returns {Promise<Record<string, unknown>>} the module's exports
 * @example
 * const { ADMIN_TOKEN_MIN_LENGTH } = await importWorkerModule('export { ADMIN_TOKEN_MIN_LENGTH } from "./src/config";');
 */
export async function importWorkerModule(source, { cwd = PROJECT_ROOT } = {}) {
	const result = await build({
		stdin: { contents: source, resolveDir: cwd, loader: "ts", sourcefile: "worker-facts.ts" },
		bundle: true,
		format: "esm",
		platform: "neutral",
		// "neutral" reads only `exports` maps; packages published with `module`/`main` alone (@peculiar/asn1-*, asn1js,
		// used by the SES adapter) resolve as wrangler's bundler resolves them.
		mainFields: ["module", "main"],
		external: ["cloudflare:*"],
		write: false,
		logLevel: "silent",
	});
	const [output] = result.outputFiles;
	if (!output) throw new Error("esbuild produced no output");
	return import(`data:text/javascript;base64,${Buffer.from(output.text).toString("base64")}`);
}

/**
 * The entry that describes what the scripts need from the Worker's code: the provider registry, mapped to the shape
 * the scripts use.
 */
const WORKER_FACTS_SOURCE = `
import { ADMIN_TOKEN_MIN_LENGTH } from "./src/config";
import { PROVIDERS } from "./src/providers/registry";
export const adminTokenMinLength = ADMIN_TOKEN_MIN_LENGTH;
export const providers = PROVIDERS.map((p) => ({
	name: p.name,
	requiredSecrets: [...p.requiredSettings],
	webhook: p.webhook ? { settings: [...p.webhook.settings] } : null,
}));
`;

/**
 * @typedef {object} ProviderInfo
 * @property {string} name as written in PROVIDERS
 * @property {string[]} requiredSecrets settings it cannot send without
 * @property {{ settings: string[] } | null} webhook its `/provider-webhooks/<name>` receiver and the settings that
 *   authenticate it, or null when it reports no events over HTTP (the sandbox)
 */

/**
 * @returns {Promise<{ providers: ProviderInfo[], adminTokenMinLength: number }>} every provider the Worker knows, and
 *   the shortest ADMIN_TOKEN it accepts
 */
export async function readWorkerFacts() {
	const { providers, adminTokenMinLength } = await importWorkerModule(WORKER_FACTS_SOURCE);
	return { providers: /** @type {ProviderInfo[]} */ (providers), adminTokenMinLength: /** @type {number} */ (adminTokenMinLength) };
}
