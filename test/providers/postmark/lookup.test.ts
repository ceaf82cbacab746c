import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createPostmarkProvider } from "../../../src/providers/postmark/client";
import type { LookupEvent, LookupQuery } from "../../../src/providers/types";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f13";
const MESSAGE_ID = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817";
const SENT_AT = Date.parse("2026-11-20T08:59:59Z");
// Postmark writes times with seven fractional digits and an Eastern offset.
const RECEIVED = "2026-11-20T04:00:00.1234567-05:00";
const DELIVERED = "2026-11-20T04:00:02.5000000-05:00";
const LATER = "2026-11-20T04:05:00.0000000-05:00";

const QUERY: LookupQuery = {
	emailId: EMAIL_ID,
	providerMessageId: MESSAGE_ID,
	recipients: ["ann@example.com", "bob@example.com"],
	sentAt: SENT_AT,
};

const DETAILS_URL = `https://api.postmark.test/messages/outbound/${MESSAGE_ID}/details`;
const SEARCH_URL = `https://api.postmark.test/messages/outbound?count=1&offset=0&metadata_mailroom_id=${EMAIL_ID}`;
const BOUNCES_URL = `https://api.postmark.test/bounces?count=500&offset=0&messageID=${MESSAGE_ID}`;

function provider(options: { timeoutMs?: number } = {}) {
	return createPostmarkProvider({
		serverToken: "pm-server-token",
		baseUrl: "https://api.postmark.test",
		timeoutMs: options.timeoutMs ?? 5_000,
	});
}

function lookUp(query: Partial<LookupQuery> = {}, options: { timeoutMs?: number } = {}) {
	const postmark = provider(options);
	if (!postmark.lookup) throw new Error("the Postmark adapter has no lookup");
	return postmark.lookup({ ...QUERY, ...query });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
	return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });
}

type Routes = { search?: () => Response; details?: () => Response; bounces?: () => Response };

/** A Postmark answering the outbound search, the message details and the message's bounces; others 404. */
function postmark(routes: Routes) {
	return vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = new URL(String(input));
		const route =
			url.pathname === "/messages/outbound"
				? routes.search
				: url.pathname.endsWith("/details")
					? routes.details
					: url.pathname === "/bounces"
						? routes.bounces
						: undefined;
		return route ? route() : json(404, { ErrorCode: 404, Message: "No route" });
	});
}

/** The Messages API's outbound message details (postmark.js `OutboundMessageDetails`). */
function details(events: Record<string, unknown>[], overrides: Record<string, unknown> = {}) {
	return {
		MessageID: MESSAGE_ID,
		Status: "Sent",
		ReceivedAt: RECEIVED,
		From: "hello@acme.example.com",
		To: [{ Email: "ann@example.com", Name: "Ann" }],
		Recipients: ["ann@example.com", "bob@example.com"],
		Subject: "Your receipt",
		Metadata: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
		TextBody: "Thanks",
		MessageEvents: events,
		...overrides,
	};
}

/** A Bounce API record (`GET /bounces`). */
function bounce(type: string, email: string, overrides: Record<string, unknown> = {}) {
	return {
		ID: 692560173,
		Type: type,
		TypeCode: 1,
		Name: type,
		MessageID: MESSAGE_ID,
		Description: `${type} description`,
		Details: `${type} details`,
		Email: email,
		From: "hello@acme.example.com",
		BouncedAt: LATER,
		DumpAvailable: true,
		Inactive: true,
		CanActivate: true,
		Subject: "Your receipt",
		...overrides,
	};
}

function found(events: LookupEvent[], providerMessageId = MESSAGE_ID) {
	return ok({ found: true, providerMessageId, events });
}

const SENT: LookupEvent = { type: "sent", at: Date.parse(RECEIVED), detail: {} };

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Postmark lookup requests", () => {
	it("reads the message details by Postmark's id with the server token", async () => {
		const spy = postmark({ details: () => json(200, details([])) });
		await lookUp();
		expect(spy.mock.calls.map(([input]) => String(input))).toEqual([DETAILS_URL]);
		const init = spy.mock.calls[0]?.[1];
		expect(init?.method).toBe("GET");
		const headers = new Headers(init?.headers);
		expect(headers.get("x-postmark-server-token")).toBe("pm-server-token");
		expect(headers.get("accept")).toBe("application/json");
	});

	it("finds an uncertain send by our mailroom_id metadata, then reads its details", async () => {
		const spy = postmark({
			search: () => json(200, { TotalCount: 1, Messages: [{ MessageID: MESSAGE_ID, Status: "Sent" }] }),
			details: () => json(200, details([])),
		});
		expect(await lookUp({ providerMessageId: null })).toEqual(found([SENT]));
		expect(spy.mock.calls.map(([input]) => String(input))).toEqual([SEARCH_URL, DETAILS_URL]);
	});

	it("reads the message's bounce records only when it has a Bounced event", async () => {
		const spy = postmark({
			details: () =>
				json(200, details([{ Type: "Bounced", Recipient: "ann@example.com", ReceivedAt: LATER, Details: { BounceID: "692560173" } }])),
			bounces: () => json(200, { TotalCount: 1, Bounces: [bounce("HardBounce", "ann@example.com")] }),
		});
		await lookUp();
		expect(spy.mock.calls.map(([input]) => String(input))).toEqual([DETAILS_URL, BOUNCES_URL]);
	});
});

