/**
 * `npm run smoke` against a real `wrangler dev`: the script must pass against a working Mailroom, fail with a clear
 * line when it cannot do its job, and leave no tenant behind either way.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, findFreePort, PROJECT_ROOT, startDevServer } from "../../scripts/lib/dev-server.mjs";

let server: DevServer | undefined;
let stateDir: string | undefined;
const adminToken = randomBytes(32).toString("hex");

beforeAll(async () => {
	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-smoke-"));
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: { ADMIN_TOKEN: adminToken, ALLOW_HTTP_WEBHOOKS: "true" },
	});
});

afterAll(async () => {
	await server?.stop();
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

function devUrl(): string {
	if (!server) throw new Error("dev server not started");
	return server.url;
}

async function runSmoke(...args: string[]): Promise<{ code: number; output: string }> {
	const child = spawn(process.execPath, [path.join(PROJECT_ROOT, "scripts", "smoke.mjs"), ...args], {
		cwd: PROJECT_ROOT,
		stdio: ["ignore", "pipe", "pipe"],
	});
	let output = "";
	child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
	child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
	const code = await new Promise<number>((resolve) => child.once("close", (c) => resolve(c ?? 1)));
	return { code, output };
}

async function tenantNames(): Promise<string[]> {
	const res = await fetch(`${devUrl()}/admin/tenants?limit=100`, { headers: { Authorization: `Bearer ${adminToken}` } });
	const body = (await res.json()) as { data: { name: string }[] };
	return body.data.map((t) => t.name);
}

describe("npm run smoke against wrangler dev", () => {
	it("passes: sends through the sandbox, sees it delivered and a verified signed webhook, then removes the tenant", async () => {
		const run = await runSmoke(devUrl(), adminToken, "--timeout", "90");
		expect(run.code, run.output).toBe(0);
		expect(run.output).toContain("✓ delivered");
		expect(run.output).toContain("✓ signed email.delivered webhook arrived and verified (Standard Webhooks)");
		expect(run.output).toContain("✓ removed the smoke tenant, its key and its webhook");
		expect(run.output).toMatch(/^PASS in \d+\.\d s$/m);
		expect((await tenantNames()).filter((n) => n.startsWith("smoke-"))).toEqual([]);
	});

	it("with --receiver-url and --listen, verifies the webhook at the receiver it starts on that port", async () => {
		const port = await findFreePort();
		const receiverUrl = `http://127.0.0.1:${port}/through-a-tunnel`;
		const run = await runSmoke(devUrl(), adminToken, "--receiver-url", receiverUrl, "--listen", `127.0.0.1:${port}`, "--timeout", "90");
		expect(run.code, run.output).toBe(0);
		expect(run.output).toContain(`✓ receiver listening on 127.0.0.1:${port}, reached as ${receiverUrl}`);
		expect(run.output).toContain("✓ signed email.delivered webhook arrived and verified (Standard Webhooks)");
	});

	it("with --webhook-url, checks that the given endpoint accepted the webhook", async () => {
		const received: string[] = [];
		const endpoint = http.createServer((req, res) => {
			let body = "";
			req.on("data", (c: Buffer) => (body += c.toString()));
			req.on("end", () => {
				received.push(body);
				res.writeHead(204).end();
			});
		});
		await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", resolve));
		const address = endpoint.address();
		const port = typeof address === "object" && address ? address.port : 0;
		try {
			const run = await runSmoke(devUrl(), adminToken, "--webhook-url", `http://127.0.0.1:${port}/hook`, "--timeout", "90");
			expect(run.code, run.output).toBe(0);
			expect(run.output).toContain(`✓ email.delivered webhook accepted by http://127.0.0.1:${port}/hook (204)`);
			expect(received.some((body) => body.includes('"type":"email.delivered"'))).toBe(true);
		} finally {
			await new Promise<void>((resolve) => endpoint.close(() => resolve()));
		}
	});

	it("fails with a clear line and creates nothing when the admin token is wrong", async () => {
		const before = await tenantNames();
		const run = await runSmoke(devUrl(), "not-the-admin-token-at-all", "--timeout", "30");
		expect(run.code).toBe(1);
		expect(run.output).toContain("FAIL: POST /admin/tenants answered 403 (is the admin token the deployment's ADMIN_TOKEN?)");
		expect(await tenantNames()).toEqual(before);
	});

	it("fails naming the problem when nothing answers at the URL", async () => {
		const run = await runSmoke(`http://127.0.0.1:${await findFreePort()}`, adminToken, "--timeout", "10");
		expect(run.code).toBe(1);
		expect(run.output).toMatch(/FAIL: GET \/health did not answer \(.+\); is http:\/\/127\.0\.0\.1:\d+ the Worker's URL\?/);
	});
});
