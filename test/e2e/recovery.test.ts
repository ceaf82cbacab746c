/**
 * End to end: a queue message really lost (wrangler dev's local queue lives in memory; a restart drops a delayed
 * message), then the minute cron, triggered over HTTP as the platform would, recovers it and the email is
 * delivered once.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Resend } from "resend";
import { afterAll, beforeEach, describe, expect, it, onTestFailed, vi } from "vitest";
import { type DevServer, ensureDevTenant, findFreePort, startDevServer } from "../../scripts/lib/dev-server.mjs";

let server: DevServer | undefined;
let stateDir: string | undefined;
let wranglerLog = "";
const adminToken = randomBytes(24).toString("hex");

async function start(): Promise<DevServer> {
	stateDir ??= await mkdtemp(path.join(tmpdir(), "mailroom-e2e-recovery-"));
	return startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: { ADMIN_TOKEN: adminToken },
		onOutput: (chunk) => {
			wranglerLog = (wranglerLog + String(chunk)).slice(-20_000);
		},
	});
}

beforeEach(() => {
	onTestFailed(() => console.log(`--- wrangler dev log (tail) ---\n${wranglerLog}`));
});

afterAll(async () => {
	await server?.stop();
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe("recovery through the cron", () => {
	it("recovers an email whose queue message was lost in a restart, and delivers it", async () => {
		server = await start();
		const tenant = await ensureDevTenant({ url: server.url, adminToken, stateFile: path.join(stateDir ?? "", "tenant.json") });
		const resend = new Resend(tenant.token, { baseUrl: server.url });
		const { data } = await resend.emails.send({
			from: "Acme <hello@example.com>",
			to: "delivered@example.org",
			subject: "survives a restart",
			text: "hi",
			scheduledAt: new Date(Date.now() + 3_000).toISOString(),
		});
		const id = data?.id ?? "";
		expect(id).not.toBe("");

		// The delayed message lives only in wrangler dev's memory: restarting loses it, D1 keeps the row.
		await server.stop();
		server = await start();
		const after = new Resend(tenant.token, { baseUrl: server.url });
		await new Promise((r) => setTimeout(r, 6_000));
		expect((await after.emails.get(id)).data?.last_event).toBe("scheduled");

		// The minute cron, as if the recovery grace period (2 minutes) had passed.
		const time = Date.now() + 3 * 60_000;
		const cron = await fetch(`${server.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${time}`);
		expect(cron.status).toBe(200);
		await vi.waitFor(async () => expect((await after.emails.get(id)).data?.last_event).toBe("delivered"), {
			timeout: 20_000,
			interval: 250,
		});
		const events = await fetch(`${server.url}/emails/${id}/events`, { headers: { authorization: `Bearer ${tenant.token}` } });
		const types = ((await events.json()) as { data: { type: string }[] }).data.map((e) => e.type);
		expect(types.filter((t) => t === "sent")).toHaveLength(1);
	});
});