describe("Postmark message details mapping", () => {
	async function eventsOf(events: Record<string, unknown>[], overrides: Record<string, unknown> = {}) {
		postmark({ details: () => json(200, details(events, overrides)) });
		const result = await lookUp();
		return result.ok && result.value.found ? result.value.events : undefined;
	}

	it("reports a sent message as sent when Postmark received it", async () => {
		expect(await eventsOf([])).toEqual([SENT]);
	});

	it("reports a queued message without a sent event", async () => {
		expect(await eventsOf([], { Status: "Queued" })).toEqual([]);
	});

	it.each([
		[
			"Delivered as delivered",
			{ Type: "Delivered", Recipient: "Ann@Example.com", ReceivedAt: DELIVERED, Details: { DeliveryMessage: "250 OK" } },
			{ type: "delivered", at: Date.parse(DELIVERED), recipient: "ann@example.com", detail: {} },
		],
		[
			"Transient as delivery_delayed with the server's answer",
			{ Type: "Transient", Recipient: "ann@example.com", ReceivedAt: DELIVERED, Details: { DeliveryMessage: "451 greylisted" } },
			{ type: "delivery_delayed", at: Date.parse(DELIVERED), recipient: "ann@example.com", detail: { message: "451 greylisted" } },
		],
		[
			"Opened as opened",
			{ Type: "Opened", Recipient: "ann@example.com", ReceivedAt: LATER, Details: { Summary: "Opened" } },
			{ type: "opened", at: Date.parse(LATER), recipient: "ann@example.com", detail: {} },
		],
		[
			"LinkClicked as clicked with its link",
			{ Type: "LinkClicked", Recipient: "ann@example.com", ReceivedAt: LATER, Details: { Link: "https://acme.example.com/r" } },
			{ type: "clicked", at: Date.parse(LATER), recipient: "ann@example.com", detail: { link: "https://acme.example.com/r" } },
		],
	] as [string, Record<string, unknown>, LookupEvent][])("maps %s", async (_label, event, expected) => {
		expect(await eventsOf([event])).toEqual([SENT, expected]);
	});

	it("ignores SubscriptionChanged and types Postmark adds later", async () => {
		expect(
			await eventsOf([
				{ Type: "SubscriptionChanged", Recipient: "ann@example.com", ReceivedAt: LATER, Details: {} },
				{ Type: "Teleported", Recipient: "ann@example.com", ReceivedAt: LATER, Details: {} },
			]),
		).toEqual([SENT]);
	});

	it("dates an event from sentAt when its time cannot be read", async () => {
		expect(
			await eventsOf([{ Type: "Delivered", Recipient: "ann@example.com", ReceivedAt: "soon", Details: {} }], { ReceivedAt: null }),
		).toEqual([
			{ type: "sent", at: SENT_AT, detail: {} },
			{ type: "delivered", at: SENT_AT, recipient: "ann@example.com", detail: {} },
		]);
	});
});

