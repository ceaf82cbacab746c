import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PROJECT_ROOT } from "../../scripts/lib/dev-server.mjs";
import { environmentNames, readRawConfig, staleEnvironments, writeEnvironments } from "../../scripts/lib/environments.mjs";
import { queueRole } from "../../src/queue/names";

const CONFIG = path.join(PROJECT_ROOT, "wrangler.jsonc");
type ReadConfig = (args: { config: string; env?: string }) => {
	name: string;
	d1_databases: { database_name?: string; database_id?: string }[];
	r2_buckets: { bucket_name?: string }[];
	queues: { producers?: { queue: string }[]; consumers?: { queue: string; dead_letter_queue?: string }[] };
	vars: Record<string, unknown>;
};
const { unstable_readConfig: readConfig } = createRequire(import.meta.url)("wrangler") as { unstable_readConfig: ReadConfig };

let dir: string | undefined;
afterEach(async () => {
	vi.restoreAllMocks();
	if (dir) await rm(dir, { recursive: true, force: true });
	dir = undefined;
});

async function tempConfig(text: string): Promise<string> {
	dir = await mkdtemp(path.join(tmpdir(), "mailroom-envs-"));
	const file = path.join(dir, "wrangler.jsonc");
	await writeFile(file, text);
	return file;
}

describe("wrangler.jsonc environments", () => {
	it("are current: every env block repeats the top level as npm run envs writes it", async () => {
		expect(await staleEnvironments(CONFIG)).toEqual([]);
	});

	it("declare staging and production", async () => {
		const { raw } = await readRawConfig(CONFIG);
		expect(environmentNames(raw)).toEqual(["staging", "production"]);
	});

	it.each(["staging", "production"])("%s reads through wrangler without a 'not inherited' warning", (env) => {
		const warnings: string[] = [];
		vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => void warnings.push(args.join(" ")));
		readConfig({ config: CONFIG, env });
		expect(warnings.filter((w) => w.includes("not inherited"))).toEqual([]);
	});

	it.each(["staging", "production"])("%s names every queue, dead-letter queue, database and bucket apart from the top level", (env) => {
		const top = readConfig({ config: CONFIG });
		const named = readConfig({ config: CONFIG, env });
		const resources = (c: ReturnType<ReadConfig>) => [
			...(c.queues.producers ?? []).map((p) => p.queue),
			...(c.queues.consumers ?? []).flatMap((q) => [q.queue, q.dead_letter_queue ?? []].flat()),
			...c.d1_databases.map((d) => d.database_name),
			...c.r2_buckets.map((b) => b.bucket_name),
		];
		expect(named.name).toBe(`${top.name}-${env}`);
		expect(resources(named)).toEqual(resources(top).map((name) => `${name}-${env}`));
		expect(named.d1_databases.every((d) => d.database_id === undefined)).toBe(true);
	});

	it.each(["staging", "production"])("%s: every queue the Worker consumes reaches the consumer it does at the top level", (env) => {
		const roles = (c: ReturnType<ReadConfig>) => (c.queues.consumers ?? []).map((q) => queueRole(q.queue));
		const top = roles(readConfig({ config: CONFIG }));
		expect(top).not.toContain(null);
		expect(new Set(top).size).toBe(top.length);
		expect(roles(readConfig({ config: CONFIG, env }))).toEqual(top);
	});
});

describe("npm run envs", () => {
	const source = `{
	// top-level comment survives
	"name": "app",
	"main": "src/index.ts",
	"compatibility_date": "2026-11-01",
	"d1_databases": [{ "binding": "DB", "database_name": "app", "database_id": "11111111-1111-1111-1111-111111111111" }],
	"queues": {
		"producers": [{ "binding": "Q", "queue": "jobs" }],
		"consumers": [{ "queue": "jobs", "dead_letter_queue": "jobs-dlq" }, { "queue": "jobs-dlq" }]
	},
	"r2_buckets": [{ "binding": "FILES", "bucket_name": "files" }],
	"vars": { "PROVIDERS": "sandbox", "LIMIT": "1" },
	"env": {
		"qa": { "vars": { "PROVIDERS": "resend" }, "workers_dev": false }
	}
}
`;

	it("repeats bindings renamed with the environment suffix, without account-specific ids", async () => {
		const file = await tempConfig(source);
		expect(await writeEnvironments(file)).toEqual(["qa"]);
		const { raw } = await readRawConfig(file);
		const qa = (raw.env as Record<string, Record<string, unknown>>).qa;
		expect(qa?.d1_databases).toEqual([{ binding: "DB", database_name: "app-qa" }]);
		expect(qa?.queues).toEqual({
			producers: [{ binding: "Q", queue: "jobs-qa" }],
			consumers: [{ queue: "jobs-qa", dead_letter_queue: "jobs-dlq-qa" }, { queue: "jobs-dlq-qa" }],
		});
		expect(qa?.r2_buckets).toEqual([{ binding: "FILES", bucket_name: "files-qa" }]);
	});

	it("keeps the environment's own vars values and other keys, and the file's comments", async () => {
		const file = await tempConfig(source);
		await writeEnvironments(file);
		const { raw, text } = await readRawConfig(file);
		const qa = (raw.env as Record<string, Record<string, unknown>>).qa;
		expect(qa?.vars).toEqual({ PROVIDERS: "resend", LIMIT: "1" });
		expect(qa?.workers_dev).toBe(false);
		expect(text).toContain("// top-level comment survives");
	});

	it("reports an environment as stale after the top level gains a queue, and changes nothing on a second run", async () => {
		const file = await tempConfig(source);
		await writeEnvironments(file);
		expect(await writeEnvironments(file)).toEqual([]);
		const before = await readFile(file, "utf8");
		await writeFile(
			file,
			before.replace(
				'"producers": [{ "binding": "Q", "queue": "jobs" }]',
				'"producers": [{ "binding": "Q", "queue": "jobs" }, { "binding": "BULK", "queue": "jobs-bulk" }]',
			),
		);
		expect(await staleEnvironments(file)).toEqual([{ env: "qa", keys: ["queues"] }]);
	});
});
