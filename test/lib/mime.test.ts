import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { buildMime, messageIdOf } from "../../src/lib/mime";
import { outboundEmail } from "../helpers/providers";

const build = (overrides: Parameters<typeof outboundEmail>[0] = {}) => {
	const email = outboundEmail(overrides);
	return buildMime(email, { date: new Date("2026-06-01T10:00:00Z"), messageId: messageIdOf(email) });
};

const lines = (raw: string) => raw.split("\r\n");

describe("buildMime", () => {
	it("names the email in Message-ID (at the sender's domain) and X-Mailroom-Id", () => {
		const raw = build();
		expect(raw).toMatch(/^Message-ID: <0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01@acme\.example\.com>$/m);
		expect(raw).toMatch(/^X-Mailroom-Id: 0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01$/m);
	});

	it("keeps the tenant from overriding X-Mailroom-Id", () => {
		const raw = build({ headers: { "X-Mailroom-Id": "forged" } });
		expect(raw).not.toContain("forged");
	});

	it("folds a long non-ASCII subject into encoded words that read back whole", async () => {
		const subject = "Grüße aus Köln — ".repeat(40).trim();
		const raw = build({ subject });
		const head = raw.split("\r\n\r\n")[0] ?? "";
		expect(Math.max(...lines(head).map((l) => l.length))).toBeLessThanOrEqual(78);
		expect((await PostalMime.parse(raw)).subject).toBe(subject);
	});

	it("encodes a non-ASCII header value as encoded words, and leaves ASCII ones as given", async () => {
		const raw = build({ headers: { "X-Note": "héllo wörld", "X-Plain": "order-42" } });
		expect(raw).toMatch(/^X-Note: =\?utf-8\?B\?/m);
		expect(raw).toMatch(/^X-Plain: order-42$/m);
		const word = /^X-Note: =\?utf-8\?B\?([^?]*)\?=$/m.exec(raw)?.[1] ?? "";
		expect(new TextDecoder().decode(Uint8Array.from(atob(word), (c) => c.charCodeAt(0)))).toBe("héllo wörld");
	});

	it("sends 8-bit or long-line text as base64 and plain ASCII as 7bit, so no line passes 998 octets", async () => {
		const html = `<p>${"x".repeat(5000)}</p>`;
		const raw = build({ text: "plain ascii", html, attachments: [] });
		expect(Math.max(...lines(raw).map((l) => l.length))).toBeLessThanOrEqual(998);
		expect(raw).toContain("Content-Transfer-Encoding: 7bit");
		expect(raw).toContain("Content-Transfer-Encoding: base64");
		const parsed = await PostalMime.parse(raw);
		expect(parsed.html?.trim()).toBe(html);
		expect(parsed.text?.trim()).toBe("plain ascii");
		expect((await PostalMime.parse(build({ text: "Grüße", html: null, attachments: [] }))).text?.trim()).toBe("Grüße");
	});

	it("wraps attachments in 76-character base64 lines and they read back byte for byte", async () => {
		const bytes = crypto.getRandomValues(new Uint8Array(5000));
		const content = btoa(String.fromCharCode(...bytes));
		const raw = build({ attachments: [{ filename: "r.bin", contentType: "application/octet-stream", content, contentId: null }] });
		expect(raw).not.toContain(content);
		const attachment = (await PostalMime.parse(raw)).attachments[0];
		expect(new Uint8Array(attachment?.content as ArrayBuffer)).toEqual(bytes);
	});
});