describe("Postmark bounce mapping (as the bounce and spam-complaint webhooks read it)", () => {
	const bouncedEvent = {
		Type: "Bounced",
		Recipient: "ann@example.com",
		ReceivedAt: LATER,
		Details: { Summary: "Bounced", BounceID: 692560173 },
	};
	const at = Date.parse(LATER);

	async function eventsOf(records: unknown[]) {
		postmark({
			details: () => json(200, details([bouncedEvent])),
			bounces: () => json(200, { TotalCount: records.length, Bounces: records }),
		});
		const result = await lookUp();
		return result.ok && result.value.found ? result.value.events.filter((e) => e.type !== "sent") : undefined;
	}

	it.each([
		["HardBounce", "bounced", "hard"],
		["BadEmailAddress", "bounced", "hard"],
		["ManuallyDeactivated", "bounced", "hard"],
		["Transient", "bounced", "soft"],
		["SoftBounce", "bounced", "soft"],
		["DnsError", "bounced", "soft"],
		["Unknown", "bounced", "soft"],
	])("maps a %s record to %s %s", async (type, _event, kind) => {
		expect(await eventsOf([bounce(type, "Ann@Example.com")])).toEqual([
			{ type: "bounced", bounce: kind, at, recipient: "ann@example.com", detail: { subtype: type, message: `${type} details` } },
		]);
	});

	it("maps a SpamComplaint record to complained", async () => {
		expect(await eventsOf([bounce("SpamComplaint", "ann@example.com")])).toEqual([
			{ type: "complained", at, recipient: "ann@example.com", detail: {} },
		]);
	});

	it.each(["Unconfirmed", "SMTPApiError", "TemplateRenderingFailed"])("maps a %s record to failed (the sender's side)", async (type) => {
		expect(await eventsOf([bounce(type, "ann@example.com")])).toEqual([
			{ type: "failed", at, recipient: "ann@example.com", detail: { reason: type, message: `${type} details` } },
		]);
	});

	it("reports every bounce record of the message", async () => {
		expect(await eventsOf([bounce("HardBounce", "ann@example.com"), bounce("Transient", "bob@example.com", { Details: "" })])).toEqual([
			{
				type: "bounced",
				bounce: "hard",
				at,
				recipient: "ann@example.com",
				detail: { subtype: "HardBounce", message: "HardBounce details" },
			},
			{
				type: "bounced",
				bounce: "soft",
				at,
				recipient: "bob@example.com",
				detail: { subtype: "Transient", message: "Transient description" },
			},
		]);
	});

	it("reports a Bounced event without a bounce record as a soft bounce (a guess never suppresses)", async () => {
		expect(await eventsOf([])).toEqual([
			{ type: "bounced", bounce: "soft", at, recipient: "ann@example.com", detail: { message: "Bounced" } },
		]);
	});

	it("reports a SpamComplaint event without a bounce record as complained", async () => {
		postmark({
			details: () => json(200, details([{ Type: "SpamComplaint", Recipient: "ann@example.com", ReceivedAt: LATER, Details: {} }])),
			bounces: () => json(200, { TotalCount: 0, Bounces: [] }),
		});
		expect(await lookUp()).toEqual(found([SENT, { type: "complained", at, recipient: "ann@example.com", detail: {} }]));
	});

	it("treats a failed bounce read as the lookup's failure", async () => {
		postmark({ details: () => json(200, details([bouncedEvent])), bounces: () => json(503, "Service Unavailable") });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient", status: 503 } });
	});
});

describe("Postmark lookup outcomes", () => {
	it("reports no such email when the details answer 404", async () => {
		postmark({ details: () => json(404, "") });
		expect(await lookUp()).toEqual(ok({ found: false }));
	});

	it("reports no such email on ErrorCode 701 (message doesn't exist)", async () => {
		postmark({ details: () => json(422, { ErrorCode: 701, Message: "This message doesn't exist." }) });
		expect(await lookUp()).toEqual(ok({ found: false }));
	});

	it("reports no such email when the metadata search matches nothing, reading nothing more", async () => {
		const spy = postmark({ search: () => json(200, { TotalCount: 0, Messages: [] }) });
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: false }));
		expect(spy).toHaveBeenCalledTimes(1);
	});

	it("treats details missing for a message the search just found as transient, not as never sent", async () => {
		postmark({
			search: () => json(200, { TotalCount: 1, Messages: [{ MessageID: MESSAGE_ID }] }),
			details: () => json(422, { ErrorCode: 701, Message: "This message doesn't exist." }),
		});
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats a search answering 404 as a provider-level permanent error", async () => {
		postmark({ search: () => json(404, "") });
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});

	it("treats a search body without Messages as transient", async () => {
		postmark({ search: () => json(200, { TotalCount: 0 }) });
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats unreadable details as transient", async () => {
		postmark({ details: () => json(200, "<html>ok</html>") });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats HTTP 429 as rate limited for Retry-After seconds", async () => {
		postmark({ details: () => json(429, { ErrorCode: 429, Message: "Rate limit exceeded" }, { "Retry-After": "9" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429, retryAfterSeconds: 9 } });
	});

	it("treats ErrorCode 429 on a 422 as rate limited", async () => {
		postmark({ details: () => json(422, { ErrorCode: 429, Message: "Rate limit exceeded" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 422 } });
	});

	it.each([500, 503])("treats HTTP %i as transient", async (status) => {
		postmark({ details: () => json(status, { ErrorCode: 0, Message: "Internal error" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient", status } });
	});

	it.each([
		[401, 10],
		[422, 700],
	])("treats HTTP %i ErrorCode %i as a provider-level permanent error", async (status, code) => {
		postmark({ details: () => json(status, { ErrorCode: code, Message: `error ${code}` }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider", status, code: String(code) } });
	});

	it("treats a network error as transient", async () => {
		vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats no answer within timeoutMs as transient (a lookup may be asked again)", async () => {
		vi.spyOn(globalThis, "fetch").mockImplementation(
			(_input, init) =>
				new Promise((_resolve, reject) => {
					init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
				}),
		);
		expect(await lookUp({}, { timeoutMs: 50 })).toMatchObject({
			ok: false,
			error: { kind: "transient", message: "no answer within 50 ms" },
		});
	});
});
