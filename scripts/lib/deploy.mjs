/**
 * `npm run deploy`: from a Cloudflare login to a running Mailroom, creating what is missing and leaving what exists.
 *
 * Order, and why:
 * 1. Checks that cannot change anything: who is logged in (one account chosen), and that every secret the Worker needs
 *    (wrangler.jsonc `secrets.required`, and each provider in PROVIDERS: its required settings, from the Worker's own
 *    provider catalog) is deployed already, given in the environment of this command, or, for ADMIN_TOKEN, generated.
 *    Resources are read from the resolved wrangler config (queues, their dead-letter queues, D1, R2), never listed here,
 *    and every queue this Worker consumes must not already feed another Worker.
 * 2. Creates the missing queues (`wrangler queues create`: wrangler's deploy refuses consumer-only queues that do not
 *    exist) and D1 databases (`wrangler d1 create`: migrations run before the first deploy, so the database must exist
 *    before it). R2 buckets are left to wrangler's automatic provisioning at deploy time (bindings without ids).
 * 3. Applies D1 migrations remotely, then deploys. Migrations first: new code never runs on an old schema, and a failed
 *    migration stops before anything is deployed. Migrations are additive (expand/contract, see the README), so the
 *    running Worker keeps working on the migrated schema if the deploy step itself fails.
 * Every failure stops with one sentence saying what to do (`DeployStop`).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { environmentNames, readRawConfig } from "./environments.mjs";
import { wranglerError } from "./wrangler-cli.mjs";

/** A deploy that stopped on purpose; its message is the one sentence for the operator. */
export class DeployStop extends Error {
	name = "DeployStop";
}

const unique = (items) => [...new Set(items)];

/** The command to run again after fixing what stopped a deploy. */
export const redeployCommand = (envName) => (envName ? `npm run deploy -- --env ${envName}` : "npm run deploy");

/**
 * The Worker and resources one deployment needs, read from wrangler.jsonc as wrangler resolves it for `envName`.
 *
 * @param {string} configPath
 * @param {string | undefined} envName
 */
export async function readDeployTarget(configPath, envName) {
	const { raw } = await readRawConfig(configPath);
	if (envName !== undefined && !environmentNames(raw).includes(envName)) {
		const known = environmentNames(raw);
		throw new DeployStop(
			`wrangler.jsonc has no environment "${envName}"${known.length > 0 ? ` (it has ${known.join(", ")})` : ""}: add it under "env" and run npm run envs.`,
		);
	}
	const { unstable_readConfig: readConfig } = createRequire(import.meta.url)("wrangler");
	const config = readConfig({ config: configPath, env: envName });
	const producers = config.queues?.producers ?? [];
	const consumers = config.queues?.consumers ?? [];
	return {
		configPath,
		envName,
		worker: config.name,
		accountId: config.account_id,
		queues: unique([...producers.map((p) => p.queue), ...consumers.flatMap((c) => [c.queue, c.dead_letter_queue])].filter(Boolean)),
		consumed: unique(consumers.map((c) => c.queue)),
		databases: config.d1_databases.map((d) => ({ name: d.database_name, migrations: d.migrations_dir !== undefined })),
		buckets: config.r2_buckets.map((b) => b.bucket_name).filter(Boolean),
		requiredSecrets: config.secrets?.required ?? [],
		vars: config.vars ?? {},
	};
}

/** PROVIDERS as the Worker parses it (src/config.ts): comma-separated, trimmed, sandbox when empty. */
export function providersOf(vars) {
	const names = String(vars.PROVIDERS ?? "")
		.split(",")
		.map((p) => p.trim())
		.filter(Boolean);
	return names.length > 0 ? names : ["sandbox"];
}

