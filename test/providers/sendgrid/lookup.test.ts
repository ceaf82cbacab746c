import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createSendGridProvider } from "../../../src/providers/sendgrid/client";
import type { LookupEvent, LookupQuery } from "../../../src/providers/types";
import { prism } from "../../helpers/providers";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f12";
const X_MESSAGE_ID = "Ua9z9lSTSaqYBWJe_Xfc-Q";
const MSG_ANN = `${X_MESSAGE_ID}.filterdrecv-5645d9c87f-6r6gb-1-6411E1B2-2.0`;
const MSG_BOB = `${X_MESSAGE_ID}.filterdrecv-5645d9c87f-6r6gb-1-6411E1B2-2.1`;
const SENT_AT = Date.parse("2026-11-20T08:59:59Z");
const T1 = "2026-11-20T09:00:01Z";
const T2 = "2026-11-20T09:00:05Z";

const QUERY: LookupQuery = {
	emailId: EMAIL_ID,
	providerMessageId: X_MESSAGE_ID,
	recipients: ["ann@example.com", "bob@example.com"],
	sentAt: SENT_AT,
};

const BY_X_MESSAGE_ID = `msg_id%20LIKE%20%27${X_MESSAGE_ID}%25%27`;
const BY_OUR_ID = `unique_args%5B%27mailroom_id%27%5D%3D%22${EMAIL_ID}%22`;

function provider(options: { baseUrl?: string; timeoutMs?: number; fetch?: typeof fetch } = {}) {
	return createSendGridProvider({
		apiKey: "SG.test_key",
		baseUrl: options.baseUrl ?? "https://api.sendgrid.test",
		timeoutMs: options.timeoutMs ?? 5_000,
		fetch: options.fetch,
	});
}

function lookUp(query: Partial<LookupQuery> = {}, options: Parameters<typeof provider>[0] = {}) {
	const sendgrid = provider(options);
	if (!sendgrid.lookup) throw new Error("the SendGrid adapter has no lookup");
	return sendgrid.lookup({ ...QUERY, ...query });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
	return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });
}

/** A SendGrid whose search answers `search` and whose `GET /v3/messages/{msg_id}` answers `details(msg_id)`. */
function activity(search: () => Response, details: (msgId: string) => Response = () => json(404, notFound())) {
	return vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = new URL(String(input));
		const msgId = /^\/v3\/messages\/(.+)$/.exec(url.pathname)?.[1];
		return msgId === undefined ? search() : details(decodeURIComponent(msgId));
	});
}

function summary(msgId: string, toEmail: string, status: string, lastEventTime = T2) {
	return {
		from_email: "hello@acme.example.com",
		msg_id: msgId,
		subject: "Your receipt",
		to_email: toEmail,
		status,
		opens_count: 0,
		clicks_count: 0,
		last_event_time: lastEventTime,
	};
}

function message(msgId: string, toEmail: string, events: Record<string, unknown>[]) {
	return { from_email: "hello@acme.example.com", msg_id: msgId, subject: "Your receipt", to_email: toEmail, status: "delivered", events };
}

function notFound() {
	return { errors: [{ message: "not found", field: "message_id" }] };
}

