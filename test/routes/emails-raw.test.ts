import { describe, expect, it } from "vitest";
import { call, seedTenant } from "../helpers/api";
import { seedEmail } from "../helpers/send";

describe("GET /emails/:id/raw", () => {
	it("returns the RFC 5322 message with headers, both bodies and attachments, without Bcc", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, {
			to: "Ann <ann@example.org>",
			cc: "cc@example.org",
			bcc: "secret@example.org",
			reply_to: "reply@example.org",
			subject: "Quarterly report",
			text: "See attached.",
			html: "<p>See attached.</p>",
			headers: { "X-Entity-Ref-ID": "42" },
			attachments: [{ filename: "r.txt", content: btoa("report"), content_type: "text/plain" }],
		});
		const res = await call<string>("GET", `/emails/${id}/raw`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("message/rfc822");
		const raw = res.body;
		// mimetext writes display names and the subject as RFC 2047 encoded words.
		const word = (text: string) => `=?utf-8?B?${btoa(text)}?=`;
		expect(raw).toContain(`From: ${word("Acme")} <hello@${t.domain}>`);
		expect(raw).toContain(`To: ${word("Ann")} <ann@example.org>`);
		expect(raw).toMatch(/^Cc: <cc@example.org>/m);
		expect(raw).toContain(`Subject: ${word("Quarterly report")}`);
		expect(raw).toMatch(/^Reply-To: <?reply@example.org>?/m);
		expect(raw).toMatch(/^X-Entity-Ref-ID: 42/m);
		expect(raw).toContain(`Message-ID: <${id}@${t.domain}>`);
		expect(raw).toMatch(new RegExp(`^X-Mailroom-Id: ${id}$`, "m"));
		expect(raw).toContain("text/plain");
		expect(raw).toContain("text/html");
		expect(raw).toContain('filename="r.txt"');
		expect(raw).toContain(btoa("report"));
		expect(raw).not.toContain("secret@example.org");
	});

	it("answers 404 for another tenant's email", async () => {
		const t = await seedTenant();
		const other = await seedTenant();
		const id = await seedEmail(t);
		expect((await call("GET", `/emails/${id}/raw`, { key: other.key })).status).toBe(404);
	});
});

describe("GET /emails/:id/raw with several reply-to addresses", () => {
	it("lists them all in one Reply-To header inside the header block", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { reply_to: ["a@example.org", "B <b@example.org>"] });
		const raw = (await call<string>("GET", `/emails/${id}/raw`, { key: t.key })).body;
		const headerBlock = raw.split(/\r?\n\r?\n/)[0] ?? "";
		expect(headerBlock).toMatch(/^Reply-To: a@example.org, B <b@example.org>$/m);
	});
});