/**
 * @typedef {object} DeployOptions
 * @property {string | undefined} envName wrangler environment (`--env`), or undefined for the top level
 * @property {string} configPath wrangler.jsonc
 * @property {(args: string[], options?: { echo?: (chunk: string) => void, env?: Record<string, string> }) => Promise<import("./wrangler-cli.mjs").WranglerResult>} run
 * @property {NodeJS.ProcessEnv} environ where secrets given to this command are read from
 * @property {import("./worker-code.mjs").ProviderInfo[]} providers every provider the Worker knows
 * @property {number} adminTokenMinLength
 * @property {(line: string) => void} log progress lines
 * @property {(chunk: string) => void} [echo] wrangler's own output of the long steps (migrations, deploy)
 */

/**
 * Runs the whole deploy. Resolves with what it did; rejects with `DeployStop` (one sentence) on every expected failure.
 *
 * @param {DeployOptions} options
 */
export async function deploy(options) {
	const { envName, configPath, run, environ, log, echo } = options;
	const target = await readDeployTarget(configPath, envName);
	const again = redeployCommand(envName);
	const configArgs = ["--config", configPath];
	const envArgs = [...(envName ? ["--env", envName] : []), ...configArgs];
	const explainOr = (result, fallback) => {
		throw new DeployStop(explain(result.output, again) ?? `${fallback}: ${wranglerError(result.output)}`);
	};

	log(`Deploying Worker ${target.worker}${envName ? ` (environment ${envName})` : ""}`);

	// 1. Checks that change nothing.
	const account = await whoami(run, target, environ);
	log(`  ✓ logged in${account.email ? ` as ${account.email}` : ""}, account ${account.name}`);

	const secrets = await planSecrets(options, target, envArgs);
	for (const name of secrets.kept) log(`  ✓ secret ${name} is set`);

	const [queueState, databaseState, bucketState] = await Promise.all([
		Promise.all(target.queues.map((name) => queueInfo(run, name, configArgs, explainOr))),
		listDatabases(run, configArgs, explainOr),
		Promise.all(target.buckets.map((name) => bucketExists(run, name, configArgs, explainOr))),
	]);
	for (const queue of queueState) {
		const others = queue.consumers.filter((script) => script !== target.worker);
		if (queue.exists && target.consumed.includes(queue.name) && others.length > 0) {
			throw new DeployStop(
				`Queue ${queue.name} is already consumed by Worker ${others[0]}, and a queue has one consumer: deploy this Mailroom under other queue names (an --env gives every queue its own suffix) or remove that consumer with \`npx wrangler queues consumer remove ${queue.name} ${others[0]}\`.`,
			);
		}
	}

	// 2. Create what is missing.
	const created = { queues: [], databases: [], buckets: [] };
	for (const queue of queueState) {
		if (queue.exists) {
			log(`  ✓ queue ${queue.name} exists`);
			continue;
		}
		const result = await run(["queues", "create", queue.name, ...configArgs]);
		if (result.code !== 0 && !/\[code: 11009\]|already (?:exists|taken)/i.test(result.output)) {
			explainOr(result, `Creating queue ${queue.name} failed`);
		}
		if (result.code === 0) created.queues.push(queue.name);
		log(`  ${result.code === 0 ? "+ created" : "✓ found"} queue ${queue.name}`);
	}
	for (const db of target.databases) {
		if (databaseState.has(db.name)) {
			log(`  ✓ D1 database ${db.name} exists`);
			continue;
		}
		const result = await run(["d1", "create", db.name, "--no-update-config", ...configArgs]);
		if (result.code !== 0) explainOr(result, `Creating D1 database ${db.name} failed`);
		created.databases.push(db.name);
		log(`  + created D1 database ${db.name}`);
	}
	target.buckets.forEach((name, i) => {
		if (bucketState[i]) log(`  ✓ R2 bucket ${name} exists`);
		else {
			created.buckets.push(name);
			log(`  + R2 bucket ${name} will be created by wrangler deploy (automatic provisioning)`);
		}
	});

	// 3. Migrate, then deploy.
	for (const db of target.databases.filter((d) => d.migrations)) {
		log(`  … applying D1 migrations to ${db.name}`);
		const result = await run(["d1", "migrations", "apply", db.name, "--remote", ...envArgs], { echo, env: { CI: "true" } });
		if (result.code !== 0) {
			// wrangler prints "Migration <file> failed with the following errors:", then the errors as another [ERROR].
			const failed = /Migration (\S+) failed with the following errors:/.exec(result.output);
			const reason = wranglerError(failed ? result.output.slice((failed.index ?? 0) + failed[0].length) : result.output);
			throw new DeployStop(
				explainAuthOrPlan(result.output, again) ??
					`Migration ${failed?.[1] ?? "(see above)"} failed on D1 database ${db.name} (${reason}); nothing was deployed and the running Worker is unchanged: fix the migration (never one already applied elsewhere) and run ${again}.`,
			);
		}
	}

	const work = await mkdtemp(path.join(tmpdir(), "mailroom-deploy-"));
	try {
		const outputFile = path.join(work, "wrangler-output.ndjson");
		const args = ["deploy", ...envArgs];
		if (Object.keys(secrets.upload).length > 0) {
			const file = path.join(work, "secrets.json");
			await writeFile(file, JSON.stringify(secrets.upload), { mode: 0o600 });
			args.push("--secrets-file", file);
		}
		log(`  … deploying${Object.keys(secrets.upload).length > 0 ? ` with secrets ${Object.keys(secrets.upload).join(", ")}` : ""}`);
		const result = await run(args, { echo, env: { WRANGLER_OUTPUT_FILE_PATH: outputFile } });
		if (result.code !== 0) {
			// wrangler may have uploaded the version (and the secret) before a later step failed: never lose the token.
			if (secrets.generatedAdminToken)
				log(`  ! the ADMIN_TOKEN generated for this deploy, in case it was uploaded: ${secrets.generatedAdminToken}`);
			explainOr(result, "wrangler deploy failed");
		}
		const url = await deployedUrl(outputFile, result.output);
		const configured = new Set([...secrets.kept, ...Object.keys(secrets.upload), ...Object.keys(target.vars)]);
		const webhooks = secrets.providers
			.filter((p) => p.webhook !== null)
			.map((p) => ({
				provider: p.name,
				url: url ? `${url}/provider-webhooks/${p.name}` : `<worker url>/provider-webhooks/${p.name}`,
				missing: p.webhook.settings.filter((s) => !configured.has(s)),
			}));
		const adminTokenSource = secrets.generatedAdminToken ? "generated" : secrets.upload.ADMIN_TOKEN ? "environment" : "deployed";
		return { worker: target.worker, url, created, webhooks, generatedAdminToken: secrets.generatedAdminToken, adminTokenSource, envName };
	} finally {
		await rm(work, { recursive: true, force: true });
	}
}

