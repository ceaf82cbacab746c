import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createMailtrapProvider } from "../../../src/providers/mailtrap/client";
import type { LookupQuery } from "../../../src/providers/types";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f32";
const MESSAGE_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const SENT_AT = Date.parse("2026-11-20T08:59:59Z");

const QUERY: LookupQuery = {
	emailId: EMAIL_ID,
	providerMessageId: MESSAGE_ID,
	recipients: ["ann@example.com", "bob@example.com"],
	sentAt: SENT_AT,
};

function lookUp(query: Partial<LookupQuery> = {}) {
	const mailtrap = createMailtrapProvider({
		apiToken: "mt-test-token",
		baseUrl: "https://send.mailtrap.test",
		accountBaseUrl: "https://mailtrap.test",
		timeoutMs: 5_000,
	});
	if (!mailtrap.lookup) throw new Error("the Mailtrap adapter has no lookup");
	return mailtrap.lookup({ ...QUERY, ...query });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
	return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });
}

/** Mailtrap's account API: the email log list answers `list(search_after)`, a message by id answers `message(id)`. */
function mailtrap(routes: { list?: (cursor: string | null) => Response; message?: (id: string) => Response }) {
	return vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = new URL(String(input));
		if (url.pathname === "/api/email_logs") return routes.list?.(url.searchParams.get("search_after")) ?? json(404, { error: "Not Found" });
		const id = /^\/api\/email_logs\/(.+)$/.exec(url.pathname)?.[1];
		return (id && routes.message?.(decodeURIComponent(id))) || json(404, { error: "Not Found" });
	});
}

/** spec `SendingMessage` (its example, with our custom variables). */
function message(overrides: Record<string, unknown> = {}) {
	return {
		message_id: MESSAGE_ID,
		status: "delivered",
		subject: "Your receipt",
		from: "hello@acme.example.com",
		to: "Ann@Example.com",
		sent_at: "2026-11-20T09:00:00Z",
		client_ip: "203.0.113.42",
		category: "receipt",
		custom_variables: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
		sending_stream: "transactional",
		domain_id: 3938,
		template_id: null,
		template_variables: {},
		opens_count: 1,
		clicks_count: 1,
		raw_message_url: "https://storage.example.com/signed/eml/a1b2c3d4?token=x",
		events: [],
		...overrides,
	};
}

/** A list entry (spec `EmailLogsListResponse.messages[]`: the message without events). */
function listed(id: string, mailroomId: string | undefined) {
	const {
		events: _events,
		raw_message_url: _raw,
		...entry
	} = message({
		message_id: id,
		custom_variables: mailroomId === undefined ? {} : { mailroom_id: mailroomId },
	});
	return entry;
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Mailtrap lookup requests", () => {
	it("reads the email log message by Mailtrap's id on the account host, with the bearer token", async () => {
		const spy = mailtrap({ message: () => json(200, message()) });
		await lookUp();
		expect(spy.mock.calls.map(([input]) => String(input))).toEqual([`https://mailtrap.test/api/email_logs/${MESSAGE_ID}`]);
		const init = spy.mock.calls[0]?.[1];
		expect(init?.method).toBe("GET");
		expect(new Headers(init?.headers).get("authorization")).toBe("Bearer mt-test-token");
	});

	it("without Mailtrap's id, searches the first recipient's messages since it was sent for our custom variable", async () => {
		const spy = mailtrap({
			list: () =>
				json(200, { messages: [listed("other", "someone-else"), listed(MESSAGE_ID, EMAIL_ID)], total_count: 2, next_page_cursor: null }),
			message: () => json(200, message()),
		});
		const result = await lookUp({ providerMessageId: null });
		expect(result).toMatchObject({ ok: true, value: { found: true, providerMessageId: MESSAGE_ID } });
		const list = new URL(String(spy.mock.calls[0]?.[0]));
		expect(Object.fromEntries(list.searchParams)).toEqual({
			"filters[to][operator]": "ci_equal",
			"filters[to][value]": "ann@example.com",
			"filters[sent_after]": "2026-11-20T07:59:59.000Z",
			"filters[sent_before]": expect.any(String),
		});
		expect(String(spy.mock.calls[1]?.[0])).toBe(`https://mailtrap.test/api/email_logs/${MESSAGE_ID}`);
	});

	it("follows next_page_cursor until it finds our message", async () => {
		const spy = mailtrap({
			list: (cursor) =>
				cursor === null
					? json(200, { messages: [listed("m1", undefined)], total_count: 2, next_page_cursor: "m1" })
					: json(200, { messages: [listed(MESSAGE_ID, EMAIL_ID)], total_count: 2, next_page_cursor: null }),
			message: () => json(200, message()),
		});
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: true, value: { found: true } });
		expect(new URL(String(spy.mock.calls[1]?.[0])).searchParams.get("search_after")).toBe("m1");
	});
});

