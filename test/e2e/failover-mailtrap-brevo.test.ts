/**
 * End to end through `wrangler dev` with two of the HTTP providers as a failover pair, `PROVIDERS=mailtrap,brevo`, both
 * pointed at fakes in this process that answer as their APIs document. The official `resend` SDK sends:
 * - Mailtrap answers 503 (nothing was sent): the email fails over to Brevo at once and is sent there with our id as
 *   Brevo's idempotency key; Brevo's webhook (its bearer token) then moves it to delivered;
 * - Mailtrap answers 500 (it may have sent it; it has no idempotency key): the email is never handed to Brevo and
 *   stays `uncertain` for the reconciler;
 * - Mailtrap accepts: our id travels as a custom variable, and a Mailtrap webhook signed with its secret moves the
 *   email to delivered.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Resend } from "resend";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from "vitest";
import { type DevServer, ensureDevTenant, findFreePort, startDevServer } from "../../scripts/lib/dev-server.mjs";

type Captured = { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown> };
type Fake = { url: string; server: Server; captured: Captured[] };

const MAILTRAP_TOKEN = randomBytes(16).toString("hex");
const MAILTRAP_WEBHOOK_SECRET = randomBytes(16).toString("hex");
const BREVO_API_KEY = `xkeysib-${randomBytes(16).toString("hex")}`;
const BREVO_WEBHOOK_TOKEN = randomBytes(24).toString("base64url");

let server: DevServer | undefined;
let stateDir: string | undefined;
let mailtrap: Fake;
let brevo: Fake;
let resend: Resend;
let apiKey: string;

/** An HTTP server recording every request and answering `reply(request)` as JSON. */
async function startFake(reply: (request: Captured) => { status: number; body: unknown }): Promise<Fake> {
	const captured: Captured[] = [];
	const fake = createServer((req, res) => {
		let text = "";
		req.on("data", (chunk) => {
			text += chunk;
		});
		req.on("end", () => {
			const request = { path: req.url ?? "", headers: req.headers, body: JSON.parse(text || "{}") as Record<string, unknown> };
			captured.push(request);
			const { status, body } = reply(request);
			res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
		});
	});
	await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
	return { url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, server: fake, captured };
}

/** Mailtrap's sending API: 503 for subjects starting "down", 500 for "boom", else accepted. */
function mailtrapReply(request: Captured): { status: number; body: unknown } {
	if (request.headers.authorization !== `Bearer ${MAILTRAP_TOKEN}`)
		return { status: 401, body: { success: false, errors: ["Unauthorized"] } };
	if (request.path !== "/api/send") return { status: 404, body: { error: "Not Found" } };
	const subject = String(request.body.subject ?? "");
	if (subject.startsWith("down")) return { status: 503, body: { success: false, errors: ["Service unavailable"] } };
	if (subject.startsWith("boom")) return { status: 500, body: { success: false, errors: ["Internal server error"] } };
	return { status: 200, body: { success: true, message_ids: [randomUUID()] } };
}

/** Brevo's transactional email API: 201 with a message id. */
function brevoReply(request: Captured): { status: number; body: unknown } {
	if (request.headers["api-key"] !== BREVO_API_KEY) return { status: 401, body: { code: "unauthorized", message: "Key not found" } };
	if (request.path !== "/v3/smtp/email") return { status: 404, body: { code: "document_not_found", message: "Not found" } };
	return { status: 201, body: { messageId: `<${randomUUID()}@smtp-relay.mailin.fr>` } };
}

beforeAll(async () => {
	mailtrap = await startFake(mailtrapReply);
	brevo = await startFake(brevoReply);
	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-e2e-failover-"));
	const adminToken = randomBytes(32).toString("hex");
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: {
			ADMIN_TOKEN: adminToken,
			PROVIDERS: "mailtrap,brevo",
			MAILTRAP_API_TOKEN: MAILTRAP_TOKEN,
			MAILTRAP_BASE_URL: mailtrap.url,
			MAILTRAP_ACCOUNT_BASE_URL: mailtrap.url,
			MAILTRAP_WEBHOOK_SECRET,
			BREVO_API_KEY,
			BREVO_BASE_URL: brevo.url,
			BREVO_WEBHOOK_TOKEN,
		},
	});
	const tenant = await ensureDevTenant({ url: server.url, adminToken, stateFile: path.join(stateDir, "dev-tenant.json") });
	apiKey = tenant.token;
	resend = new Resend(apiKey, { baseUrl: server.url });
});