/** The sentence for a failure every command can hit (login, plan, account features), or null. */
function explainAuthOrPlan(output, again) {
	if (/not authenticated|wrangler login|CLOUDFLARE_API_TOKEN environment variable|\[code: 10000\]/i.test(output)) {
		return `You are not logged in to Cloudflare (or the token expired): run \`npx wrangler login\` (or set CLOUDFLARE_API_TOKEN) and run ${again} again.`;
	}
	if (/\[code: 100129\]|unavailable on the free plan|\[code: 11002\]|must enable your account/i.test(output)) {
		return `Cloudflare refused Queues on this account: Mailroom needs the Workers Paid plan (Workers & Pages → Plans in the dashboard), then run ${again} again.`;
	}
	if (/\[code: 10042\]|enable R2/i.test(output)) {
		return `R2 is not enabled on this account: enable it once in the dashboard (R2 Object Storage), then run ${again} again.`;
	}
	return null;
}

/** The sentence for a known failure of a create or deploy step, or null for the caller's generic one. */
function explain(output, again) {
	const general = explainAuthOrPlan(output, again);
	if (general) return general;
	if (/\[code: 11004\]|consumer_exists/i.test(output)) {
		return `A queue of this deployment is already consumed by another Worker, and a queue has one consumer: deploy this Mailroom under other queue names (an --env gives every queue its own suffix) or remove that consumer, then run ${again}.`;
	}
	if (/register a workers\.dev subdomain/i.test(output)) {
		const link = /https:\/\/dash\.cloudflare\.com\/\S+\/workers\/onboarding/.exec(output)?.[0] ?? "the dashboard (Workers & Pages)";
		return `This account has no workers.dev subdomain yet: register one at ${link} (or give the Worker a custom domain in wrangler.jsonc), then run ${again}.`;
	}
	return null;
}

