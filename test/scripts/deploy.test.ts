import { spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../scripts/lib/dev-server.mjs";

/**
 * `npm run deploy` against a stub wrangler (test/scripts/stub-wrangler.mjs) that keeps a fake account in a JSON file
 * and records every command: what a first run creates, that a second creates nothing, and the sentence each failure
 * stops with.
 */

const STUB = path.join(PROJECT_ROOT, "test", "scripts", "stub-wrangler.mjs");
const DEPLOY = path.join(PROJECT_ROOT, "scripts", "deploy.mjs");
const TOP_QUEUES = [
	"mailroom-send",
	"mailroom-send-bulk",
	"mailroom-webhooks",
	"mailroom-send-dlq",
	"mailroom-webhooks-dlq",
	"mailroom-email-events",
];

type Account = {
	loggedIn: boolean;
	email: string;
	accounts: { id: string; name: string }[];
	queuesAllowed: boolean;
	r2Enabled: boolean;
	failMigration: boolean;
	hiddenQueues?: string[];
	noSubdomain?: boolean;
	queues: Record<string, { consumers: string[] }>;
	databases: Record<string, { applied: string[] }>;
	buckets: string[];
	workers: Record<string, { secrets: string[]; deploys: number }>;
};

const emptyAccount = (): Account => ({
	loggedIn: true,
	email: "ops@acme.test",
	accounts: [{ id: "acc-1", name: "Acme" }],
	queuesAllowed: true,
	r2Enabled: true,
	failMigration: false,
	queues: {},
	databases: {},
	buckets: [],
	workers: {},
});

type Run = { code: number; stdout: string; stderr: string; calls: string[][]; account: Account };

const dirs: string[] = [];
afterAll(async () => {
	for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A fake account (and, with `vars`, a copy of wrangler.jsonc whose top-level vars are changed). */
async function fakeCloudflare(account: Partial<Account> = {}, vars: Record<string, string> = {}) {
	const dir = await mkdtemp(path.join(tmpdir(), "mailroom-deploy-test-"));
	dirs.push(dir);
	const state = path.join(dir, "account.json");
	const log = path.join(dir, "calls.ndjson");
	await writeFile(state, JSON.stringify({ ...emptyAccount(), ...account }));
	let config = path.join(PROJECT_ROOT, "wrangler.jsonc");
	if (Object.keys(vars).length > 0) {
		const text = await readFile(config, "utf8");
		const changed = Object.entries(vars).reduce((t, [k, v]) => t.replace(new RegExp(`"${k}": "[^"]*"`), `"${k}": "${v}"`), text);
		config = path.join(dir, "wrangler.jsonc");
		await writeFile(
			config,
			changed.replace('"main": "src/index.ts"', `"main": ${JSON.stringify(path.join(PROJECT_ROOT, "src", "index.ts"))}`),
		);
		await cp(path.join(PROJECT_ROOT, "migrations"), path.join(dir, "migrations"), { recursive: true });
	}
	return { state, log, config };
}

type Fake = Awaited<ReturnType<typeof fakeCloudflare>>;

/** Runs `npm run deploy` (the script) with `args`, a clean environment plus `env`; returns what it printed and did. */
async function runDeploy(fake: Fake, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
	await writeFile(fake.log, "");
	// A clean environment: no ADMIN_TOKEN, provider key or CLOUDFLARE_ACCOUNT_ID of the machine leaks into a test.
	const clean: Record<string, string> = {
		PATH: process.env.PATH ?? "",
		HOME: process.env.HOME ?? "",
		MAILROOM_WRANGLER: STUB,
		STUB_WRANGLER_STATE: fake.state,
		STUB_WRANGLER_LOG: fake.log,
		...env,
	};
	const child = spawn(process.execPath, [DEPLOY, "--config", fake.config, ...args], {
		cwd: PROJECT_ROOT,
		env: clean as unknown as NodeJS.ProcessEnv,
		stdio: ["ignore", "pipe", "pipe"],
	});
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
	child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
	const code = await new Promise<number>((resolve) => child.once("close", (c) => resolve(c ?? 1)));
	const calls = (await readFile(fake.log, "utf8"))
		.split("\n")
		.filter(Boolean)
		.map((line) => JSON.parse(line) as string[]);
	const account = JSON.parse(await readFile(fake.state, "utf8")) as Account;
	return { code, stdout, stderr, calls, account };
}

/** The commands that change the account, as `command sub name`. */
const changes = (run: Run) =>
	run.calls
		.filter((c) => c[1] === "create" || c[0] === "deploy" || (c[0] === "d1" && c[1] === "migrations"))
		.map((c) => (c[0] === "deploy" ? "deploy" : c.slice(0, c[1] === "migrations" ? 4 : 3).join(" ")));

/** The one sentence a stopped deploy printed. */
const stopped = (run: Run) => /✘ Deploy stopped: (.*)/.exec(run.stderr)?.[1] ?? `(no stop sentence; stderr: ${run.stderr})`;

describe("npm run deploy on a fresh account", () => {
	let run: Run;
	beforeAll(async () => {
		run = await runDeploy(await fakeCloudflare());
	});

	it("creates every queue, dead-letter queue and the D1 database, migrates, then deploys", () => {
		expect(run.code, run.stderr).toBe(0);
		expect(changes(run)).toEqual([
			...TOP_QUEUES.map((q) => `queues create ${q}`),
			"d1 create mailroom",
			"d1 migrations apply mailroom",
			"deploy",
		]);
		expect(Object.keys(run.account.queues).sort()).toEqual([...TOP_QUEUES].sort());
		expect(run.account.databases.mailroom?.applied).toContain("0000_init.sql");
		expect(run.account.buckets).toEqual(["mailroom-attachments"]);
	});

	it("generates an ADMIN_TOKEN, uploads it with the deploy and prints it once, in the smoke command", () => {
		const token = /^ {4}([0-9a-f]{64})$/m.exec(run.stdout)?.[1] ?? "(none printed)";
		expect(run.account.workers.mailroom?.secrets).toEqual(["ADMIN_TOKEN"]);
		expect(run.calls.find((c) => c[0] === "deploy")).toContain("--secrets-file");
		expect(run.stdout).toContain(`npm run smoke -- https://mailroom.acme.workers.dev ${token}`);
		expect(run.stdout.split(token).length - 1).toBe(2);
	});

	it("prints the Worker URL, and that the sandbox needs no provider webhook", () => {
		expect(run.stdout).toContain("✓ Mailroom is deployed: https://mailroom.acme.workers.dev");
		expect(run.stdout).toContain("No provider webhooks to configure");
	});
});

describe("npm run deploy a second time", () => {
	let second: Run;
	beforeAll(async () => {
		const fake = await fakeCloudflare();
		await runDeploy(fake);
		second = await runDeploy(fake);
	});

	it("creates nothing and deploys again", () => {
		expect(second.code, second.stderr).toBe(0);
		expect(changes(second)).toEqual(["d1 migrations apply mailroom", "deploy"]);
		expect(second.account.workers.mailroom?.deploys).toBe(2);
	});

	it("keeps the deployed ADMIN_TOKEN: uploads no secret and prints none", () => {
		expect(second.calls.find((c) => c[0] === "deploy")).not.toContain("--secrets-file");
		expect(second.stdout).not.toMatch(/generated/);
		expect(second.stdout).toContain("npm run smoke -- https://mailroom.acme.workers.dev <your ADMIN_TOKEN>");
	});

	it("takes a queue that appeared meanwhile ('queue name already taken' on create) as existing", async () => {
		const fake = await fakeCloudflare({ queues: { "mailroom-send": { consumers: [] } }, hiddenQueues: ["mailroom-send"] });
		const run = await runDeploy(fake);
		expect(run.code, run.stderr).toBe(0);
		expect(run.stdout).toContain("✓ found queue mailroom-send");
	});
});

describe("npm run deploy -- --env staging", () => {
	it("creates the staging queues, database and bucket next to the top level's, and deploys mailroom-staging", async () => {
		const fake = await fakeCloudflare({
			queues: Object.fromEntries(TOP_QUEUES.map((q) => [q, { consumers: ["mailroom"] }])),
			databases: { mailroom: { applied: [] } },
			buckets: ["mailroom-attachments"],
		});
		const run = await runDeploy(fake, ["--env", "staging"], { ADMIN_TOKEN: "an-operator-chosen-admin-token" });
		expect(run.code, run.stderr).toBe(0);
		expect(changes(run)).toEqual([
			...TOP_QUEUES.map((q) => `queues create ${q}-staging`),
			"d1 create mailroom-staging",
			"d1 migrations apply mailroom-staging",
			"deploy",
		]);
		expect(run.account.buckets).toEqual(["mailroom-attachments", "mailroom-attachments-staging"]);
		expect(run.stdout).toContain('npm run smoke -- https://mailroom-staging.acme.workers.dev "$ADMIN_TOKEN"');
	});

	it("refuses an environment wrangler.jsonc does not have", async () => {
		const run = await runDeploy(await fakeCloudflare(), ["--env", "prod"]);
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			'wrangler.jsonc has no environment "prod" (it has staging, production): add it under "env" and run npm run envs.',
		);
		expect(run.calls).toEqual([]);
	});
});

describe("npm run deploy stops with one sentence", () => {
	it("when nobody is logged in, before anything else", async () => {
		const run = await runDeploy(await fakeCloudflare({ loggedIn: false }));
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			"You are not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then run npm run deploy again.",
		);
		expect(run.calls.map((c) => c[0])).toEqual(["whoami"]);
	});

	it("when the login has several accounts and none is chosen", async () => {
		const accounts = [
			{ id: "acc-1", name: "Acme" },
			{ id: "acc-2", name: "Acme Labs" },
		];
		const run = await runDeploy(await fakeCloudflare({ accounts }));
		expect(stopped(run)).toBe(
			"This login has 2 Cloudflare accounts: set CLOUDFLARE_ACCOUNT_ID to the one to deploy to (acc-1 (Acme), acc-2 (Acme Labs)) and run npm run deploy again.",
		);
		expect(changes(run)).toEqual([]);
	});

	it("when Cloudflare refuses Queues (no Workers Paid plan), before migrating or deploying", async () => {
		const run = await runDeploy(await fakeCloudflare({ queuesAllowed: false }));
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			"Cloudflare refused Queues on this account: Mailroom needs the Workers Paid plan (Workers & Pages → Plans in the dashboard), then run npm run deploy again.",
		);
		expect(changes(run)).toEqual(["queues create mailroom-send"]);
	});

	it("when a queue it would consume already feeds another Worker, before creating anything", async () => {
		const run = await runDeploy(await fakeCloudflare({ queues: { "mailroom-send": { consumers: ["newsletter"] } } }));
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			"Queue mailroom-send is already consumed by Worker newsletter, and a queue has one consumer: deploy this Mailroom under other queue names (an --env gives every queue its own suffix) or remove that consumer with `npx wrangler queues consumer remove mailroom-send newsletter`.",
		);
		expect(changes(run)).toEqual([]);
	});

	it("when R2 is not enabled, before creating anything", async () => {
		const run = await runDeploy(await fakeCloudflare({ r2Enabled: false }));
		expect(stopped(run)).toBe(
			"R2 is not enabled on this account: enable it once in the dashboard (R2 Object Storage), then run npm run deploy again.",
		);
		expect(changes(run)).toEqual([]);
	});

	it("when a migration fails, naming it, and deploys nothing", async () => {
		const run = await runDeploy(await fakeCloudflare({ failMigration: true }));
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			"Migration 0000_init.sql failed on D1 database mailroom (duplicate column name: deleted_at: SQLITE_ERROR [code: 7500]); nothing was deployed and the running Worker is unchanged: fix the migration (never one already applied elsewhere) and run npm run deploy.",
		);
		expect(changes(run).at(-1)).toBe("d1 migrations apply mailroom");
		expect(run.account.workers).toEqual({});
	});

	it("when the account has no workers.dev subdomain, with the link to register one and the generated token kept", async () => {
		const run = await runDeploy(await fakeCloudflare({ noSubdomain: true }));
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			"This account has no workers.dev subdomain yet: register one at https://dash.cloudflare.com/acc-1/workers/onboarding (or give the Worker a custom domain in wrangler.jsonc), then run npm run deploy.",
		);
		expect(run.stdout).toMatch(/the ADMIN_TOKEN generated for this deploy, in case it was uploaded: [0-9a-f]{64}/);
	});

	it("when a provider in PROVIDERS lacks its secret, before creating anything", async () => {
		const run = await runDeploy(await fakeCloudflare({}, { PROVIDERS: "resend,sandbox" }));
		expect(run.code).toBe(1);
		expect(stopped(run)).toBe(
			"mailroom is missing the secret RESEND_API_KEY (provider resend): give it to this command (e.g. `RESEND_API_KEY=… npm run deploy`), which uploads it with the deploy, or set it with `npx wrangler secret put RESEND_API_KEY` once the Worker exists.",
		);
		expect(changes(run)).toEqual([]);
	});

	it("when PROVIDERS names a provider Mailroom does not have", async () => {
		const run = await runDeploy(await fakeCloudflare({}, { PROVIDERS: "carrier-pigeon" }));
		expect(stopped(run)).toMatch(/^PROVIDERS names "carrier-pigeon", which Mailroom does not know \(it knows sandbox, resend, /);
		expect(changes(run)).toEqual([]);
	});
});