function calledUrls(spy: ReturnType<typeof activity>): string[] {
	return spy.mock.calls.map(([input]) => String(input));
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("SendGrid lookup against the Email Activity OpenAPI spec (Prism)", () => {
	// Prism answers every search with the spec's three example messages (msg_ids abc123, 321befe, 434512dfg) and every
	// message with the schema example: one hard bounce of send@test.com, whose event has no `reason`.
	const bounce: LookupEvent = {
		type: "bounced",
		bounce: "hard",
		at: Date.parse("2017-10-13T18:56:21Z"),
		recipient: "send@test.com",
		detail: { subtype: "hard" },
	};

	function activityMock() {
		// The recording fetch of `prism()` works for any base URL; only the Activity mock's address differs.
		return prism("prismSendGridActivityUrl");
	}

	it("finds an uncertain send by our id with requests the spec accepts", async () => {
		const mock = activityMock();
		const result = await lookUp({ providerMessageId: null }, mock);
		expect(mock.violations).toEqual([]);
		expect(result).toEqual(ok({ found: true, providerMessageId: "abc123", events: [bounce, bounce, bounce] }));
	});

	it("finds a sent email by its X-Message-Id with requests the spec accepts", async () => {
		const mock = activityMock();
		const result = await lookUp({}, mock);
		expect(mock.violations).toEqual([]);
		expect(result).toEqual(ok({ found: true, providerMessageId: X_MESSAGE_ID, events: [bounce, bounce, bounce] }));
	});

	it("harness: Prism rejects a search without a limit of at least 1", async () => {
		const mock = activityMock();
		const response = await mock.fetch(`${mock.baseUrl}/v3/messages?limit=0&query=${BY_OUR_ID}`, {
			headers: { Authorization: "Bearer SG.test_key" },
		});
		expect(response.status).toBe(400);
		expect(mock.violations.join("\n")).toContain("limit must be >= 1");
	});
});

describe("SendGrid lookup requests", () => {
	it("searches by X-Message-Id prefix, one message per recipient, then reads each found message", async () => {
		const spy = activity(
			() => json(200, { messages: [summary(MSG_ANN, "ann@example.com", "delivered"), summary(MSG_BOB, "bob@example.com", "delivered")] }),
			(msgId) => json(200, message(msgId, "x@example.com", [])),
		);
		await lookUp();
		expect(calledUrls(spy)).toEqual([
			`https://api.sendgrid.test/v3/messages?limit=2&query=${BY_X_MESSAGE_ID}`,
			`https://api.sendgrid.test/v3/messages/${encodeURIComponent(MSG_ANN)}`,
			`https://api.sendgrid.test/v3/messages/${encodeURIComponent(MSG_BOB)}`,
		]);
		for (const [, init] of spy.mock.calls) {
			expect(init?.method).toBe("GET");
			expect(new Headers(init?.headers).get("authorization")).toBe("Bearer SG.test_key");
		}
	});

	it("searches by our mailroom_id unique arg when SendGrid's id is unknown", async () => {
		const spy = activity(() => json(200, { messages: [] }));
		await lookUp({ providerMessageId: null });
		expect(calledUrls(spy)).toEqual([`https://api.sendgrid.test/v3/messages?limit=2&query=${BY_OUR_ID}`]);
	});

	it("searches by our mailroom_id unique arg when the send recorded a synthetic id", async () => {
		const spy = activity(() => json(200, { messages: [] }));
		await lookUp({ providerMessageId: `sendgrid:${EMAIL_ID}` });
		expect(calledUrls(spy)).toEqual([`https://api.sendgrid.test/v3/messages?limit=2&query=${BY_OUR_ID}`]);
	});

	it.each([
		[0, 1],
		[1, 1],
		[2000, 1000],
	])("asks for %i recipients' messages with limit=%i", async (count, limit) => {
		const spy = activity(() => json(200, { messages: [] }));
		await lookUp({ recipients: Array.from({ length: count }, (_, i) => `r${i}@example.com`) });
		expect(new URL(calledUrls(spy)[0] ?? "").searchParams.get("limit")).toBe(String(limit));
	});
});

describe("SendGrid Activity event mapping", () => {
	async function eventsOf(events: Record<string, unknown>[]) {
		activity(
			() => json(200, { messages: [summary(MSG_ANN, "ann@example.com", "delivered")] }),
			(msgId) => json(200, message(msgId, "Ann@Example.com", events)),
		);
		const result = await lookUp();
		return result.ok && result.value.found ? result.value.events : undefined;
	}

	const ann = { recipient: "ann@example.com" };

	it.each([
		["processed as sent", { event_name: "processed", processed: T1 }, { type: "sent", at: Date.parse(T1), ...ann, detail: {} }],
		["delivered", { event_name: "delivered", processed: T1 }, { type: "delivered", at: Date.parse(T1), ...ann, detail: {} }],
		[
			"deferred as delivery_delayed with its reason",
			{ event_name: "deferred", processed: T1, reason: "451 try again later", attempt_num: 1 },
			{ type: "delivery_delayed", at: Date.parse(T1), ...ann, detail: { message: "451 try again later" } },
		],
		[
			"a hard bounce with its reason",
			{ event_name: "bounced", processed: T1, reason: "550 5.1.1 unknown user", bounce_type: "hard" },
			{ type: "bounced", bounce: "hard", at: Date.parse(T1), ...ann, detail: { message: "550 5.1.1 unknown user", subtype: "hard" } },
		],
		[
			"a soft bounce (a block) as a soft bounce",
			{ event_name: "bounced", processed: T1, reason: "421 blocked", bounce_type: "soft" },
			{ type: "bounced", bounce: "soft", at: Date.parse(T1), ...ann, detail: { message: "421 blocked", subtype: "soft" } },
		],
		[
			"a bounce without bounce_type as hard",
			{ event_name: "bounced", processed: T1 },
			{ type: "bounced", bounce: "hard", at: Date.parse(T1), ...ann, detail: {} },
		],
		[
			"dropped as failed with its reason",
			{ event_name: "dropped", processed: T1, reason: "Bounced Address" },
			{ type: "failed", at: Date.parse(T1), ...ann, detail: { reason: "Bounced Address" } },
		],
		[
			"spam_report as complained",
			{ event_name: "spam_report", processed: T1 },
			{ type: "complained", at: Date.parse(T1), ...ann, detail: {} },
		],
		[
			"opened",
			{ event_name: "opened", processed: T1, http_user_agent: "Mozilla/5.0" },
			{ type: "opened", at: Date.parse(T1), ...ann, detail: {} },
		],
		[
			"clicked with its url",
			{ event_name: "clicked", processed: T1, url: "https://acme.example.com/receipt" },
			{ type: "clicked", at: Date.parse(T1), ...ann, detail: { link: "https://acme.example.com/receipt" } },
		],
	] as [string, Record<string, unknown>, LookupEvent][])("maps %s", async (_label, event, expected) => {
		expect(await eventsOf([event])).toEqual([expected]);
	});

	it.each(["unsubscribe", "group_unsubscribe", "group_resubscribe", "something_new"])("ignores %s events", async (eventName) => {
		expect(await eventsOf([{ event_name: eventName, processed: T1 }])).toEqual([]);
	});

	it("keeps the events it can read when one is malformed", async () => {
		expect(await eventsOf([{ processed: T1 }, { event_name: "delivered", processed: T2 }])).toEqual([
			{ type: "delivered", at: Date.parse(T2), ...ann, detail: {} },
		]);
	});

	it("reports every event of the message in SendGrid's order", async () => {
		expect(
			await eventsOf([
				{ event_name: "processed", processed: T1 },
				{ event_name: "delivered", processed: T2 },
			]),
		).toEqual([
			{ type: "sent", at: Date.parse(T1), ...ann, detail: {} },
			{ type: "delivered", at: Date.parse(T2), ...ann, detail: {} },
		]);
	});

	it("dates an event from sentAt when its processed time cannot be read", async () => {
		expect(await eventsOf([{ event_name: "delivered", processed: "soon" }])).toEqual([
			{ type: "delivered", at: SENT_AT, ...ann, detail: {} },
		]);
	});
});

describe("SendGrid lookup outcomes", () => {
	it("reports no such email when the search finds no message, reading nothing more", async () => {
		const spy = activity(() => json(200, { messages: [] }));
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: false }));
		expect(spy).toHaveBeenCalledTimes(1);
	});

	it("reports the X-Message-Id part of the found msg_id when it searched by our id", async () => {
		activity(
			() => json(200, { messages: [summary(MSG_ANN, "ann@example.com", "processed")] }),
			(msgId) => json(200, message(msgId, "ann@example.com", [])),
		);
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: true, providerMessageId: X_MESSAGE_ID, events: [] }));
	});

	it("reports each recipient's message events", async () => {
		activity(
			() =>
				json(200, { messages: [summary(MSG_ANN, "ann@example.com", "delivered"), summary(MSG_BOB, "bob@example.com", "not_delivered")] }),
			(msgId) =>
				msgId === MSG_ANN
					? json(200, message(msgId, "ann@example.com", [{ event_name: "delivered", processed: T1 }]))
					: json(200, message(msgId, "bob@example.com", [{ event_name: "bounced", processed: T2, bounce_type: "hard" }])),
		);
		expect(await lookUp()).toEqual(
			ok({
				found: true,
				providerMessageId: X_MESSAGE_ID,
				events: [
					{ type: "delivered", at: Date.parse(T1), recipient: "ann@example.com", detail: {} },
					{ type: "bounced", bounce: "hard", at: Date.parse(T2), recipient: "bob@example.com", detail: { subtype: "hard" } },
				],
			}),
		);
	});

	it("falls back to the search's status when a found message's details answer 404", async () => {
		activity(() =>
			json(200, {
				messages: [
					summary(MSG_ANN, "ann@example.com", "delivered", T1),
					summary(MSG_BOB, "bob@example.com", "processed", T2),
					summary(`${X_MESSAGE_ID}.x.2`, "carol@example.com", "not_delivered"),
				],
			}),
		);
		expect(await lookUp({ recipients: ["ann@example.com", "bob@example.com", "carol@example.com"] })).toEqual(
			ok({
				found: true,
				providerMessageId: X_MESSAGE_ID,
				events: [
					{ type: "delivered", at: Date.parse(T1), recipient: "ann@example.com", detail: {} },
					{ type: "sent", at: Date.parse(T2), recipient: "bob@example.com", detail: {} },
				],
			}),
		);
	});

	it("reads the details of at most 10 messages and reports the rest from the search", async () => {
		const recipients = Array.from({ length: 12 }, (_, i) => `r${i}@example.com`);
		const spy = activity(
			() => json(200, { messages: recipients.map((r, i) => summary(`${X_MESSAGE_ID}.x.${i}`, r, "delivered", T2)) }),
			(msgId) => json(200, message(msgId, `r${msgId.split(".")[2]}@example.com`, [{ event_name: "delivered", processed: T1 }])),
		);
		const result = await lookUp({ recipients });
		expect(spy).toHaveBeenCalledTimes(11);
		expect(result.ok && result.value.found ? result.value.events.map((e) => e.at) : []).toEqual([
			...Array.from({ length: 10 }, () => Date.parse(T1)),
			Date.parse(T2),
			Date.parse(T2),
		]);
	});

	it("treats a search answering 404 as a provider-level permanent error", async () => {
		activity(() => json(404, notFound()));
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider", status: 404 } });
	});

	it("treats a search body without a message list as transient", async () => {
		activity(() => json(200, "<html>ok</html>"));
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats 429 with X-RateLimit-Reset as rate limited until the reset time", async () => {
		const reset = Math.floor(Date.now() / 1000) + 60;
		activity(() => json(429, { errors: [{ message: "too many requests" }] }, { "X-RateLimit-Reset": String(reset) }));
		const result = await lookUp();
		expect(result).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429 } });
		const retry = result.ok || result.error.kind !== "rate_limited" ? undefined : result.error.retryAfterSeconds;
		expect(retry).toBeGreaterThanOrEqual(59);
		expect(retry).toBeLessThanOrEqual(61);
	});

	it("treats a rate-limited message read as rate limited", async () => {
		activity(
			() => json(200, { messages: [summary(MSG_ANN, "ann@example.com", "delivered")] }),
			() => json(429, { errors: [{ message: "too many requests" }] }),
		);
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429 } });
	});

	it.each([500, 503])("treats HTTP %i as transient", async (status) => {
		activity(() => json(status, { errors: [{ message: "internal error" }] }));
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient", status } });
	});

	it.each([
		[400, "invalid syntax: 'bad_field' is not a known field"],
		[401, "authorization required"],
		[403, "access forbidden"],
	])("treats HTTP %i as a provider-level permanent error (no Email Activity access, bad query)", async (status, message) => {
		activity(() => json(status, { errors: [{ message }] }));
		expect(await lookUp()).toMatchObject({
			ok: false,
			error: { kind: "permanent", scope: "provider", status, message: expect.stringContaining(message) },
		});
	});

	it("treats an unreadable message body as transient", async () => {
		activity(
			() => json(200, { messages: [summary(MSG_ANN, "ann@example.com", "delivered")] }),
			() => json(200, "[]"),
		);
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
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