/** The logged-in account; stops when nobody is, or when wrangler could not choose among several accounts. */
async function whoami(run, target, environ) {
	const result = await run(["whoami", "--json", "--config", target.configPath]);
	let info = null;
	try {
		info = JSON.parse(result.stdout.slice(result.stdout.indexOf("{")));
	} catch {
		info = null;
	}
	if (result.code !== 0 || !info?.loggedIn) {
		throw new DeployStop(
			`You are not logged in to Cloudflare: run \`npx wrangler login\` (or set CLOUDFLARE_API_TOKEN), then run ${redeployCommand(target.envName)} again.`,
		);
	}
	const accounts = Array.isArray(info.accounts) ? info.accounts : [];
	const chosen = environ.CLOUDFLARE_ACCOUNT_ID ?? target.accountId;
	if (chosen) return { email: info.email, name: accounts.find((a) => a.id === chosen)?.name ?? chosen };
	if (accounts.length === 1) return { email: info.email, name: accounts[0].name };
	const choices = accounts.map((a) => `${a.id} (${a.name})`).join(", ");
	throw new DeployStop(
		accounts.length === 0
			? "This Cloudflare login sees no account: log in as a member of the account to deploy to (`npx wrangler login`)."
			: `This login has ${accounts.length} Cloudflare accounts: set CLOUDFLARE_ACCOUNT_ID to the one to deploy to (${choices}) and run ${redeployCommand(target.envName)} again.`,
	);
}

/**
 * Which secrets the Worker needs, which are deployed already, which this deploy uploads (given in the environment,
 * or a generated ADMIN_TOKEN), and which are missing (stop). Existing secrets are never replaced: rotating one is
 * `wrangler secret put`, not a side effect of deploying.
 */
async function planSecrets(options, target, envArgs) {
	const { run, environ, providers: catalog, adminTokenMinLength, envName } = options;
	const again = redeployCommand(envName);
	const configured = providersOf(target.vars);
	const unknown = configured.filter((name) => !catalog.some((p) => p.name === name));
	if (unknown.length > 0) {
		throw new DeployStop(
			`PROVIDERS names ${unknown.map((u) => `"${u}"`).join(", ")}, which Mailroom does not know (it knows ${catalog.map((p) => p.name).join(", ")}): fix PROVIDERS in wrangler.jsonc and run ${again}.`,
		);
	}
	const providers = configured.map((name) => catalog.find((p) => p.name === name));

	const listed = await run(["secret", "list", "--format", "json", ...envArgs]);
	let deployed = new Set();
	if (listed.code === 0) {
		const parsed = JSON.parse(listed.stdout.slice(listed.stdout.indexOf("[")));
		deployed = new Set(parsed.map((s) => s.name));
	} else if (!/not found/i.test(listed.output)) {
		throw new DeployStop(explain(listed.output, again) ?? `Reading the Worker's secrets failed: ${wranglerError(listed.output)}`);
	}

	const needed = new Map();
	for (const name of target.requiredSecrets) needed.set(name, "wrangler.jsonc secrets.required");
	for (const p of providers) for (const name of p.requiredSecrets) if (!needed.has(name)) needed.set(name, `provider ${p.name}`);

	const kept = [];
	const upload = {};
	const missing = [];
	let generatedAdminToken;
	for (const [name, why] of needed) {
		if (deployed.has(name) || target.vars[name] !== undefined) kept.push(name);
		else if (environ[name]) upload[name] = environ[name];
		else if (name === "ADMIN_TOKEN") {
			generatedAdminToken = randomBytes(32).toString("hex");
			upload[name] = generatedAdminToken;
		} else missing.push(`${name} (${why})`);
	}
	// Webhook settings are optional at deploy time (the provider issues them once it knows the URL printed at the end),
	// but uploaded like the others when this command is given them.
	for (const p of providers) {
		for (const name of p.webhook?.settings ?? []) {
			if (needed.has(name) || deployed.has(name) || target.vars[name] !== undefined) continue;
			if (environ[name]) upload[name] = environ[name];
			else continue;
			needed.set(name, `provider ${p.name} webhooks`);
		}
	}
	if (upload.ADMIN_TOKEN !== undefined && upload.ADMIN_TOKEN.length < adminTokenMinLength) {
		throw new DeployStop(
			`ADMIN_TOKEN must be at least ${adminTokenMinLength} characters (the Worker refuses shorter ones): set a longer one and run ${again}.`,
		);
	}
	if (missing.length > 0) {
		const first = missing[0].split(" ")[0];
		throw new DeployStop(
			`${target.worker} is missing ${missing.length === 1 ? "the secret" : "secrets"} ${missing.join(", ")}: give ${missing.length === 1 ? "it" : "them"} to this command (e.g. \`${first}=… ${again}\`), which uploads ${missing.length === 1 ? "it" : "them"} with the deploy, or set ${missing.length === 1 ? "it" : "them"} with \`npx wrangler secret put ${first}${envName ? ` --env ${envName}` : ""}\` once the Worker exists.`,
		);
	}
	return { kept: kept.concat([...deployed].filter((name) => !kept.includes(name))), upload, generatedAdminToken, providers };
}

