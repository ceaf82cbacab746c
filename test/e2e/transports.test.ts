/**
 * End to end through `wrangler dev` for the transports that are not HTTP: the `resend` SDK sends, the Worker's real
 * `cloudflare:sockets` connect to a real SMTP server in this process (smtp-server, STARTTLS with a certificate made
 * here and trusted through NODE_EXTRA_CA_CERTS, AUTH required), and what that server received is checked byte for
 * byte. Scripted replies (scripts/lib/smtp-catcher.mjs) provoke each outcome class; tenants choose their own
 * providers, so one dev server covers SMTP alone, SMTP failing over to the sandbox, and Cloudflare Email Sending
 * through the local `EMAIL` binding (which simulates sending: nothing leaves the machine).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import PostalMime from "postal-mime";
import { Resend } from "resend";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from "vitest";
import { type DevServer, findFreePort, request, startDevServer } from "../../scripts/lib/dev-server.mjs";
import { localCertificate, type SmtpCatcher, startSmtpCatcher } from "../../scripts/lib/smtp-catcher.mjs";

let server: DevServer | undefined;
let catcher: SmtpCatcher | undefined;
let stateDir: string | undefined;
const adminToken = randomBytes(24).toString("hex");
const SMTP_USER = "mailroom";
const SMTP_PASSWORD = randomBytes(12).toString("hex");
const WAIT = { timeout: 30_000, interval: 250 };

beforeAll(async () => {
	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-e2e-transports-"));
	const tls = await localCertificate();
	const caFile = path.join(stateDir, "smtp-ca.pem");
	await writeFile(caFile, tls.cert);
	catcher = await startSmtpCatcher({ tls, auth: { user: SMTP_USER, password: SMTP_PASSWORD } });
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		env: { NODE_EXTRA_CA_CERTS: caFile },
		vars: {
			ADMIN_TOKEN: adminToken,
			PROVIDERS: "smtp",
			SMTP_HOST: "127.0.0.1",
			SMTP_PORT: String(catcher.port),
			SMTP_SECURE: "starttls",
			SMTP_USER,
			SMTP_PASSWORD,
			// Retries within the test's patience: a greylisted email comes back within a second or two.
			RETRY_BASE_SECONDS: "1",
			RETRY_MAX_SECONDS: "2",
		},
	});
});

afterAll(async () => {
	await server?.stop();
	await catcher?.close();
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

beforeEach(() => {
	onTestFailed(() => console.log(`--- wrangler dev log (tail) ---\n${server?.output() ?? "(not started)"}`));
});

/** A tenant sending through `providers`, and a `resend` client with its key. */
async function tenant(providers: string[]) {
	const url = server?.url ?? "";
	const created = await request(url, "POST", "/admin/tenants", adminToken, {
		name: `transports ${providers.join(",")}`,
		allowed_from_domains: ["example.com"],
		providers,
		send_rate: { per_second: 100, burst: 100 },
	});
	expect(created.status).toBe(201);
	const tenantId = (created.json as { id: string }).id;
	const key = await request(url, "POST", `/admin/tenants/${tenantId}/api-keys`, adminToken, { name: "e2e" });
	expect(key.status).toBe(201);
	const token = (key.json as { token: string }).token;
	return {
		resend: new Resend(token, { baseUrl: url }),
		get: (pathname: string) => request(url, "GET", pathname, token),
		post: (pathname: string, body: unknown) => request(url, "POST", pathname, token, body),
	};
}

type Tenant = Awaited<ReturnType<typeof tenant>>;

async function statusOf(t: Tenant, id: string): Promise<string | undefined> {
	return (await t.resend.emails.get(id)).data?.last_event;
}

async function eventsOf(t: Tenant, id: string): Promise<string[]> {
	const { json } = await t.get(`/emails/${id}/events`);
	return (json as { data: { type: string; provider: string | null }[] }).data.map((e) => `${e.type}:${e.provider ?? ""}`);
}

/** The messages the SMTP server received for our email id. */
function received(id: string) {
	return (catcher?.messages ?? []).filter((m) => m.raw.toString("utf8").includes(`X-Mailroom-Id: ${id}`));
}

