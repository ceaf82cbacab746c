import { afterEach, describe, expect, it, vi } from "vitest";
import { createMailgunProvider } from "../../../src/providers/mailgun/client";
import type { LookupQuery } from "../../../src/providers/types";
import { mailgunEventData } from "../../helpers/mailgun";
import { prism } from "../../helpers/providers";
import { json } from "../../helpers/send";

const BASE = "https://api.mailgun.test";
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f41";
const MESSAGE_ID = "20261122091500.1.0A1B2C3D4E5F6A7B@mg.acme.example.com";
const SENT_AT = Date.parse("2026-11-22T09:15:00.000Z");
const QUERY: LookupQuery = { emailId: EMAIL_ID, providerMessageId: MESSAGE_ID, recipients: ["alice@example.com"], sentAt: SENT_AT };

function provider(options: { baseUrl?: string; fetch?: typeof fetch } = {}) {
	return createMailgunProvider({
		apiKey: "key-test",
		domain: "mg.acme.example.com",
		baseUrl: options.baseUrl ?? BASE,
		timeoutMs: 5_000,
		...(options.fetch && { fetch: options.fetch }),
	});
}

function page(items: unknown[], next = `${BASE}/v3/mg.acme.example.com/events/next-${crypto.randomUUID()}`) {
	return json(200, { items, paging: { next, previous: `${BASE}/v3/mg.acme.example.com/events/previous` } });
}

/** Answers Events API calls in turn (the last repeats), recording the URLs asked. */
function events(...answers: (() => Response)[]) {
	const urls: string[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		urls.push(String(input));
		const answer = answers[Math.min(urls.length - 1, answers.length - 1)];
		if (answer === undefined) throw new Error("no answer");
		return answer();
	});
	return urls;
}

const at = (seconds: number) => (SENT_AT + seconds * 1000) / 1000;

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Mailgun lookup by Mailgun's message id", () => {
	it("reports its events in our vocabulary", async () => {
		events(
			() =>
				page([
					mailgunEventData("accepted", { messageId: MESSAGE_ID, emailId: EMAIL_ID }, { timestamp: at(0) }),
					mailgunEventData("delivered", { messageId: MESSAGE_ID, emailId: EMAIL_ID }, { timestamp: at(2) }),
					mailgunEventData("opened", { messageId: MESSAGE_ID, emailId: EMAIL_ID }, { timestamp: at(60) }),
					mailgunEventData("unsubscribed", { messageId: MESSAGE_ID, emailId: EMAIL_ID }, { timestamp: at(70) }),
				]),
			() => page([]),
		);
		expect(await provider().lookup?.(QUERY)).toEqual({
			ok: true,
			value: {
				found: true,
				providerMessageId: MESSAGE_ID,
				events: [
					{ type: "sent", at: SENT_AT, recipient: "alice@example.com", detail: {} },
					{ type: "delivered", at: SENT_AT + 2_000, recipient: "alice@example.com", detail: {} },
					{ type: "opened", at: SENT_AT + 60_000, recipient: "alice@example.com", detail: {} },
				],
			},
		});
	});

	it("maps failures as its webhooks do: a permanent bounce is hard", async () => {
		events(
			() => page([mailgunEventData("failed", { messageId: MESSAGE_ID }, { severity: "permanent", reason: "bounce", timestamp: at(5) })]),
			() => page([]),
		);
		const result = await provider().lookup?.(QUERY);
		expect(result?.ok && result.value.found && result.value.events).toEqual([
			{ type: "bounced", bounce: "hard", at: SENT_AT + 5_000, recipient: "alice@example.com", detail: { subtype: "bounce" } },
		]);
	});

	it("asks for the message id without brackets, from shortly before the send, ascending, 300 a page", async () => {
		const urls = events(() => page([]));
		await provider().lookup?.({ ...QUERY, providerMessageId: `<${MESSAGE_ID}>` });
		const url = new URL(urls[0] ?? "");
		expect(url.origin + url.pathname).toBe(`${BASE}/v3/mg.acme.example.com/events`);
		expect(Object.fromEntries(url.searchParams)).toEqual({
			"message-id": MESSAGE_ID,
			begin: String(Math.floor((SENT_AT - 10 * 60_000) / 1000)),
			ascending: "yes",
			limit: "300",
		});
	});

	it("reads every page until Mailgun answers an empty one", async () => {
		const urls = events(
			() =>
				page([mailgunEventData("accepted", { messageId: MESSAGE_ID }, { timestamp: at(0) })], `${BASE}/v3/mg.acme.example.com/events/p2`),
			() =>
				page([mailgunEventData("delivered", { messageId: MESSAGE_ID }, { timestamp: at(1) })], `${BASE}/v3/mg.acme.example.com/events/p3`),
			() => page([]),
		);
		const result = await provider().lookup?.(QUERY);
		expect(result?.ok && result.value.found && result.value.events.map((e) => e.type)).toEqual(["sent", "delivered"]);
		expect(urls.slice(1)).toEqual([`${BASE}/v3/mg.acme.example.com/events/p2`, `${BASE}/v3/mg.acme.example.com/events/p3`]);
	});

	it("reports not found when Mailgun has no event of that id", async () => {
		events(() => page([]));
		expect(await provider().lookup?.(QUERY)).toEqual({ ok: true, value: { found: false } });
	});

	it("does not follow a next page on another host, which would get our credentials", async () => {
		const urls = events(() => page([mailgunEventData("accepted", { messageId: MESSAGE_ID })], "https://elsewhere.example/v3/events/p2"));
		expect(await provider().lookup?.(QUERY)).toMatchObject({ ok: false, error: { kind: "transient" } });
		expect(urls).toHaveLength(1);
	});

	it("gives up with a transient error after five full pages rather than conclude", async () => {
		const urls = events(() => page([mailgunEventData("opened", { messageId: MESSAGE_ID })]));
		expect(await provider().lookup?.(QUERY)).toMatchObject({ ok: false, error: { kind: "transient" } });
		expect(urls).toHaveLength(5);
	});
});