/** A queue's existence and the scripts consuming it (`wrangler queues info`). */
async function queueInfo(run, name, configArgs, explainOr) {
	const result = await run(["queues", "info", name, ...configArgs]);
	if (result.code !== 0) {
		if (/does not exist/i.test(result.output)) return { name, exists: false, consumers: [] };
		explainOr(result, `Reading queue ${name} failed`);
	}
	const line = result.output.split(/\r?\n/).find((l) => l.startsWith("Consumers:")) ?? "";
	const consumers = line
		.slice("Consumers:".length)
		.split(",")
		.map((c) => c.trim())
		.filter(Boolean)
		.map((c) => c.replace(/^worker:/, ""));
	return { name, exists: true, consumers };
}

/** Names of the account's D1 databases (`wrangler d1 list --json`). */
async function listDatabases(run, configArgs, explainOr) {
	const result = await run(["d1", "list", "--json", ...configArgs]);
	if (result.code !== 0) explainOr(result, "Listing D1 databases failed");
	const list = JSON.parse(result.stdout.slice(result.stdout.indexOf("[")));
	return new Set(list.map((db) => db.name));
}

/** Whether an R2 bucket exists (`wrangler r2 bucket info`); R2 not being enabled stops here, before any change. */
async function bucketExists(run, name, configArgs, explainOr) {
	const result = await run(["r2", "bucket", "info", name, "--json", ...configArgs]);
	if (result.code === 0) return true;
	if (/\[code: 10006\]|does not exist/i.test(result.output)) return false;
	return explainOr(result, `Reading R2 bucket ${name} failed`);
}

/**
 * The Worker's URL from wrangler's machine-readable output (WRANGLER_OUTPUT_FILE_PATH): a custom domain when it has
 * one, else its workers.dev URL; null when it has neither (routes only).
 */
async function deployedUrl(outputFile, printed) {
	const targets = [];
	if (existsSync(outputFile)) {
		for (const line of (await readFile(outputFile, "utf8")).split("\n")) {
			if (!line.trim()) continue;
			const entry = JSON.parse(line);
			if (entry.type === "deploy" && Array.isArray(entry.targets)) targets.push(...entry.targets);
		}
	}
	const custom = targets.find((t) => / \(custom domain/.test(t));
	if (custom) return `https://${custom.split(" ")[0]}`;
	const workersDev = targets.find((t) => /^https:\/\/\S+\.workers\.dev$/.test(t)) ?? /https:\/\/\S+\.workers\.dev/.exec(printed)?.[0];
	return workersDev ?? null;
}