describe("npm run deploy with providers", () => {
	it("uploads a provider secret given in the environment and prints one webhook URL per configured provider", async () => {
		const fake = await fakeCloudflare({}, { PROVIDERS: "resend,postmark" });
		const run = await runDeploy(fake, [], {
			RESEND_API_KEY: "re_live",
			POSTMARK_SERVER_TOKEN: "pm-token",
			RESEND_WEBHOOK_SECRET: "whsec_abc",
		});
		expect(run.code, run.stderr).toBe(0);
		expect(run.account.workers.mailroom?.secrets.sort()).toEqual([
			"ADMIN_TOKEN",
			"POSTMARK_SERVER_TOKEN",
			"RESEND_API_KEY",
			"RESEND_WEBHOOK_SECRET",
		]);
		expect(run.stdout).toContain("resend    https://mailroom.acme.workers.dev/provider-webhooks/resend");
		expect(run.stdout).toContain("postmark  https://mailroom.acme.workers.dev/provider-webhooks/postmark");
		expect(run.stdout).toMatch(/provider-webhooks\/resend\n\s+verified with its secrets, which are set\n/);
		expect(run.stdout).toContain(
			"set POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD first (`npx wrangler secret put POSTMARK_WEBHOOK_USER`)",
		);
		expect(run.stdout).not.toContain("/provider-webhooks/sandbox");
	});
});