afterAll(async () => {
	await server?.stop();
	for (const fake of [mailtrap, brevo]) await new Promise<void>((resolve) => (fake ? fake.server.close(() => resolve()) : resolve()));
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

beforeEach(() => {
	onTestFailed(() => console.log(`--- wrangler dev log (tail) ---\n${server?.output() ?? "(not started)"}`));
});

async function send(subject: string): Promise<string> {
	const { data, error } = await resend.emails.send({ from: "Acme <hello@example.com>", to: "user@example.org", subject, text: "Hi" });
	expect(error).toBeNull();
	return data?.id ?? "";
}

async function lastEvent(id: string): Promise<string | undefined> {
	return (await resend.emails.get(id)).data?.last_event;
}

/** The email's lifecycle events as `type:provider`. */
async function events(id: string): Promise<string[]> {
	const res = await fetch(`${server?.url}/emails/${id}/events`, { headers: { authorization: `Bearer ${apiKey}` } });
	const body = (await res.json()) as { data: { type: string; provider: string | null }[] };
	return body.data.map((e) => `${e.type}:${e.provider ?? ""}`);
}

function postProviderWebhook(provider: string, body: string, headers: Record<string, string>) {
	return fetch(`${server?.url}/provider-webhooks/${provider}`, {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body,
	});
}

const sentTo = (fake: Fake, subject: string) => fake.captured.filter((c) => c.body.subject === subject);

describe("Mailtrap and Brevo as a failover pair through wrangler dev", () => {
	it("fails over from Mailtrap's 503 to Brevo, keyed by our id, and Brevo's webhook moves the email to delivered", async () => {
		const subject = `down ${randomUUID()}`;
		const id = await send(subject);
		await vi.waitFor(async () => expect(await lastEvent(id)).toBe("sent"), { timeout: 20_000, interval: 250 });

		expect(sentTo(mailtrap, subject)).toHaveLength(1);
		const atBrevo = sentTo(brevo, subject);
		expect(atBrevo).toHaveLength(1);
		expect(atBrevo[0]?.body.headers).toMatchObject({ idempotencyKey: id, "X-Mailin-custom": JSON.stringify({ mailroom_id: id }) });
		expect(await events(id)).toEqual(["queued:", "attempt_failed:mailtrap", "sent:brevo"]);

		const delivered = JSON.stringify({
			event: "delivered",
			email: "user@example.org",
			id: 1,
			"message-id": "<not-the-one-we-stored@smtp-relay.mailin.fr>",
			"X-Mailin-custom": JSON.stringify({ mailroom_id: id }),
			ts_epoch: Date.now(),
			tags: [`mailroom_id:${id}`],
		});
		expect((await postProviderWebhook("brevo", delivered, { authorization: "Bearer wrong" })).status).toBe(401);
		expect(await lastEvent(id)).toBe("sent");
		const posted = await postProviderWebhook("brevo", delivered, { authorization: `Bearer ${BREVO_WEBHOOK_TOKEN}` });
		expect(posted.status).toBe(200);
		expect(await posted.json()).toEqual({ received: 1, matched: 1, unmatched: 0, ignored: 0 });
		expect(await lastEvent(id)).toBe("delivered");
	});

	it("leaves an email Mailtrap answered 500 uncertain for the reconciler, never handing it to Brevo", async () => {
		const subject = `boom ${randomUUID()}`;
		const id = await send(subject);
		await vi.waitFor(async () => expect(await lastEvent(id)).toBe("uncertain"), { timeout: 20_000, interval: 250 });
		expect(sentTo(mailtrap, subject)).toHaveLength(1);
		expect(sentTo(brevo, subject)).toHaveLength(0);
		expect(await events(id)).toEqual(["queued:", "uncertain:mailtrap"]);
	});

	it("sends through Mailtrap with our id as a custom variable, and Mailtrap's signed webhook moves the email to delivered", async () => {
		const subject = `hello ${randomUUID()}`;
		const id = await send(subject);
		await vi.waitFor(async () => expect(await lastEvent(id)).toBe("sent"), { timeout: 20_000, interval: 250 });
		const [request] = sentTo(mailtrap, subject);
		expect(request?.body.custom_variables).toMatchObject({ mailroom_id: id });
		expect(sentTo(brevo, subject)).toHaveLength(0);

		const batch = JSON.stringify({
			events: [
				{
					event: "delivery",
					timestamp: Math.floor(Date.now() / 1000),
					sending_stream: "transactional",
					custom_variables: { mailroom_id: id },
					message_id: randomUUID(),
					email: "user@example.org",
					event_id: randomUUID(),
					sending_domain_name: "example.com",
				},
			],
		});
		const signature = createHmac("sha256", MAILTRAP_WEBHOOK_SECRET).update(batch).digest("hex");
		expect((await postProviderWebhook("mailtrap", batch, { "mailtrap-signature": "0".repeat(64) })).status).toBe(401);
		const posted = await postProviderWebhook("mailtrap", batch, { "mailtrap-signature": signature });
		expect(posted.status).toBe(200);
		expect(await lastEvent(id)).toBe("delivered");
	});
});
