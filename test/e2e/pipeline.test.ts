/**
 * End to end through the delivery pipeline: the `resend` SDK sends through `wrangler dev` (real local queue and
 * consumer) to a fake Resend HTTP server in this process; a second email fails over from that provider (503)
 * to the sandbox and reaches `delivered`. Then delivery status: a signed Resend webhook says `delivered`, and the
 * tenant's own webhook endpoint (a local HTTP server) receives a verifiable `email.delivered`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Resend } from "resend";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from "vitest";
import { type DevServer, ensureDevTenant, findFreePort, startDevServer } from "../../scripts/lib/dev-server.mjs";

type Captured = { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown> };

let server: DevServer | undefined;
let fake: Server | undefined;
let stateDir: string | undefined;
let resend: Resend;
let apiKey: string;
const captured: Captured[] = [];
const RESEND_WEBHOOK_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
let tenantHooks: Server | undefined;
const tenantReceived: { headers: IncomingMessage["headers"]; body: string }[] = [];

/** A fake Resend API: 200 with an id, except 503 for subjects starting with "down". */
async function startFakeResend(): Promise<string> {
	fake = createServer((req, res) => {
		let text = "";
		req.on("data", (chunk) => {
			text += chunk;
		});
		req.on("end", () => {
			const body = JSON.parse(text || "{}") as Record<string, unknown>;
			captured.push({ path: req.url ?? "", headers: req.headers, body });
			const down = String(body.subject ?? "").startsWith("down");
			res.writeHead(down ? 503 : 200, { "content-type": "application/json" });
			res.end(JSON.stringify(down ? { statusCode: 503, name: "internal_server_error", message: "down" } : { id: `re_${randomUUID()}` }));
		});
	});
	await new Promise<void>((resolve) => fake?.listen(0, "127.0.0.1", resolve));
	return `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
}

beforeAll(async () => {
	const fakeUrl = await startFakeResend();
	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-e2e-pipeline-"));
	const adminToken = randomBytes(32).toString("hex");
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: {
			ADMIN_TOKEN: adminToken,
			PROVIDERS: "resend,sandbox",
			RESEND_API_KEY: "re_fake",
			RESEND_BASE_URL: fakeUrl,
			RESEND_WEBHOOK_SECRET,
			ALLOW_HTTP_WEBHOOKS: "true",
		},
	});
	const tenant = await ensureDevTenant({ url: server.url, adminToken, stateFile: path.join(stateDir, "dev-tenant.json") });
	apiKey = tenant.token;
	resend = new Resend(apiKey, { baseUrl: server.url });
});

afterAll(async () => {
	await server?.stop();
	await new Promise<void>((resolve) => (tenantHooks ? tenantHooks.close(() => resolve()) : resolve()));
	await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

beforeEach(() => {
	onTestFailed(() => console.log(`--- wrangler dev log (tail) ---\n${server?.output() ?? "(not started)"}`));
});

async function lastEvent(id: string): Promise<string | undefined> {
	return (await resend.emails.get(id)).data?.last_event;
}

describe("delivery pipeline through wrangler dev", () => {
	it("sends through the provider with our id as idempotency key and records sent", async () => {
		const subject = `hello ${randomUUID()}`;
		const { data, error } = await resend.emails.send({ from: "Acme <hello@example.com>", to: "user@example.org", subject, text: "Hi" });
		expect(error).toBeNull();
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await lastEvent(id)).toBe("sent"), { timeout: 20_000, interval: 250 });
		const request = captured.find((c) => c.body.subject === subject);
		expect(request?.path).toBe("/emails");
		expect(request?.headers["idempotency-key"]).toBe(id);
		expect(request?.headers.authorization).toBe("Bearer re_fake");
	});

	it("fails over from a provider answering 503 to the sandbox, and the email reaches delivered", async () => {
		const subject = `down ${randomUUID()}`;
		const { data } = await resend.emails.send({ from: "Acme <hello@example.com>", to: "delivered@example.org", subject, text: "Hi" });
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await lastEvent(id)).toBe("delivered"), { timeout: 20_000, interval: 250 });
		expect(captured.filter((c) => c.body.subject === subject)).toHaveLength(1);
		const events = await fetch(`${server?.url}/emails/${id}/events`, { headers: { authorization: `Bearer ${apiKey}` } });
		const types = ((await events.json()) as { data: { type: string; provider: string | null }[] }).data.map(
			(e) => `${e.type}:${e.provider ?? ""}`,
		);
		expect(types).toEqual(["queued:", "attempt_failed:resend", "sent:sandbox", "delivered:sandbox"]);
	});

	it("turns a signed provider webhook into a verified email.delivered at the tenant's endpoint", async () => {
		tenantHooks = createServer((req, res) => {
			let body = "";
			req.on("data", (chunk) => {
				body += chunk;
			});
			req.on("end", () => {
				tenantReceived.push({ headers: req.headers, body });
				res.writeHead(200).end("ok");
			});
		});
		await new Promise<void>((resolve) => tenantHooks?.listen(0, "127.0.0.1", resolve));
		const endpoint = `http://127.0.0.1:${(tenantHooks.address() as AddressInfo).port}/hooks`;
		const hook = await fetch(`${server?.url}/webhooks`, {
			method: "POST",
			headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
			body: JSON.stringify({ endpoint, events: ["email.delivered"] }),
		});
		const { signing_secret: secret } = (await hook.json()) as { signing_secret: string };

		const subject = `status ${randomUUID()}`;
		const { data } = await resend.emails.send({ from: "Acme <hello@example.com>", to: "user@example.org", subject, text: "Hi" });
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await lastEvent(id)).toBe("sent"), { timeout: 20_000, interval: 250 });

		const event = JSON.stringify({
			type: "email.delivered",
			created_at: new Date().toISOString(),
			data: { email_id: `re_${id}`, to: ["user@example.org"], tags: { mailroom_id: id } },
		});
		const msgId = `msg_${randomUUID()}`;
		const now = new Date();
		const signature = new Webhook(RESEND_WEBHOOK_SECRET).sign(msgId, now, event);
		const posted = await fetch(`${server?.url}/provider-webhooks/resend`, {
			method: "POST",
			headers: {
				"content-type": "application/json",
				"svix-id": msgId,
				"svix-timestamp": String(Math.floor(now.getTime() / 1000)),
				"svix-signature": signature,
			},
			body: event,
		});
		expect(posted.status).toBe(200);
		expect(await lastEvent(id)).toBe("delivered");

		await vi.waitFor(() => expect(tenantReceived.length).toBeGreaterThan(0), { timeout: 20_000, interval: 250 });
		const [delivery] = tenantReceived;
		const headers = Object.fromEntries(Object.entries(delivery?.headers ?? {}).map(([k, v]) => [k, String(v)]));
		const verified = new Webhook(secret).verify(delivery?.body ?? "", headers) as {
			type: string;
			data: { email_id: string; subject: string };
		};
		expect(verified.type).toBe("email.delivered");
		expect(verified.data).toMatchObject({ email_id: id, subject });
	});
});
