/**
 * Builds the static assets the Worker serves (wrangler.jsonc `assets`): the console (console/ → dist/public/console,
 * built by Vite) and the API reference's script (@scalar/api-reference's standalone bundle →
 * dist/public/docs/assets, loaded by /docs instead of a CDN). dist/ is never committed, so `npm run dev`, the
 * browser test and `npm run deploy` call this; a build whose inputs did not change since the last one is skipped.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** wrangler.jsonc `assets.directory`, relative to the project. */
export const ASSETS_DIRECTORY = path.join("dist", "public");
/** Where /docs loads Scalar from; src/docs.ts names the same URL. */
export const SCALAR_ASSET = path.join("docs", "assets", "scalar-api-reference.js");

/**
 * Creates the assets directory when it is missing: `wrangler dev` and `wrangler deploy` refuse to start without it,
 * and the API itself needs no built assets (the chaos harness and API e2e tests run without a console).
 */
export async function ensureAssetsDirectory(cwd = PROJECT_ROOT) {
	await mkdir(path.join(cwd, ASSETS_DIRECTORY), { recursive: true });
}

async function* filesUnder(dir) {
	for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) yield* filesUnder(full);
		else yield full;
	}
}

/** A hash of everything the build reads: the console's sources, the lock file (library versions) and this file. */
async function inputsHash(cwd) {
	const hash = createHash("sha256");
	const files = [path.join(cwd, "package-lock.json"), fileURLToPath(import.meta.url)];
	for await (const file of filesUnder(path.join(cwd, "console"))) files.push(file);
	for (const file of files) {
		hash.update(path.relative(cwd, file));
		hash.update(await readFile(file));
	}
	return hash.digest("hex");
}

/** Vite's configuration of the console: served under /console/, JSX for Preact, no inline scripts (see the CSP). */
export function viteConfig(cwd = PROJECT_ROOT) {
	return {
		configFile: false,
		root: path.join(cwd, "console"),
		base: "/console/",
		logLevel: "warn",
		clearScreen: false,
		oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
		build: {
			outDir: path.join(cwd, ASSETS_DIRECTORY, "console"),
			emptyOutDir: true,
			target: "es2022",
			// The index's CSP allows no inline script or style, and no data: URLs for scripts.
			assetsInlineLimit: 0,
			modulePreload: { polyfill: false },
			reportCompressedSize: false,
		},
	};
}

/**
 * Builds the console and copies Scalar's bundle unless the inputs are unchanged since the last build.
 *
 * @param {object} [options]
 * @param {string} [options.cwd] project directory, defaults to this repository
 * @param {boolean} [options.force] build even when nothing changed
 * @param {(line: string) => void} [options.log]
 * @returns {Promise<{ built: boolean }>}
 */
export async function buildConsole({ cwd = PROJECT_ROOT, force = false, log = (line) => console.log(line) } = {}) {
	const stampFile = path.join(cwd, "dist", "console-build.stamp");
	const hash = await inputsHash(cwd);
	const previous = await readFile(stampFile, "utf8").catch(() => "");
	const outputs = [path.join(ASSETS_DIRECTORY, "console", "index.html"), path.join(ASSETS_DIRECTORY, SCALAR_ASSET)];
	if (!force && previous === hash && outputs.every((file) => existsSync(path.join(cwd, file)))) return { built: false };

	log("Building the console (console/ → dist/public)…");
	const { build } = await import("vite");
	await build(viteConfig(cwd));

	const require = createRequire(path.join(cwd, "package.json"));
	// The package exports no path to its browser bundle; it sits beside the main entry (dist/index.js).
	const scalar = path.join(path.dirname(require.resolve("@scalar/api-reference")), "browser", "standalone.js");
	const target = path.join(cwd, ASSETS_DIRECTORY, SCALAR_ASSET);
	await mkdir(path.dirname(target), { recursive: true });
	await copyFile(scalar, target);

	await writeFile(stampFile, hash);
	return { built: true };
}
