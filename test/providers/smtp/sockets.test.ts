/**
 * The SMTP adapter over the Workers runtime's real `cloudflare:sockets` to a real smtp-server (plain, AUTH; started
 * by test/helpers/smtp-setup.ts): the socket plumbing the scripted-server tests leave out.
 */
import { describe, expect, inject, it } from "vitest";
import { smtpSettings } from "../../../src/providers/smtp";
import { SmtpProvider } from "../../../src/providers/smtp/client";
import { CONTEXT, outboundEmail } from "../../helpers/providers";

type View = { connections: number; messages: { from: string; to: string[]; raw: string }[] };

async function view(): Promise<View> {
	return (await fetch(inject("smtpCatcherViewUrl"))).json();
}

function adapter(settings: Record<string, string> = {}) {
	return new SmtpProvider({
		...smtpSettings({
			SMTP_HOST: "127.0.0.1",
			SMTP_PORT: String(inject("smtpCatcherPort")),
			SMTP_SECURE: "none",
			SMTP_USER: inject("smtpCatcherAuth").user,
			SMTP_PASSWORD: inject("smtpCatcherAuth").password,
			...settings,
		}),
		timeoutMs: 5_000,
	});
}

const decoded = (raw: string) => new TextDecoder().decode(Uint8Array.from(atob(raw), (c) => c.charCodeAt(0)));

describe("SMTP over real sockets in the Workers runtime", () => {
	it("delivers to a plain SMTP server on loopback with AUTH", async () => {
		const id = crypto.randomUUID();
		const smtp = adapter();
		expect(await smtp.send(outboundEmail({ id }), CONTEXT)).toMatchObject({ ok: true });
		await smtp.close();
		const message = (await view()).messages.find((m) => decoded(m.raw).includes(`X-Mailroom-Id: ${id}`));
		expect(message?.from).toBe("hello@acme.example.com");
		expect(message?.to).toEqual(["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]);
	});

	it("carries several emails over one connection", async () => {
		const before = (await view()).connections;
		const smtp = adapter();
		for (let i = 0; i < 3; i++) expect((await smtp.send(outboundEmail({ id: crypto.randomUUID() }), CONTEXT)).ok).toBe(true);
		await smtp.close();
		expect((await view()).connections - before).toBe(1);
	});

	it("reports a refused connection as transient: nothing was sent", async () => {
		const smtp = adapter({ SMTP_PORT: "1" });
		expect(await smtp.send(outboundEmail(), CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("reports wrong credentials as a provider-level error", async () => {
		const smtp = adapter({ SMTP_PASSWORD: "wrong" });
		expect(await smtp.send(outboundEmail(), CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", status: 535 },
		});
	});
});