describe("Mailtrap lookup results", () => {
	it("reports sent, then the message's events in our vocabulary", async () => {
		mailtrap({
			message: () =>
				json(
					200,
					message({
						events: [
							{
								event_type: "delivery",
								created_at: "2026-11-20T09:00:02Z",
								details: { sending_ip: "192.0.2.1", recipient_mx: "mx.example.com" },
							},
							{ event_type: "open", created_at: "2026-11-20T09:05:00Z", details: { web_ip_address: "198.51.100.50" } },
							{ event_type: "click", created_at: "2026-11-20T09:06:00Z", details: { click_url: "https://acme.example.com/r" } },
							{ event_type: "spam", created_at: "2026-11-20T09:07:00Z", details: { spam_feedback_type: "abuse" } },
							{ event_type: "unsubscribe", created_at: "2026-11-20T09:08:00Z", details: {} },
						],
					}),
				),
		});
		expect(await lookUp()).toEqual(
			ok({
				found: true,
				providerMessageId: MESSAGE_ID,
				events: [
					{ type: "sent", at: Date.parse("2026-11-20T09:00:00Z"), detail: {} },
					{ type: "delivered", at: Date.parse("2026-11-20T09:00:02Z"), recipient: "ann@example.com", detail: {} },
					{ type: "opened", at: Date.parse("2026-11-20T09:05:00Z"), recipient: "ann@example.com", detail: {} },
					{
						type: "clicked",
						at: Date.parse("2026-11-20T09:06:00Z"),
						recipient: "ann@example.com",
						detail: { link: "https://acme.example.com/r" },
					},
					{ type: "complained", at: Date.parse("2026-11-20T09:07:00Z"), recipient: "ann@example.com", detail: {} },
				],
			}),
		);
	});

	it.each([
		["bounce", { type: "bounced", bounce: "hard", detail: { subtype: "invalid_recipient", message: "User unknown" } }],
		["soft_bounce", { type: "bounced", bounce: "soft", detail: { subtype: "invalid_recipient", message: "User unknown" } }],
		["reject", { type: "failed", detail: { reason: "reject", message: "Policy rejection" } }],
		["suspension", { type: "delivery_delayed", detail: { reason: "suspension", message: "Policy rejection" } }],
	])("reads a %s event", async (eventType, expected) => {
		const details = eventType.includes("bounce")
			? { email_service_provider_response: "User unknown", bounce_category: "invalid_recipient", email_service_provider_status: "5.1.1" }
			: { reject_reason: "Policy rejection" };
		mailtrap({ message: () => json(200, message({ events: [{ event_type: eventType, created_at: "2026-11-20T09:01:00Z", details }] })) });
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events[1]).toEqual({
			at: Date.parse("2026-11-20T09:01:00Z"),
			recipient: "ann@example.com",
			...expected,
		});
	});

	it("reports a message enqueued without events as sent", async () => {
		mailtrap({ message: () => json(200, message({ status: "enqueued", events: [] })) });
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events.map((e) => e.type)).toEqual(["sent"]);
	});

	it("skips an event it cannot read and keeps the others", async () => {
		mailtrap({
			message: () => json(200, message({ events: [{ created_at: "x" }, { event_type: "delivery", created_at: "2026-11-20T09:00:02Z" }] })),
		});
		const result = await lookUp();
		expect(result.ok && result.value.found && result.value.events.map((e) => e.type)).toEqual(["sent", "delivered"]);
	});

	it("says not found for a 404 on Mailtrap's id", async () => {
		mailtrap({});
		expect(await lookUp()).toEqual(ok({ found: false }));
	});

	it("says not found when none of the recipient's messages carries our id", async () => {
		mailtrap({
			list: () => json(200, { messages: [listed("m1", "someone-else"), listed("m2", undefined)], total_count: 2, next_page_cursor: null }),
		});
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: false }));
	});

	it("reports what the list says when the message it listed cannot be read by id yet", async () => {
		mailtrap({ list: () => json(200, { messages: [listed(MESSAGE_ID, EMAIL_ID)], total_count: 1, next_page_cursor: null }) });
		const result = await lookUp({ providerMessageId: null });
		expect(result).toMatchObject({ ok: true, value: { found: true, providerMessageId: MESSAGE_ID } });
		expect(result.ok && result.value.found && result.value.events.map((e) => e.type)).toEqual(["sent"]);
	});
});

describe("Mailtrap lookup errors", () => {
	it("cannot tell after the last page it reads: transient, never not found", async () => {
		let page = 0;
		mailtrap({ list: () => json(200, { messages: [listed(`m${page}`, undefined)], total_count: 99, next_page_cursor: `m${page++}` }) });
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "transient" } });
		expect(page).toBe(5);
	});

	it.each([
		["a list answer without messages", () => json(200, { data: [] })],
		["a 404 on the list", () => json(404, { error: "Not Found" })],
		["HTML", () => json(200, "<html>maintenance</html>")],
	])("cannot tell from %s: transient, never not found", async (_label, list) => {
		mailtrap({ list });
		expect(await lookUp({ providerMessageId: null })).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats an unreadable message as transient", async () => {
		mailtrap({ message: () => json(200, { status: "delivered" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it.each([
		["a 500", () => json(500, { error: "Internal Server Error" })],
		["no answer", () => Promise.reject(new TypeError("Network connection lost."))],
	])("treats %s as transient", async (_label, reply) => {
		vi.spyOn(globalThis, "fetch").mockImplementation(async () => reply());
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("reads a 429 as rate limited", async () => {
		mailtrap({ message: () => json(429, { errors: "Rate limit exceeded" }, { "retry-after": "60" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "rate_limited", retryAfterSeconds: 60 } });
	});

	it("reads a token without access to email logs as a provider-level error of the lookup", async () => {
		mailtrap({ message: () => json(401, { error: "Incorrect API token" }) });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
	});
});
