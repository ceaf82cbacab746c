import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createMailgunProvider } from "../../../src/providers/mailgun/client";
import type { OutboundEmail } from "../../../src/providers/types";
import { answer, CONTEXT, minimalOf, outboundEmail, prism } from "../../helpers/providers";

const EMAIL = outboundEmail({
	id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f21",
	from: '"Acme, Inc." <hello@acme.example.com>',
	fromMailbox: { name: "Acme, Inc.", address: "hello@acme.example.com" },
	to: ["Ann <ann@example.com>", "Smith, Bob <bob@example.com>"],
	replyTo: ["support@acme.example.com", "Billing <billing@acme.example.com>"],
	tags: [
		{ name: "category", value: "receipt" },
		{ name: "plan", value: "pro" },
	],
});
const MESSAGE_ID = "20261122091500.1.ABCDEF0123456789@mg.acme.example.com";
const SENT = { id: `<${MESSAGE_ID}>`, message: "Queued. Thank you." };

function provider(options: { baseUrl?: string; timeoutMs?: number; fetch?: typeof fetch } = {}) {
	return createMailgunProvider({
		apiKey: "key-test",
		domain: "mg.acme.example.com",
		baseUrl: options.baseUrl ?? "https://api.mailgun.test",
		timeoutMs: options.timeoutMs ?? 5_000,
		...(options.fetch && { fetch: options.fetch }),
	});
}

/** The form the adapter posted, with the request's URL and headers. */
function sentForm(spy: ReturnType<typeof answer>): { url: string; method: string | undefined; headers: Headers; form: FormData } {
	const [input, init] = spy.mock.calls[0] ?? [];
	if (!(init?.body instanceof FormData)) throw new Error("the body is not a FormData");
	return { url: String(input), method: init.method, headers: new Headers(init.headers), form: init.body };
}

/** Every part of a form as [name, value], files as `file:<name>:<type>:<text>`. */
async function partsOf(form: FormData): Promise<[string, string][]> {
	const parts: [string, string][] = [];
	for (const [name, value] of form.entries()) {
		parts.push([name, typeof value === "string" ? value : `file:${value.name}:${value.type}:${await value.text()}`]);
	}
	return parts;
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Mailgun request", () => {
	it("posts every field of a full email as multipart/form-data parts", async () => {
		const spy = answer(200, SENT);
		await provider().send(EMAIL, CONTEXT);
		const { url, method, headers, form } = sentForm(spy);
		expect(url).toBe("https://api.mailgun.test/v3/mg.acme.example.com/messages");
		expect(method).toBe("POST");
		expect(headers.get("authorization")).toBe(`Basic ${btoa("api:key-test")}`);
		expect(await partsOf(form)).toEqual([
			["from", '"Acme, Inc." <hello@acme.example.com>'],
			["to", "Ann <ann@example.com>"],
			["to", '"Smith, Bob" <bob@example.com>'],
			["cc", "carol@example.com"],
			["bcc", "dave@example.com"],
			["subject", "Your receipt"],
			["text", "Thanks"],
			["html", '<p>Thanks</p><img src="cid:logo">'],
			["h:Reply-To", "support@acme.example.com, Billing <billing@acme.example.com>"],
			["h:X-Entity-Ref-ID", "order-42"],
			["o:tag", "category:receipt"],
			["o:tag", "plan:pro"],
			["v:mailroom_id", EMAIL.id],
			["attachment", "file:receipt.pdf:application/pdf:%PDF-1.4 receipt"],
			["inline", `file:logo:image/png:${new TextDecoder().decode(Uint8Array.from("\x89PNG logo", (c) => c.charCodeAt(0)))}`],
		]);
	});

	it("sends attachment bytes exactly, not re-encoded", async () => {
		const spy = answer(200, SENT);
		const bytes = Uint8Array.from([0, 255, 128, 10, 13, 37]);
		const content = btoa(String.fromCharCode(...bytes));
		await provider().send(
			{ ...EMAIL, attachments: [{ filename: "b.bin", contentType: "application/octet-stream", content, contentId: null }] },
			CONTEXT,
		);
		const file = sentForm(spy).form.get("attachment");
		if (!(file instanceof File)) throw new Error("no attachment part");
		expect(new Uint8Array(await file.arrayBuffer())).toEqual(bytes);
	});

	it("leaves out cc, bcc, html, reply-to, headers, tags and attachments when the email has none", async () => {
		const spy = answer(200, SENT);
		await provider().send(minimalOf(EMAIL), CONTEXT);
		expect((await partsOf(sentForm(spy).form)).map(([name]) => name)).toEqual(["from", "to", "to", "subject", "text", "v:mailroom_id"]);
	});

	it("sends at most three tags, leaving out one over Mailgun's 128 characters", async () => {
		const spy = answer(200, SENT);
		const tags = [
			{ name: "long", value: "v".repeat(130) },
			{ name: "a", value: "1" },
			{ name: "b", value: "2" },
			{ name: "c", value: "3" },
			{ name: "d", value: "4" },
		];
		await provider().send({ ...EMAIL, tags }, CONTEXT);
		expect(sentForm(spy).form.getAll("o:tag")).toEqual(["a:1", "b:2", "c:3"]);
	});

	it("trims a trailing slash from the base URL", async () => {
		const spy = answer(200, SENT);
		await provider({ baseUrl: "https://api.eu.mailgun.test/" }).send(EMAIL, CONTEXT);
		expect(sentForm(spy).url).toBe("https://api.eu.mailgun.test/v3/mg.acme.example.com/messages");
	});
});

