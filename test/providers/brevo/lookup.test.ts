import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createBrevoProvider } from "../../../src/providers/brevo/client";
import type { LookupEvent, LookupQuery } from "../../../src/providers/types";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f22";
const MESSAGE_ID = "<202611200900.12345678901@smtp-relay.mailin.fr>";
const SENT_AT = Date.parse("2026-11-20T08:59:59Z");

const QUERY: LookupQuery = {
	emailId: EMAIL_ID,
	providerMessageId: MESSAGE_ID,
	recipients: ["ann@example.com", "bob@example.com"],
	sentAt: SENT_AT,
};

function lookUp(query: Partial<LookupQuery> = {}) {
	const brevo = createBrevoProvider({ apiKey: "xkeysib-test", baseUrl: "https://api.brevo.test", timeoutMs: 5_000 });
	if (!brevo.lookup) throw new Error("the Brevo adapter has no lookup");
	return brevo.lookup({ ...QUERY, ...query });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
	return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });
}

/** A Brevo answering the event report with `events` and the email list with `list`; others 404. */
function brevo(routes: { events?: () => Response; list?: () => Response }) {
	return vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const { pathname } = new URL(String(input));
		const route = pathname === "/v3/smtp/statistics/events" ? routes.events : pathname === "/v3/smtp/emails" ? routes.list : undefined;
		return route ? route() : json(404, { code: "document_not_found", message: "No route" });
	});
}

/** An event of Brevo's report (`GetEmailEventReportEvents`). */
function reported(event: string, date: string, extra: Record<string, unknown> = {}) {
	return {
		email: "ann@example.com",
		date,
		subject: "Your receipt",
		messageId: MESSAGE_ID,
		event,
		tag: "receipt",
		from: "hello@acme.example.com",
		...extra,
	};
}

function listed(messageId: string, tags: string[]) {
	return { email: "ann@example.com", subject: "Your receipt", messageId, uuid: "5b7a1a7c", date: "2026-11-20T10:00:00.000+01:00", tags };
}

function found(events: LookupEvent[]) {
	return ok({ found: true, providerMessageId: MESSAGE_ID, events });
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Brevo lookup requests", () => {
	it("reads the transactional event report by Brevo's message id, oldest first, with the API key", async () => {
		const spy = brevo({ events: () => json(200, { events: [] }) });
		await lookUp();
		expect(spy).toHaveBeenCalledTimes(1);
		const url = new URL(String(spy.mock.calls[0]?.[0]));
		expect(url.origin + url.pathname).toBe("https://api.brevo.test/v3/smtp/statistics/events");
		expect(Object.fromEntries(url.searchParams)).toEqual({ messageId: MESSAGE_ID, sort: "asc", limit: "500", offset: "0" });
		const init = spy.mock.calls[0]?.[1];
		expect(init?.method).toBe("GET");
		expect(new Headers(init?.headers).get("api-key")).toBe("xkeysib-test");
	});

	it("without Brevo's id, finds it by our tag in the first recipient's email list around when it was sent", async () => {
		const spy = brevo({
			list: () => json(200, { count: 1, transactionalEmails: [listed(MESSAGE_ID, ["receipt", `mailroom_id:${EMAIL_ID}`])] }),
			events: () => json(200, { events: [] }),
		});
		const sentAt = Date.now() - 3_600_000;
		expect(await lookUp({ providerMessageId: null, sentAt })).toEqual(found([]));
		const list = new URL(String(spy.mock.calls[0]?.[0]));
		expect(list.pathname).toBe("/v3/smtp/emails");
		// A day of margin either side: Brevo dates the list in the account's time zone.
		expect(Object.fromEntries(list.searchParams)).toMatchObject({
			email: "ann@example.com",
			startDate: new Date(sentAt - 86_400_000).toISOString().slice(0, 10),
			endDate: new Date(Date.now() + 86_400_000).toISOString().slice(0, 10),
			sort: "desc",
		});
		expect(new URL(String(spy.mock.calls[1]?.[0])).searchParams.get("messageId")).toBe(MESSAGE_ID);
	});
});

