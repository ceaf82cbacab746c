import { describe, expect, it } from "vitest";
import { smtp, smtpSettings } from "../../../src/providers/smtp";
import { faultError, replyError, SmtpProvider, type SmtpProviderOptions } from "../../../src/providers/smtp/client";
import { CONTEXT, outboundEmail } from "../../helpers/providers";
import { type FakeSmtpOptions, fakeSmtp } from "../../helpers/smtp";

const SETTINGS = { SMTP_HOST: "smtp.example.net", SMTP_USER: "mailroom", SMTP_PASSWORD: "s3cret" };

function provider(options: FakeSmtpOptions = {}, overrides: Partial<SmtpProviderOptions> & { settings?: Record<string, string> } = {}) {
	const server = fakeSmtp({ credentials: { user: "mailroom", password: "s3cret" }, ...options });
	const { settings, ...rest } = overrides;
	const adapter = new SmtpProvider({
		...smtpSettings({ ...SETTINGS, ...settings }),
		timeoutMs: 1_000,
		stageTimeoutMs: 500,
		connect: server.connect,
		...rest,
	});
	return { server, adapter };
}

const rcpt =
	(replies: Record<string, string>): FakeSmtpOptions["reply"] =>
	(step) =>
		step.kind === "command" && step.verb === "RCPT" ? replies[/<([^>]*)>/.exec(step.line)?.[1] ?? ""] : undefined;