describe("SMTP through wrangler dev", () => {
	it("delivers what the resend SDK sent over STARTTLS with AUTH, headers, bodies and attachment intact, Bcc only in the envelope", async () => {
		const t = await tenant(["smtp"]);
		const attachment = randomBytes(3000);
		const subject = `Grüße ✓ ünïcode ${randomUUID()}`;
		const { data, error } = await t.resend.emails.send({
			from: "Acme Café <hello@example.com>",
			to: ["Ann <ann@example.org>"],
			cc: ["carol@example.org"],
			bcc: ["dave@example.org"],
			replyTo: "support@example.com",
			subject,
			text: "Hello Ann,\n.a line that starts with a dot\nBye",
			html: "<p>Hellö <b>Ann</b></p>",
			headers: { "X-Entity-Ref-ID": "order-42" },
			attachments: [{ filename: "data.bin", content: attachment }],
		});
		expect(error).toBeNull();
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("sent"), WAIT);

		const [message, ...more] = received(id);
		expect(more).toHaveLength(0);
		expect(message).toMatchObject({ from: "hello@example.com", secure: true, user: SMTP_USER, dropped: false });
		expect(message?.to.sort()).toEqual(["ann@example.org", "carol@example.org", "dave@example.org"]);
		const raw = message?.raw.toString("utf8") ?? "";
		expect(raw).not.toMatch(/^Bcc:/im);
		expect(raw).not.toContain("dave@example.org");

		const parsed = await PostalMime.parse(message?.raw ?? "");
		expect(parsed.from).toMatchObject({ address: "hello@example.com", name: "Acme Café" });
		expect(parsed.to).toEqual([{ address: "ann@example.org", name: "Ann" }]);
		expect(parsed.cc?.map((a) => a.address)).toEqual(["carol@example.org"]);
		expect(parsed.bcc ?? []).toEqual([]);
		expect(parsed.replyTo?.map((a) => a.address)).toEqual(["support@example.com"]);
		expect(parsed.subject).toBe(subject);
		expect(parsed.messageId).toBe(`<${id}@example.com>`);
		expect(parsed.headers.find((h) => h.key === "x-entity-ref-id")?.value).toBe("order-42");
		expect(parsed.text?.trim()).toBe("Hello Ann,\n.a line that starts with a dot\nBye");
		expect(parsed.html).toBe("<p>Hellö <b>Ann</b></p>");
		expect(parsed.attachments).toHaveLength(1);
		expect(parsed.attachments[0]?.filename).toBe("data.bin");
		expect(Buffer.from(parsed.attachments[0]?.content as ArrayBuffer).equals(attachment)).toBe(true);

		// What GET /emails/:id/raw shows is what was sent: the same Message-ID and id header.
		const shown = await t.get(`/emails/${id}/raw`);
		expect(shown.text).toContain(`Message-ID: <${id}@example.com>`);
		expect(shown.text).toContain(`X-Mailroom-Id: ${id}`);
	});

	it("retries an email the server deferred with 451, and it arrives once", async () => {
		const t = await tenant(["smtp"]);
		const { data } = await t.resend.emails.send({
			from: "hello@example.com",
			to: "greylist@example.org",
			subject: "greylisted",
			text: "hi",
		});
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("sent"), WAIT);
		expect(received(id)).toHaveLength(1);
		expect(await eventsOf(t, id)).toEqual(["queued:", "attempt_failed:smtp", "sent:smtp"]);
	});

	it("fails an email the server refuses with 550 5.1.1 and suppresses the recipient", async () => {
		const t = await tenant(["smtp"]);
		const { data } = await t.resend.emails.send({ from: "hello@example.com", to: "unknown@example.org", subject: "nobody", text: "hi" });
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("failed"), WAIT);
		expect(received(id)).toHaveLength(0);
		const suppressions = await t.get("/suppressions");
		expect((suppressions.json as { data: { email: string }[] }).data.map((s) => s.email)).toContain("unknown@example.org");
	});

	it("leaves an email uncertain when the connection drops after DATA, and never sends it again", async () => {
		const t = await tenant(["smtp", "sandbox"]);
		const { data } = await t.resend.emails.send({
			from: "hello@example.com",
			to: "drop-after-data@example.org",
			subject: "lost reply",
			text: "hi",
		});
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("uncertain"), WAIT);
		// Past the retry delays a definite failure would have used: still the one copy, and no other provider tried.
		await new Promise((resolve) => setTimeout(resolve, 3_000));
		expect(received(id)).toHaveLength(1);
		expect(await eventsOf(t, id)).toEqual(["queued:", "uncertain:smtp"]);
	});

	it("fails over to the next provider when the connection drops before MAIL FROM", async () => {
		const t = await tenant(["smtp", "sandbox"]);
		const { data } = await t.resend.emails.send({
			from: "drop-before-mail@example.com",
			to: "delivered@example.org",
			subject: "failover",
			text: "hi",
		});
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("delivered"), WAIT);
		expect(received(id)).toHaveLength(0);
		expect(await eventsOf(t, id)).toEqual(["queued:", "attempt_failed:smtp", "sent:sandbox", "delivered:sandbox"]);
	});

	it("tracks the open and the click of an email Mailroom rewrote for SMTP, through the Worker's own /t/ links", async () => {
		const t = await tenant(["smtp"]);
		const target = `https://acme.example.com/orders/${randomUUID()}?from=mail&amp;tab=items`;
		const sent = await t.post("/emails", {
			from: "hello@example.com",
			to: "ann@example.org",
			subject: "tracked",
			html: `<html><body><p>Your order</p><a href="${target}">See it</a> <a href="mailto:help@example.com">help</a></body></html>`,
			text: `Your order: ${target}`,
			tracking: { open: true, click: true },
		});
		expect(sent.status).toBe(200);
		const id = (sent.json as { id: string }).id;
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("sent"), WAIT);

		// What arrived, decoded from its MIME (quoted-printable soft breaks and all): the links point back at the Worker.
		const parsed = await PostalMime.parse(received(id)[0]?.raw ?? "");
		const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(parsed.html ?? "")?.[1] ?? "";
		const link = /<a href="([^"]+\/t\/c\/[^"]+)"/.exec(parsed.html ?? "")?.[1] ?? "";
		expect(pixel.startsWith(`${server?.url}/t/o/`)).toBe(true);
		expect(parsed.html).toContain('href="mailto:help@example.com"');
		expect(parsed.text?.trim()).toBe(`Your order: ${target}`);

		const browser = { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36" };
		const image = await fetch(pixel, { headers: browser });
		expect([image.status, image.headers.get("content-type")]).toEqual([200, "image/gif"]);
		const followed = await fetch(link, { headers: browser, redirect: "manual" });
		expect(followed.status).toBe(302);
		expect(followed.headers.get("location")).toBe(target.replace("&amp;", "&"));
		await vi.waitFor(
			async () => expect(await eventsOf(t, id)).toEqual(expect.arrayContaining(["opened:mailroom", "clicked:mailroom"])),
			WAIT,
		);
	});
});

describe("Cloudflare Email Sending through wrangler dev", () => {
	it("sends through the local EMAIL binding, which records the message without any network", async () => {
		const t = await tenant(["cloudflare"]);
		const subject = `binding ${randomUUID()}`;
		const { data } = await t.resend.emails.send({ from: "Acme <hello@example.com>", to: "ann@example.org", subject, html: "<p>Hi</p>" });
		const id = data?.id ?? "";
		await vi.waitFor(async () => expect(await statusOf(t, id)).toBe("sent"), WAIT);
		expect(await eventsOf(t, id)).toEqual(["queued:", "sent:cloudflare"]);
		// wrangler dev's local explorer lists what the simulated binding was given.
		const listed = await fetch(`${server?.url}/cdn-cgi/local/explorer/api/local/email/sending`);
		expect(listed.status).toBe(200);
		expect(JSON.stringify(await listed.json())).toContain(subject);
	});
});
