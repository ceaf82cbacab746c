/**
 * A stand-in for the wrangler CLI in the deploy tests (run with Node through MAILROOM_WRANGLER). It keeps a fake
 * Cloudflare account in the JSON file named by STUB_WRANGLER_STATE, appends every invocation to STUB_WRANGLER_LOG
 * (one JSON array per line), and answers the commands the deploy script runs the way wrangler 4.156 prints them,
 * including its failures: not logged in, Queues refused on the free plan (100129), a queue name taken (11009), a
 * consumer already attached (11004), R2 not enabled (10042), a failing migration, no workers.dev subdomain.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "jsonc-parser";

const statePath = process.env.STUB_WRANGLER_STATE ?? "";
const state = JSON.parse(readFileSync(statePath, "utf8"));
const args = process.argv.slice(2);
appendFileSync(process.env.STUB_WRANGLER_LOG ?? "", `${JSON.stringify(args)}\n`);

const flag = (name) => {
	const i = args.indexOf(name);
	return i === -1 ? undefined : args[i + 1];
};
const positional = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const save = () => writeFileSync(statePath, JSON.stringify(state, null, "\t"));
const out = (text) => process.stdout.write(`${text}\n`);
function fail(headline, note) {
	process.stderr.write(`\n✘ [ERROR] ${headline}\n\n${note ? `  ${note}\n\n` : ""}`);
	process.exit(1);
}
const apiFail = (resource, message, code) =>
	fail(`A request to the Cloudflare API (/accounts/acc-1${resource}) failed.`, `${message} [code: ${code}]`);

function requireLogin() {
	if (!state.loggedIn) {
		fail(
			"In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work. Please go to https://developers.cloudflare.com/fundamentals/api/get-started/create-token/ for instructions on how to create an api token, and assign its value to CLOUDFLARE_API_TOKEN.",
		);
	}
}

/** The config for --env, resolved as wrangler does for the keys read here (env blocks repeat every binding). */
function config() {
	const raw = parse(readFileSync(flag("--config"), "utf8"));
	const env = flag("--env");
	if (!env) return raw;
	return { ...raw, ...raw.env[env], name: raw.env[env].name ?? `${raw.name}-${env}` };
}

const [command, sub, name] = positional;
const key = `${command} ${sub ?? ""}`.trim();

