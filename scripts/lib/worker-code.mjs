/**
 * Facts the operator scripts read from the Worker's own TypeScript, so that no script keeps a second list of
 * providers or settings that drifts from the code.
 *
 * Node 20 cannot import `.ts`, so a small entry module is bundled in memory with esbuild (the bundler wrangler itself
 * uses) and imported from a data: URL. Only modules without Workers-only imports (`cloudflare:*`) can be read this way;
 * the provider catalog and the inbound webhook adapters are plain TypeScript.
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
		write: false,
		logLevel: "silent",
	});
	const [output] = result.outputFiles;
	if (!output) throw new Error("esbuild produced no output");
	return import(`data:text/javascript;base64,${Buffer.from(output.text).toString("base64")}`);
}

/**
 * The entry that describes every provider. This is the one place to change when providers become a registry of
 * modules: map that registry to the same shape.
 */
const PROVIDER_CATALOG_SOURCE = `
import { PROVIDER_NAMES, REQUIRED_SETTINGS } from "./src/providers/catalog";
import { INBOUND_ADAPTERS } from "./src/webhooks/inbound";
export const providers = PROVIDER_NAMES.map((name) => {
	const inbound = INBOUND_ADAPTERS[name];
	return { name, requiredSecrets: [...REQUIRED_SETTINGS[name]], webhook: inbound ? { settings: [...inbound.settings] } : null };
});
`;

/**
 * @typedef {object} ProviderInfo
 * @property {string} name as written in PROVIDERS
 * @property {string[]} requiredSecrets settings it cannot send without
 * @property {{ settings: string[] } | null} webhook its `/provider-webhooks/<name>` receiver and the settings that
 *   authenticate it, or null when it reports no events over HTTP (the sandbox)
 */

/** @returns {Promise<ProviderInfo[]>} every provider the Worker knows */
export async function readProviderCatalog() {
	const { providers } = await importWorkerModule(PROVIDER_CATALOG_SOURCE);
	return /** @type {ProviderInfo[]} */ (providers);
}

/** @returns {Promise<number>} the shortest ADMIN_TOKEN the Worker accepts */
export async function readAdminTokenMinLength() {
	const { ADMIN_TOKEN_MIN_LENGTH } = await importWorkerModule('export { ADMIN_TOKEN_MIN_LENGTH } from "./src/config";');
	return /** @type {number} */ (ADMIN_TOKEN_MIN_LENGTH);
}