describe("Mailgun request against the published spec (Prism)", () => {
	/**
	 * Prism 5.16 types `to`, `cc`, `bcc`, `o:tag`, `attachment` and `inline` as arrays while its multipart parser yields
	 * strings, so it refuses every real send with "must be array", even with repeated parts. Everything else is
	 * validated: the request may draw no other violation.
	 */
	const PRISM_ARRAY_QUIRK = new Set(["to", "cc", "bcc", "o:tag", "attachment", "inline"]);

	function violationsBeyondTheQuirk(headers: string[]): unknown[] {
		const all = headers.flatMap((h) => JSON.parse(h) as { location: string[]; code: string; message: string }[]);
		return all.filter((v) => !(v.code === "type" && PRISM_ARRAY_QUIRK.has(v.location[2] ?? "") && v.message.endsWith("must be array")));
	}

	it("sends a full email the spec accepts but for Prism's multipart array quirk", async () => {
		const mock = prism("prismMailgunUrl");
		await provider(mock).send(EMAIL, CONTEXT);
		expect(mock.violations.length).toBeGreaterThan(0);
		expect(violationsBeyondTheQuirk(mock.violations)).toEqual([]);
	});

	it("sends a minimal email the spec accepts but for Prism's multipart array quirk", async () => {
		const mock = prism("prismMailgunUrl");
		await provider(mock).send(minimalOf(EMAIL), CONTEXT);
		expect(violationsBeyondTheQuirk(mock.violations)).toEqual([]);
	});

	it("harness: Prism reports a missing subject beside the quirk", async () => {
		const mock = prism("prismMailgunUrl");
		const form = new FormData();
		form.append("from", "hello@acme.example.com");
		form.append("to", "ann@example.com");
		form.append("text", "x");
		await mock.fetch(`${mock.baseUrl}/v3/mg.acme.example.com/messages`, {
			method: "POST",
			headers: { Authorization: `Basic ${btoa("api:key-test")}` },
			body: form,
		});
		expect(JSON.stringify(violationsBeyondTheQuirk(mock.violations))).toContain("must have required property 'subject'");
	});

	it("is answered 401 by Prism without Basic credentials", async () => {
		const mock = prism("prismMailgunUrl");
		const response = await mock.fetch(`${mock.baseUrl}/v3/mg.acme.example.com/messages`, { method: "POST", body: new FormData() });
		expect(response.status).toBe(401);
	});
});