describe("the SMTP adapter", () => {
	it("upgrades with STARTTLS, authenticates with AUTH PLAIN, and sends to every recipient in the envelope", async () => {
		const { server, adapter } = provider();
		const outcome = await adapter.send(outboundEmail(), CONTEXT);
		await adapter.close();
		expect(outcome).toMatchObject({ ok: true, value: { providerMessageId: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01@acme.example.com" } });
		const [connection] = server.connections;
		expect(connection).toMatchObject({ secureTransport: "starttls", tls: true });
		expect(connection?.commands.slice(0, 4)).toEqual([
			"EHLO acme.example.com",
			"STARTTLS",
			"EHLO acme.example.com",
			`AUTH PLAIN ${btoa("\0mailroom\0s3cret")}`,
		]);
		expect(server.delivered[0]).toMatchObject({
			from: "hello@acme.example.com",
			recipients: ["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"],
		});
	});

	it("keeps Bcc out of the message, which carries our Message-ID and X-Mailroom-Id", async () => {
		const { server, adapter } = provider();
		await adapter.send(outboundEmail(), CONTEXT);
		await adapter.close();
		const message = server.delivered[0]?.message ?? "";
		const head = message.split("\r\n\r\n")[0] ?? "";
		expect(head).toMatch(/^Message-ID: <0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01@acme\.example\.com>$/m);
		expect(head).toMatch(/^X-Mailroom-Id: 0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01$/m);
		expect(head).toMatch(/^Cc: <carol@example.com>$/m);
		expect(message).not.toContain("dave@example.com");
		expect(message).not.toMatch(/^Bcc:/im);
	});

	it("dot-stuffs lines that start with a dot, so the server reads the text back unchanged", async () => {
		const { server, adapter } = provider();
		await adapter.send(outboundEmail({ text: "line one\n.\n..two\n.three", html: null, attachments: [] }), CONTEXT);
		await adapter.close();
		expect(server.delivered[0]?.message).toContain("line one\r\n.\r\n..two\r\n.three\r\n");
	});

	it("refuses replies sent ahead of the TLS handshake instead of reading them as protected", async () => {
		const { server, adapter } = provider({
			reply: (step) => (step.kind === "command" && step.verb === "STARTTLS" ? "220 Ready\r\n250 injected" : undefined),
		});
		expect(await adapter.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient" } });
		expect(server.connections[0]?.tls).toBe(false);
	});

	it("uses AUTH LOGIN where the server offers only that", async () => {
		const { server, adapter } = provider({ capabilities: ["STARTTLS", "AUTH LOGIN"] });
		expect((await adapter.send(outboundEmail(), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.connections[0]?.commands).toEqual(expect.arrayContaining(["AUTH LOGIN", btoa("mailroom"), btoa("s3cret")]));
	});

	it("fails over when the server offers no STARTTLS but the settings require it", async () => {
		const { server, adapter } = provider({ capabilities: ["AUTH PLAIN"] });
		expect(await adapter.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
		expect(server.connections[0]?.commands).not.toContain("STARTTLS");
	});

	it("fails a 550 5.1.1 for every recipient and suppresses them", async () => {
		const { adapter } = provider({
			reply: rcpt({ "ann@example.com": "550 5.1.1 User unknown", "bob@example.com": "550 5.1.1 User unknown" }),
		});
		const outcome = await adapter.send(outboundEmail({ cc: [], bcc: [] }), CONTEXT);
		await adapter.close();
		expect(outcome).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "message", status: 550, code: "5.1.1", suppress: ["ann@example.com", "bob@example.com"] },
		});
	});

	it("does not suppress a recipient refused for policy (5.7.1)", async () => {
		const { adapter } = provider({ reply: rcpt({ "ann@example.com": "550 5.7.1 Relaying denied" }) });
		const outcome = await adapter.send(outboundEmail({ to: ["ann@example.com"], cc: [], bcc: [] }), CONTEXT);
		await adapter.close();
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
		expect(outcome.ok ? undefined : "suppress" in outcome.error).toBe(false);
	});

	it("sends to the recipients it accepts and reports each refused one as a bounce", async () => {
		const { server, adapter } = provider({
			reply: rcpt({ "bob@example.com": "550 5.1.1 User unknown", "carol@example.com": "554 5.7.1 Blocked" }),
		});
		const outcome = await adapter.send(outboundEmail(), CONTEXT);
		await adapter.close();
		expect(server.delivered[0]?.recipients).toEqual(["ann@example.com", "dave@example.com"]);
		expect(outcome).toMatchObject({
			ok: true,
			value: {
				followUps: [
					{ type: "bounced", bounce: "hard", recipient: "bob@example.com" },
					{ type: "bounced", bounce: "soft", recipient: "carol@example.com" },
				],
			},
		});
	});

	it("gives nothing to anyone when one recipient is deferred (451), so a retry cannot duplicate", async () => {
		const { server, adapter } = provider({ reply: rcpt({ "carol@example.com": "451 4.7.1 Greylisted, try again later" }) });
		expect(await adapter.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status: 451 } });
		await adapter.close();
		expect(server.delivered).toHaveLength(0);
		expect(server.connections[0]?.commands).toContain("RSET");
	});

	it("says SMTPUTF8 for a non-ASCII local part where the server offers it", async () => {
		const { server, adapter } = provider();
		expect((await adapter.send(outboundEmail({ to: ["jörg@example.com"], cc: [], bcc: [] }), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.delivered[0]).toMatchObject({ recipients: ["jörg@example.com"], mailParams: expect.arrayContaining(["SMTPUTF8"]) });
	});

	it("fails a non-ASCII local part with a clear reason where the server has no SMTPUTF8", async () => {
		const { server, adapter } = provider({ capabilities: ["STARTTLS", "AUTH PLAIN"] });
		const outcome = await adapter.send(outboundEmail({ to: ["jörg@example.com"], cc: [], bcc: [] }), CONTEXT);
		await adapter.close();
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
		expect(outcome.ok ? "" : outcome.error.message).toBe(
			"jörg@example.com has a non-ASCII local part and smtp.example.net does not offer SMTPUTF8",
		);
		expect(server.connections[0]?.commands.some((c) => c.startsWith("MAIL"))).toBe(false);
	});

	it("sends a non-ASCII domain as its A-label where the server has no SMTPUTF8", async () => {
		const { server, adapter } = provider({ capabilities: ["STARTTLS", "AUTH PLAIN"] });
		expect((await adapter.send(outboundEmail({ to: ["ann@müller.example"], cc: [], bcc: [] }), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.delivered[0]?.recipients).toEqual(["ann@xn--mller-kva.example"]);
	});

	it("refuses a message larger than the server's SIZE before MAIL FROM", async () => {
		const { server, adapter } = provider({ capabilities: ["STARTTLS", "AUTH PLAIN", "SIZE 100"] });
		expect(await adapter.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
		await adapter.close();
		expect(server.connections[0]?.commands.some((c) => c.startsWith("MAIL"))).toBe(false);
	});
});

describe("SMTP connection reuse", () => {
	it("sends several emails over one connection, each after an RSET", async () => {
		const { server, adapter } = provider();
		for (let i = 0; i < 3; i++)
			expect((await adapter.send(outboundEmail({ id: `0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f0${i}` }), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.connections).toHaveLength(1);
		expect(server.delivered).toHaveLength(3);
		expect(server.connections[0]?.commands.filter((c) => c === "RSET")).toHaveLength(2);
		expect(server.connections[0]?.commands.at(-1)).toBe("QUIT");
	});

	it("opens a connection per email when SMTP_MESSAGES_PER_CONNECTION is 1", async () => {
		const { server, adapter } = provider({}, { settings: { SMTP_MESSAGES_PER_CONNECTION: "1" } });
		for (let i = 0; i < 3; i++) await adapter.send(outboundEmail(), CONTEXT);
		await adapter.close();
		expect(server.connections).toHaveLength(3);
	});

	it("replaces a pooled connection the server closed, before sending anything on it", async () => {
		const { server, adapter } = provider({
			reply: (step, c) => (c.index === 0 && step.kind === "command" && step.verb === "RSET" ? "drop" : undefined),
		});
		expect((await adapter.send(outboundEmail(), CONTEXT)).ok).toBe(true);
		expect((await adapter.send(outboundEmail(), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.connections).toHaveLength(2);
		expect(server.delivered).toHaveLength(2);
	});

	it("does not reuse a connection whose message was lost after the end of data", async () => {
		let dropped = false;
		const { server, adapter } = provider({
			reply: (step) => {
				if (step.kind !== "data-end" || dropped) return undefined;
				dropped = true;
				return "drop";
			},
		});
		expect(await adapter.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		expect((await adapter.send(outboundEmail(), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.connections).toHaveLength(2);
	});
});

describe("SMTP settings", () => {
	it("refuses plain SMTP to a host that is not loopback, as a provider-level error", async () => {
		const { server, adapter } = provider({}, { settings: { SMTP_SECURE: "none" } });
		const outcome = await adapter.send(outboundEmail(), CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
		expect(outcome.ok ? "" : outcome.error.message).toContain("ALLOW_INSECURE_SMTP");
		expect(server.connections).toHaveLength(0);
	});

	it.each(["127.0.0.1", "localhost", "::1"])("allows plain SMTP to the loopback host %s", async (host) => {
		const { server, adapter } = provider({}, { settings: { SMTP_SECURE: "none", SMTP_HOST: host } });
		expect((await adapter.send(outboundEmail(), CONTEXT)).ok).toBe(true);
		await adapter.close();
		expect(server.connections[0]).toMatchObject({ secureTransport: "off", tls: false });
	});

	it("allows plain SMTP anywhere with ALLOW_INSECURE_SMTP=true", async () => {
		const { adapter } = provider({}, { settings: { SMTP_SECURE: "none", ALLOW_INSECURE_SMTP: "true" } });
		expect((await adapter.send(outboundEmail(), CONTEXT)).ok).toBe(true);
		await adapter.close();
	});

	it("refuses an SMTP_SECURE it cannot read instead of guessing", async () => {
		const { server, adapter } = provider({}, { settings: { SMTP_SECURE: "ssl" } });
		expect(await adapter.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
		expect(server.connections).toHaveLength(0);
	});

	it("connects with TLS from the first byte for SMTP_SECURE=tls, on port 465 by default", () => {
		expect(smtpSettings({ SMTP_HOST: "h", SMTP_SECURE: "tls" })).toMatchObject({ secure: "tls", port: 465 });
		expect(smtpSettings({ SMTP_HOST: "h" })).toMatchObject({ secure: "starttls", port: 587 });
	});

	it("refuses at accept time a header whose line SMTP cannot carry", () => {
		const long = "a".repeat(1000);
		expect(smtp.cannotCarry({ headers: { "X-Long": long }, replyTo: [], recipients: 1 })).toContain("X-Long");
		expect(smtp.cannotCarry({ headers: { "X-Long": `é${long}` }, replyTo: [], recipients: 1 })).toBeNull();
	});
});

describe("SMTP reply classification", () => {
	const reply = (code: number, enhanced: string | null, text: string) => ({ code, enhanced, text });
	it.each([
		["mail", reply(421, "4.3.2", "Service not available, closing channel"), { kind: "transient" }],
		["rcpt", reply(450, "4.2.1", "Mailbox busy"), { kind: "transient" }],
		["rcpt", reply(451, "4.7.1", "Greylisted, try again later"), { kind: "transient" }],
		["rcpt", reply(452, "4.5.3", "Too many recipients"), { kind: "rate_limited" }],
		["mail", reply(454, null, "Throttling failure: Maximum sending rate exceeded."), { kind: "rate_limited" }],
		["rcpt", reply(550, "5.1.1", "User unknown"), { kind: "permanent", scope: "message" }],
		["mail", reply(553, "5.7.1", "Sender address rejected"), { kind: "permanent", scope: "message" }],
		["message", reply(554, "5.7.1", "Message rejected as spam"), { kind: "permanent", scope: "message" }],
		["message", reply(552, "5.3.4", "Message size exceeds fixed limit"), { kind: "permanent", scope: "message" }],
		["auth", reply(535, "5.7.8", "Authentication credentials invalid"), { kind: "permanent", scope: "provider" }],
		["mail", reply(530, "5.7.0", "Authentication required"), { kind: "permanent", scope: "provider" }],
		["greeting", reply(554, null, "No SMTP service here"), { kind: "permanent", scope: "provider" }],
		["ehlo", reply(550, null, "Not accepting your HELO"), { kind: "permanent", scope: "provider" }],
	] as const)("reads %s %o as %o", (stage, answer, expected) => {
		expect(replyError(stage, answer, "smtp.example.net")).toMatchObject({ ...expected, status: answer.code });
	});

	it("tells a loss before the end of data (nothing sent) from one after it (uncertain)", () => {
		const lost = { stage: "message" as const, problem: "closed" as const, message: "connection lost" };
		expect(faultError(lost, false).kind).toBe("transient");
		expect(faultError(lost, true).kind).toBe("uncertain");
	});
});