describe("Brevo lookup results", () => {
	it("reports the message's events in our vocabulary, with their recipients and times", async () => {
		brevo({
			events: () =>
				json(200, {
					events: [
						reported("requests", "2026-11-20T10:00:00.000+01:00"),
						reported("deferred", "2026-11-20T10:00:01.000+01:00", { reason: "421 try later" }),
						reported("delivered", "2026-11-20T10:00:02.000+01:00"),
						reported("opened", "2026-11-20T10:05:00.000+01:00", { ip: "198.51.100.7" }),
						reported("clicks", "2026-11-20T10:06:00.000+01:00", { link: "https://acme.example.com/r" }),
						reported("hardBounces", "2026-11-20T10:00:03.000+01:00", { email: "Bob@Example.com", reason: "550 unknown user" }),
					],
				}),
		});
		expect(await lookUp()).toEqual(
			found([
				{ type: "sent", at: Date.parse("2026-11-20T09:00:00Z"), recipient: "ann@example.com", detail: {} },
				{
					type: "delivery_delayed",
					at: Date.parse("2026-11-20T09:00:01Z"),
					recipient: "ann@example.com",
					detail: { subtype: "deferred", message: "421 try later" },
				},
				{ type: "delivered", at: Date.parse("2026-11-20T09:00:02Z"), recipient: "ann@example.com", detail: {} },
				{ type: "opened", at: Date.parse("2026-11-20T09:05:00Z"), recipient: "ann@example.com", detail: {} },
				{
					type: "clicked",
					at: Date.parse("2026-11-20T09:06:00Z"),
					recipient: "ann@example.com",
					detail: { link: "https://acme.example.com/r" },
				},
				{
					type: "bounced",
					bounce: "hard",
					at: Date.parse("2026-11-20T09:00:03Z"),
					recipient: "bob@example.com",
					detail: { subtype: "hardBounces", message: "550 unknown user" },
				},
			]),
		);
	});

	it.each([
		["hardBounces", { type: "bounced", bounce: "hard" }],
		["invalid", { type: "bounced", bounce: "hard" }],
		["softBounces", { type: "bounced", bounce: "soft" }],
		["bounces", { type: "bounced", bounce: "soft" }],
		["blocked", { type: "failed" }],
		["error", { type: "failed" }],
		["spam", { type: "complained" }],
	])("reads %s as %o", async (event, expected) => {
		brevo({ events: () => json(200, { events: [reported(event, "2026-11-20T10:00:00Z")] }) });
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events[0]).toMatchObject(expected);
	});

	it("names the kind of a failure as its reason", async () => {
		brevo({ events: () => json(200, { events: [reported("blocked", "2026-11-20T10:00:00Z", { reason: "blocklisted contact" })] }) });
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events[0]?.detail).toEqual({
			reason: "blocked",
			message: "blocklisted contact",
		});
	});

	it.each(["unsubscribed", "loadedByProxy", "somethingNew"])("reports nothing for %s", async (event) => {
		brevo({ events: () => json(200, { events: [reported(event, "2026-11-20T10:00:00Z")] }) });
		expect(await lookUp()).toEqual(found([]));
	});

	it("skips an event it cannot read and keeps the others", async () => {
		brevo({ events: () => json(200, { events: [{ date: "x" }, reported("delivered", "2026-11-20T10:00:00Z")] }) });
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events.map((e) => e.type)).toEqual(["delivered"]);
	});

	it("reports a message Brevo gave us the id of as found, even before its first event (Brevo answers {})", async () => {
		brevo({ events: () => json(200, {}) });
		expect(await lookUp()).toEqual(found([]));
	});

	it("dates an event without a readable date when the email was sent", async () => {
		brevo({ events: () => json(200, { events: [reported("delivered", "yesterday")] }) });
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events[0]?.at).toBe(SENT_AT);
	});

	it("says not found when no email of the recipient carries our tag", async () => {
		brevo({
			list: () => json(200, { count: 1, transactionalEmails: [listed("<other@x>", ["mailroom_id:0193b1e2-0000-7000-8000-000000000000"])] }),
		});
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: false }));
	});

	it("says not found when the recipient has no emails at all (count 0)", async () => {
		brevo({ list: () => json(200, { count: 0 }) });
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: false }));
	});
});

describe("Brevo lookup errors", () => {
	it("cannot tell from a full page without our tag: transient, never not found", async () => {
		const emails = Array.from({ length: 500 }, (_, i) => listed(`<m${i}@x>`, ["receipt"]));
		brevo({ list: () => json(200, { count: 900, transactionalEmails: emails }) });
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("cannot tell from a list answer without the list: transient, never not found", async () => {
		brevo({ list: () => json(200, { message: "ok" }) });
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it.each([
		["a 500", () => json(500, "<html>oops</html>")],
		["a 503", () => json(503, { code: "service_unavailable" })],
		["no answer", () => Promise.reject(new TypeError("Network connection lost."))],
	])("treats %s as transient", async (_label, answer) => {
		vi.spyOn(globalThis, "fetch").mockImplementation(async () => answer());
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("reads a 429 as rate limited until x-sib-ratelimit-reset", async () => {
		brevo({ events: () => json(429, { code: "too_many_requests" }, { "x-sib-ratelimit-reset": "30" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "rate_limited", retryAfterSeconds: 30 } });
	});

	it("reads bad credentials as a provider-level error of the lookup", async () => {
		brevo({ events: () => json(401, { code: "unauthorized", message: "Key not found" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it("needs a recipient to look up by our id", async () => {
		const spy = brevo({});
		expect(await lookUp({ providerMessageId: null, recipients: [] })).toMatchObject({ ok: false, error: { kind: "permanent" } });
		expect(spy).not.toHaveBeenCalled();
	});
});