describe("Mailgun outcomes", () => {
	it("returns Mailgun's id without its angle brackets", async () => {
		answer(200, SENT);
		expect(await provider().send(EMAIL, CONTEXT)).toEqual(ok({ providerMessageId: MESSAGE_ID }));
	});

	it.each([
		["a 200 without an id", { message: "Queued. Thank you." }],
		["a 200 with an HTML body", "<html>ok</html>"],
		["an empty 200", null],
		["a 200 whose id is only brackets", { id: "<>" }],
	])("treats %s as uncertain", async (_label, body) => {
		answer(200, body);
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("reads the wait of a 429 from its message", async () => {
		answer(429, {
			message: "Domain mg.acme.example.com is not allowed to send: account-requests-per-sec limit exceeded, try again after 120 seconds",
		});
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({
			ok: false,
			error: { kind: "rate_limited", retryAfterSeconds: 120, status: 429 },
		});
	});

	it("prefers a Retry-After header on a 429", async () => {
		answer(429, { message: "try again after 120 seconds" }, { "retry-after": "9" });
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "rate_limited", retryAfterSeconds: 9 } });
	});

	it("treats a 429 without a wait as rate limited with no delay given", async () => {
		answer(429, "Too Many Requests");
		const outcome = await provider().send(EMAIL, CONTEXT);
		expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited" } });
		expect(!outcome.ok && "retryAfterSeconds" in outcome.error).toBe(false);
	});

	it.each([401, 403])("treats a %i (bad API key) as a provider-level permanent error", async (status) => {
		answer(status, "Forbidden");
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider", status } });
	});

	it.each([
		[402, { message: "Payment required" }],
		[404, { message: "Domain not found: mg.acme.example.com" }],
		[400, { message: "Domain mg.acme.example.com is not allowed to send: Free accounts are for test purposes only" }],
	])("treats a %i saying the account or domain cannot send as provider-level", async (status, body) => {
		answer(status, body);
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it("treats a 400 about the message as a permanent error of this email, keeping Mailgun's words", async () => {
		answer(400, { message: "to parameter is not a valid address. please check documentation" });
		expect(await provider().send(EMAIL, CONTEXT)).toEqual({
			ok: false,
			error: {
				kind: "permanent",
				scope: "message",
				status: 400,
				message: "HTTP 400: to parameter is not a valid address. please check documentation",
			},
		});
	});

	it("treats a 413 as a permanent error of this email", async () => {
		answer(413, "<html>Request Entity Too Large</html>");
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
	});

	it("treats a 503 as transient: nothing was sent", async () => {
		answer(503, "<html>Service Unavailable</html>");
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "transient", status: 503 } });
	});

	it.each([500, 502, 504])("treats a %i as uncertain: Mailgun may have queued it", async (status) => {
		answer(status, { message: "Internal Server Error" });
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain", status } });
	});

	it("treats an empty 500 as uncertain", async () => {
		answer(500, null);
		expect(await provider().send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});

	it("treats a timeout as uncertain", async () => {
		vi.spyOn(globalThis, "fetch").mockImplementation(
			(_input, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
		);
		expect(await provider({ timeoutMs: 30 }).send(EMAIL, CONTEXT)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
	});
});

describe("Mailgun email variants", () => {
	it("sends a text-only email without an html part", async () => {
		const spy = answer(200, SENT);
		const email: OutboundEmail = { ...minimalOf(EMAIL), html: null };
		await provider().send(email, CONTEXT);
		expect(sentForm(spy).form.has("html")).toBe(false);
	});

	it("sends an html-only email without a text part", async () => {
		const spy = answer(200, SENT);
		await provider().send({ ...EMAIL, text: null }, CONTEXT);
		expect(sentForm(spy).form.has("text")).toBe(false);
	});
});