if (command === "whoami") {
	if (!state.loggedIn) {
		out('{"loggedIn":false}');
		process.exit(1);
	}
	out(JSON.stringify({ loggedIn: true, authType: "OAuth Token", email: state.email, accounts: state.accounts }));
} else if (key.startsWith("secret list")) {
	requireLogin();
	const worker = config().name;
	if (!state.workers[worker]) fail(`Worker "${worker}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.`);
	out(
		JSON.stringify(
			state.workers[worker].secrets.map((s) => ({ name: s, type: "secret_text" })),
			null,
			"  ",
		),
	);
} else if (key === "queues info") {
	requireLogin();
	const queue = (state.hiddenQueues ?? []).includes(name) ? undefined : state.queues[name];
	if (!queue) fail(`Queue "${name}" does not exist. To create it, run: wrangler queues create ${name}`);
	out(`Queue Name: ${name}\nQueue ID: q-${name}\nNumber of Producers: 0\nNumber of Consumers: ${queue.consumers.length}`);
	if (queue.consumers.length > 0) out(`Consumers: ${queue.consumers.map((c) => `worker:${c}`).toString()}`);
} else if (key === "queues create") {
	requireLogin();
	if (!state.queuesAllowed) {
		apiFail(
			"/queues",
			"Queues are unavailable on the free plan. Please upgrade to a Workers Paid plan to create and use\n  Queues: https://dash.cloudflare.com/acc-1/workers/plans",
			100129,
		);
	}
	if (state.queues[name]) apiFail("/queues", "queue name already taken", 11009);
	state.queues[name] = { consumers: [] };
	save();
	out(`🌀 Creating queue '${name}'\n✅ Created queue '${name}'`);
} else if (key === "d1 list") {
	requireLogin();
	out(
		JSON.stringify(
			Object.keys(state.databases).map((db) => ({ uuid: `uuid-${db}`, name: db })),
			null,
			2,
		),
	);
} else if (key === "d1 create") {
	requireLogin();
	if (state.databases[name]) apiFail("/d1/database", "A database with that name already exists", 7502);
	state.databases[name] = { applied: [] };
	save();
	out(`✅ Successfully created DB '${name}'`);
} else if (key === "r2 bucket") {
	requireLogin();
	const bucket = positional[3];
	if (!state.r2Enabled) apiFail(`/r2/buckets/${bucket}`, "Please enable R2 through the Cloudflare Dashboard.", 10042);
	if (!state.buckets.includes(bucket)) apiFail(`/r2/buckets/${bucket}`, "The specified bucket does not exist.", 10006);
	out(JSON.stringify({ name: bucket, created: "2026-11-01T00:00:00.000Z" }));
} else if (key === "d1 migrations") {
	requireLogin();
	const db = positional[3];
	const binding = config().d1_databases.find((d) => d.database_name === db);
	if (!state.databases[db])
		fail(`Couldn't find a D1 DB named '${db}' (bound as '${db}') in the API. Run 'wrangler d1 create ${db}' to create it.`);
	const dir = path.resolve(path.dirname(flag("--config")), binding.migrations_dir);
	const pending = readdirSync(dir)
		.filter((f) => f.endsWith(".sql"))
		.sort()
		.filter((f) => !state.databases[db].applied.includes(f));
	if (pending.length === 0) {
		out("✅ No migrations to apply!");
		process.exit(0);
	}
	out(`Migrations to be applied:\n${pending.join("\n")}`);
	for (const file of pending) {
		if (state.failMigration) {
			save();
			process.stderr.write(`\n✘ [ERROR] Migration ${file} failed with the following errors:\n\n`);
			fail("duplicate column name: deleted_at: SQLITE_ERROR [code: 7500]");
		}
		state.databases[db].applied.push(file);
		out(`${file} ✅`);
	}
	save();
} else if (command === "deploy") {
	requireLogin();
	const c = config();
	const worker = c.name;
	c.queues ??= {};
	c.r2_buckets ??= [];
	c.d1_databases ??= [];
	for (const q of c.queues.consumers ?? []) {
		if (!state.queues[q.queue]) fail(`Queue "${q.queue}" does not exist. To create it, run: wrangler queues create ${q.queue}`);
	}
	for (const b of c.r2_buckets) {
		if (!state.r2Enabled) apiFail("/r2/buckets", "Please enable R2 through the Cloudflare Dashboard.", 10042);
		if (!state.buckets.includes(b.bucket_name)) {
			out(`🌀 Creating new R2 Bucket "${b.bucket_name}"...`);
			state.buckets.push(b.bucket_name);
		}
	}
	for (const d of c.d1_databases) if (!state.databases[d.database_name]) state.databases[d.database_name] = { applied: [] };
	if (state.noSubdomain) {
		fail(
			"You can either deploy your worker to one or more routes by specifying them in your wrangler.jsonc file, or register a workers.dev subdomain here:\nhttps://dash.cloudflare.com/acc-1/workers/onboarding",
		);
	}
	const file = flag("--secrets-file");
	const uploaded = file ? Object.keys(JSON.parse(readFileSync(file, "utf8"))) : [];
	const secrets = [...new Set([...(state.workers[worker]?.secrets ?? []), ...uploaded])];
	const missing = (c.secrets?.required ?? []).filter((s) => !secrets.includes(s));
	if (missing.length > 0) fail(`The following required secrets have not been set: ${missing.join(", ")}`);
	for (const q of c.queues.consumers ?? []) {
		const others = state.queues[q.queue].consumers.filter((s) => s !== worker);
		if (others.length > 0) apiFail(`/queues/q-${q.queue}/consumers`, "workers.api.error.consumer_exists", 11004);
	}
	for (const q of c.queues.consumers ?? []) state.queues[q.queue].consumers = [worker];
	state.workers[worker] = { secrets, deploys: (state.workers[worker]?.deploys ?? 0) + 1 };
	save();
	const url = `https://${worker}.acme.workers.dev`;
	const targets = [url, ...(c.triggers?.crons ?? []).map((cron) => `schedule: ${cron}`)];
	appendFileSync(
		process.env.WRANGLER_OUTPUT_FILE_PATH ?? "",
		`${JSON.stringify({ type: "deploy", version: 1, worker_name: worker, targets })}\n`,
	);
	out(`Uploaded ${worker}\nDeployed ${worker} triggers\n  ${targets.join("\n  ")}`);
} else {
	fail(`stub wrangler does not know: ${args.join(" ")}`);
}
