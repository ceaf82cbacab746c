/**
 * The named environments of wrangler.jsonc (`--env staging`, `--env production`), derived from its top level.
 *
 * wrangler inherits `main`, `compatibility_date`, `triggers`, `migrations` and the like into a named environment, but
 * not bindings, `vars` or `secrets`: an environment without them deploys a Worker with none (wrangler only warns). So
 * each environment block must repeat them. Rather than people copying those blocks by hand (and forgetting the next
 * queue), this module writes them from the top level, renaming every resource with the environment's suffix, the
 * same `-<env>` wrangler appends to the Worker name: `mailroom-send` → `mailroom-send-staging`, D1 `mailroom` →
 * `mailroom-staging`. Staging and production never share a queue, a database or a bucket.
 *
 * What an environment block may set for itself and keeps across regeneration: `vars` values (merged over the top
 * level's), and every key that is not repeated (routes, `workers_dev`, `account_id`, …). Bindings are always
 * regenerated: change them at the top level and run `npm run envs`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { applyEdits, modify, parse } from "jsonc-parser";

/**
 * Top-level keys wrangler does not inherit into named environments (wrangler's own list, `notInheritable(...)` in its
 * config normalisation, for 4.156). A test reads every environment through wrangler and fails on its
 * "not inherited" warning, so a key missing here shows up when wrangler changes.
 */
export const NON_INHERITABLE_KEYS = [
	"vars",
	"secrets",
	"define",
	"durable_objects",
	"workflows",
	"kv_namespaces",
	"send_email",
	"queues",
	"r2_buckets",
	"d1_databases",
	"vectorize",
	"hyperdrive",
	"services",
	"analytics_engine_datasets",
	"dispatch_namespaces",
	"mtls_certificates",
	"tail_consumers",
	"browser",
	"ai",
	"images",
	"pipelines",
	"secrets_store_secrets",
	"ratelimits",
	"version_metadata",
	"unsafe",
];

/** `name` → `name-env`; undefined and empty stay as they are. */
const suffixed = (name, env) => (typeof name === "string" && name !== "" ? `${name}-${env}` : name);

/** Drops the given keys (account-specific ids that an environment must not share). */
function without(object, keys) {
	const copy = { ...object };
	for (const key of keys) delete copy[key];
	return copy;
}

/** How each resource-bearing key is renamed for an environment; other keys are repeated unchanged. */
const RENAME = {
	d1_databases: (list, env) =>
		list.map((db) => ({ ...without(db, ["database_id", "preview_database_id"]), database_name: suffixed(db.database_name, env) })),
	r2_buckets: (list, env) =>
		list.map((bucket) => ({
			...bucket,
			bucket_name: suffixed(bucket.bucket_name, env),
			...(bucket.preview_bucket_name !== undefined && { preview_bucket_name: suffixed(bucket.preview_bucket_name, env) }),
		})),
	kv_namespaces: (list) => list.map((ns) => without(ns, ["id", "preview_id"])),
	queues: (queues, env) => ({
		...queues,
		...(queues.producers && { producers: queues.producers.map((p) => ({ ...p, queue: suffixed(p.queue, env) })) }),
		...(queues.consumers && {
			consumers: queues.consumers.map((c) => ({
				...c,
				queue: suffixed(c.queue, env),
				...(c.dead_letter_queue !== undefined && { dead_letter_queue: suffixed(c.dead_letter_queue, env) }),
			})),
		}),
	}),
};

/**
 * The keys one environment must repeat, derived from the top level of the raw config (`parse`d wrangler.jsonc).
 *
 * @param {Record<string, any>} raw the whole raw config
 * @param {string} env environment name
 * @returns {Record<string, unknown>} key → value for each non-inheritable key the top level has
 *
 * @example
 * deriveEnvironment({ queues: { producers: [{ binding: "Q", queue: "jobs" }] } }, "staging")
 * // → { queues: { producers: [{ binding: "Q", queue: "jobs-staging" }] } }
 */
export function deriveEnvironment(raw, env) {
	const existing = raw.env?.[env] ?? {};
	const out = {};
	for (const key of NON_INHERITABLE_KEYS) {
		if (raw[key] === undefined) continue;
		if (key === "vars") out.vars = { ...raw.vars, ...existing.vars };
		else out[key] = RENAME[key] ? RENAME[key](raw[key], env) : raw[key];
	}
	return out;
}

/** Environment names declared under `env` in the raw config. */
export function environmentNames(raw) {
	return Object.keys(raw.env ?? {});
}

/** Reads and parses a JSONC config; throws with the file name on a syntax error. */
export async function readRawConfig(configPath) {
	const text = await readFile(configPath, "utf8");
	const errors = [];
	const raw = parse(text, errors, { allowTrailingComma: true });
	if (errors.length > 0) throw new Error(`${configPath} is not valid JSONC (first error at offset ${errors[0].offset})`);
	return { text, raw };
}

/**
 * The environments whose repeated keys differ from what the top level derives, each with the differing keys.
 * Empty when wrangler.jsonc is current.
 */
export async function staleEnvironments(configPath) {
	const { raw } = await readRawConfig(configPath);
	const stale = [];
	for (const env of environmentNames(raw)) {
		const derived = deriveEnvironment(raw, env);
		const current = raw.env[env] ?? {};
		const keys = NON_INHERITABLE_KEYS.filter((key) => !isDeepStrictEqual(current[key], derived[key]));
		if (keys.length > 0) stale.push({ env, keys });
	}
	return stale;
}

/**
 * Rewrites the repeated keys of every environment in place. Comments and everything else in the file are kept; the
 * caller formats the result (Biome) since jsonc-parser only formats what it inserts.
 * Returns the names of the environments that changed.
 */
export async function writeEnvironments(configPath) {
	const stale = await staleEnvironments(configPath);
	if (stale.length === 0) return [];
	let { text, raw } = await readRawConfig(configPath);
	for (const { env, keys } of stale) {
		const derived = deriveEnvironment(raw, env);
		for (const key of keys) {
			const edits = modify(text, ["env", env, key], derived[key], { formattingOptions: { insertSpaces: false, tabSize: 1, eol: "\n" } });
			text = applyEdits(text, edits);
		}
		raw = parse(text, [], { allowTrailingComma: true });
	}
	await writeFile(configPath, text);
	return stale.map((s) => s.env);
}