describe("Mailgun lookup by our id (an uncertain send)", () => {
	const UNCERTAIN: LookupQuery = { ...QUERY, providerMessageId: null, sentAt: null };

	it("finds Mailgun's id among the recipient's accepted events, then reads its events", async () => {
		const now = Date.now();
		const urls = events(
			() =>
				page([
					mailgunEventData("accepted", { messageId: "other@mg.acme.example.com", emailId: "0193b1e2-0000-7000-8000-000000000000" }),
					mailgunEventData("accepted", { messageId: MESSAGE_ID, emailId: EMAIL_ID }, { timestamp: at(0) }),
				]),
			() => page([mailgunEventData("accepted", { messageId: MESSAGE_ID, emailId: EMAIL_ID }, { timestamp: at(0) })]),
			() => page([]),
		);
		const result = await provider().lookup?.(UNCERTAIN);
		expect(result).toMatchObject({ ok: true, value: { found: true, providerMessageId: MESSAGE_ID, events: [{ type: "sent" }] } });
		const search = new URL(urls[0] ?? "");
		expect(search.searchParams.get("event")).toBe("accepted");
		expect(search.searchParams.get("recipient")).toBe("alice@example.com");
		// No send time known: Mailgun's whole retention, up to now.
		expect(Number(search.searchParams.get("begin"))).toBeLessThanOrEqual(Math.floor((now - 3 * 86_400_000) / 1000));
		expect(Number(search.searchParams.get("end"))).toBeGreaterThanOrEqual(Math.floor(now / 1000));
		expect(new URL(urls[1] ?? "").searchParams.get("message-id")).toBe(MESSAGE_ID);
	});

	it("reports not found only once Mailgun answered an empty page", async () => {
		events(
			() => page([mailgunEventData("accepted", { messageId: "other@mg.acme.example.com", emailId: "someone-else" })]),
			() => page([]),
		);
		expect(await provider().lookup?.(UNCERTAIN)).toEqual({ ok: true, value: { found: false } });
	});

	it("is transient when the message was found but its events are not readable yet", async () => {
		events(
			() => page([mailgunEventData("accepted", { messageId: MESSAGE_ID, emailId: EMAIL_ID })]),
			() => page([]),
		);
		expect(await provider().lookup?.(UNCERTAIN)).toMatchObject({ ok: false, error: { kind: "transient" } });
	});
});

describe("Mailgun lookup errors", () => {
	it.each([
		["a 500", () => json(500, { message: "Internal Server Error" }), "transient"],
		["a 503", () => new Response("<html>busy</html>", { status: 503 }), "transient"],
		["a 429", () => json(429, { message: "try again after 30 seconds" }), "rate_limited"],
		["a 401", () => new Response("Forbidden", { status: 401 }), "permanent"],
		["a 200 with HTML", () => new Response("<html>ok</html>", { status: 200 }), "transient"],
		["an empty 200", () => new Response(null, { status: 200 }), "transient"],
	])("classifies %s as %s", async (_label, answer, kind) => {
		events(answer);
		expect(await provider().lookup?.(QUERY)).toMatchObject({ ok: false, error: { kind } });
	});

	it("makes a failed lookup's permanent error provider-level", async () => {
		events(() => json(400, { message: "bad request" }));
		expect(await provider().lookup?.(QUERY)).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it("treats a timeout as transient: reading again is harmless", async () => {
		vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
		expect(await provider().lookup?.(QUERY)).toMatchObject({ ok: false, error: { kind: "transient" } });
	});
});

describe("Mailgun lookup against the published spec (Prism)", () => {
	it("asks the Events API with query fields the spec defines, and reads its example answer", async () => {
		const mock = prism("prismMailgunUrl");
		const result = await provider(mock).lookup?.(QUERY);
		expect(mock.violations).toEqual([]);
		// Prism answers the spec's first example (a `rejected` event) with a next page on Mailgun's real host, which
		// the lookup must not follow with our credentials.
		expect(result).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("searches by recipient with query fields the spec defines", async () => {
		const mock = prism("prismMailgunUrl");
		await provider(mock).lookup?.({ ...QUERY, providerMessageId: null });
		expect(mock.violations).toEqual([]);
	});
});
