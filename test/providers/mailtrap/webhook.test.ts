import { afterEach, describe, expect, it, vi } from "vitest";
import { mailtrapInbound } from "../../../src/providers/mailtrap/webhook";
import { webhookOf } from "../../../src/providers/registry";
import type { InboundRequest } from "../../../src/providers/types";
import { seedTenant } from "../../helpers/api";
import { mailtrapWebhook, markSent, postWebhook, providerEventCounts } from "../../helpers/provider-webhooks";
import { emailRow, eventTypes, seedEmail } from "../../helpers/send";
import { mailtrapSignature } from "../../helpers/signers";

const SECRET = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
const SETTINGS = { MAILTRAP_WEBHOOK_SECRET: SECRET };
const NOW = Date.parse("2026-11-22T09:00:00.000Z");
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f33";
const MESSAGE_ID = "1df37d17-0286-4d8b-8edf-bc4ec5be86e6";
const TIMESTAMP = 1_795_338_700;

afterEach(() => vi.restoreAllMocks());

/** A sending event shaped like Mailtrap's webhook documentation examples, with our custom variables. */
function mailtrapEvent(event: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		event,
		timestamp: TIMESTAMP,
		sending_stream: "transactional",
		category: "receipt",
		custom_variables: { mailroom_id: EMAIL_ID, mailroom_tenant: "tnt_acme" },
		message_id: MESSAGE_ID,
		email: "Receiver@Example.com",
		event_id: "bede7236-2284-43d6-a953-1fdcafd0fdbc",
		sending_domain_name: "acme.example.com",
		...fields,
	};
}

async function signed(rawBody: string, signature?: string): Promise<InboundRequest> {
	const headers = new Headers({
		"Content-Type": "application/json",
		"Mailtrap-Signature": signature ?? (await mailtrapSignature(SECRET, rawBody)),
	});
	return { rawBody, headers, now: NOW };
}

function parseRaw(rawBody: string) {
	return mailtrapInbound.parse({ rawBody, headers: new Headers(), now: NOW });
}

function parse(events: unknown[]) {
	return parseRaw(JSON.stringify({ events }));
}

function onlyEvent(event: Record<string, unknown>) {
	const parsed = parse([event]);
	if (!parsed.ok) throw new Error(parsed.error.message);
	expect(parsed.value.events).toHaveLength(1);
	const [first] = parsed.value.events;
	if (first === undefined) throw new Error("no event");
	return first;
}

describe("Mailtrap webhook verification", () => {
	const body = JSON.stringify({ events: [mailtrapEvent("delivery")] });

	it("accepts the hex HMAC-SHA256 of the raw body under the signing secret", async () => {
		expect(await mailtrapInbound.verify(await signed(body), SETTINGS)).toEqual({ ok: true, value: undefined });
	});

	it("accepts an upper-case hex signature", async () => {
		const request = await signed(body, (await mailtrapSignature(SECRET, body)).toUpperCase());
		expect((await mailtrapInbound.verify(request, SETTINGS)).ok).toBe(true);
	});

	it("accepts the X-Mailtrap-Signature spelling", async () => {
		const request = { rawBody: body, headers: new Headers({ "X-Mailtrap-Signature": await mailtrapSignature(SECRET, body) }), now: NOW };
		expect((await mailtrapInbound.verify(request, SETTINGS)).ok).toBe(true);
	});

	it("rejects a signature made with another secret", async () => {
		const request = await signed(body, await mailtrapSignature("ffffffffffffffffffffffffffffffff", body));
		expect(await mailtrapInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a tampered body", async () => {
		const request = await signed(body);
		const tampered = { ...request, rawBody: body.replace("delivery", "bounce") };
		expect(await mailtrapInbound.verify(tampered, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects the secret's own bytes decoded from hex as the key (Mailtrap keys with the text)", async () => {
		const key = await crypto.subtle.importKey(
			"raw",
			Uint8Array.from(SECRET.match(/../g) ?? [], (h) => Number.parseInt(h, 16)),
			{ name: "HMAC", hash: "SHA-256" },
			false,
			["sign"],
		);
		const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
		const request = await signed(body, Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
		expect(await mailtrapInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a request without a signature", async () => {
		const request = { rawBody: body, headers: new Headers({ "Content-Type": "application/json" }), now: NOW };
		expect(await mailtrapInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when no secret is configured, naming the setting", async () => {
		const verified = await mailtrapInbound.verify(await signed(body), {});
		expect(verified).toMatchObject({ ok: false, error: { status: 401, message: expect.stringContaining("MAILTRAP_WEBHOOK_SECRET") } });
	});
});

describe("Mailtrap webhook parsing", () => {
	it.each([
		["delivery", { type: "delivered" }],
		["bounce", { type: "bounced", bounce: "hard" }],
		["soft bounce", { type: "bounced", bounce: "soft" }],
		["soft_bounce", { type: "bounced", bounce: "soft" }],
		["suspension", { type: "delivery_delayed" }],
		["reject", { type: "failed" }],
		["spam", { type: "complained" }],
		["spam_complaint", { type: "complained" }],
		["open", { type: "opened" }],
		["click", { type: "clicked" }],
	])("maps %s to %o", (event, expected) => {
		expect(onlyEvent(mailtrapEvent(event))).toMatchObject(expected);
	});

	it("reads our id from custom_variables, Mailtrap's message id, its event id, the recipient and the time", () => {
		expect(onlyEvent(mailtrapEvent("delivery"))).toEqual({
			type: "delivered",
			at: TIMESTAMP * 1000,
			emailId: EMAIL_ID,
			providerMessageId: MESSAGE_ID,
			providerEventId: "bede7236-2284-43d6-a953-1fdcafd0fdbc",
			recipient: "receiver@example.com",
			detail: {},
		});
	});

	it("keeps a bounce's category and server response", () => {
		const event = onlyEvent(
			mailtrapEvent("bounce", { response: "[CS01] Message rejected due to local policy", response_code: 555, bounce_category: "spam" }),
		);
		expect(event.detail).toEqual({ subtype: "spam", message: "[CS01] Message rejected due to local policy" });
	});

	it("keeps why a message was rejected or suspended", () => {
		expect(onlyEvent(mailtrapEvent("reject", { reason: "Recipient in suppression list. Reason: unsubscription" })).detail).toEqual({
			reason: "reject",
			message: "Recipient in suppression list. Reason: unsubscription",
		});
		expect(onlyEvent(mailtrapEvent("suspension", { reason: "Your account has reached its daily sending limit." })).detail).toEqual({
			reason: "suspension",
			message: "Your account has reached its daily sending limit.",
		});
	});

	it("keeps a click's link", () => {
		expect(onlyEvent(mailtrapEvent("click", { url: "https://mailtrap.io/email-api" })).detail).toEqual({
			link: "https://mailtrap.io/email-api",
		});
	});

	it("dates an event without a timestamp now", () => {
		expect(onlyEvent(mailtrapEvent("delivery", { timestamp: undefined })).at).toBe(NOW);
	});

	it("matches by message id alone when the custom variables are missing", () => {
		const event = onlyEvent(mailtrapEvent("delivery", { custom_variables: undefined }));
		expect(event.emailId).toBeUndefined();
		expect(event.providerMessageId).toBe(MESSAGE_ID);
	});

	it("reads every event of a batch and counts what it does not track", () => {
		const parsed = parse([
			mailtrapEvent("delivery"),
			mailtrapEvent("unsubscribe"),
			mailtrapEvent("open", { event_id: "e2" }),
			{ event: "activity_log.user.login", description: "logged in with SSO", actor: { id: 1 }, timestamp: TIMESTAMP },
			"junk",
			mailtrapEvent("delivery", { message_id: undefined, custom_variables: undefined }),
		]);
		expect(parsed.ok && parsed.value.events.map((e) => e.type)).toEqual(["delivered", "opened"]);
		expect(parsed.ok && parsed.value.ignored).toBe(4);
	});

	it("reads the JSON Lines payload format", () => {
		const rawBody = [mailtrapEvent("delivery"), mailtrapEvent("open", { event_id: "e2" }), mailtrapEvent("click", { event_id: "e3" })]
			.map((e) => JSON.stringify(e))
			.join("\n");
		const parsed = parseRaw(`${rawBody}\n`);
		expect(parsed.ok && parsed.value.events.map((e) => e.type)).toEqual(["delivered", "opened", "clicked"]);
	});

	it("reads a JSON Lines payload of one line", () => {
		const parsed = parseRaw(JSON.stringify(mailtrapEvent("delivery")));
		expect(parsed.ok && parsed.value.events.map((e) => e.type)).toEqual(["delivered"]);
	});

	it.each([
		["truncated JSON", '{"events":[{"event":"delivery","message_id":"1df3'],
		["a JSON Lines body with a broken line", `${JSON.stringify(mailtrapEvent("delivery"))}\n{"event":"op`],
		["an array", JSON.stringify([mailtrapEvent("delivery")])],
		["an object without events", JSON.stringify({ data: [] })],
		["form data", "event=delivery&email=receiver@example.com&message_id=abc-123"],
		["an empty body", ""],
	])("rejects %s with 400", (_label, rawBody) => {
		expect(parseRaw(rawBody)).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("is registered as the mailtrap adapter", () => {
		expect(webhookOf("mailtrap")).toBe(mailtrapInbound);
	});
});

describe("POST /provider-webhooks/mailtrap", () => {
	async function sentViaMailtrap() {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "receiver@example.com" });
		const messageId = crypto.randomUUID();
		await markSent(id, "mailtrap", messageId);
		return { id, messageId };
	}

	const batch = (...events: Record<string, unknown>[]) => JSON.stringify({ events });
	const about = (id: string, messageId: string, event: string, extra: Record<string, unknown> = {}) =>
		mailtrapEvent(event, {
			custom_variables: { mailroom_id: id },
			message_id: messageId,
			event_id: crypto.randomUUID(),
			timestamp: Math.floor(Date.now() / 1000),
			...extra,
		});

	it("records a signed batch and moves the email to delivered", async () => {
		const { id, messageId } = await sentViaMailtrap();
		const res = await postWebhook("mailtrap", await mailtrapWebhook(batch(about(id, messageId, "delivery"), about(id, messageId, "open"))));
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ received: 2, matched: 2, unmatched: 0, ignored: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "opened" });
	});

	it("deduplicates a replayed event by its event_id: nothing is written twice", async () => {
		const { id, messageId } = await sentViaMailtrap();
		const delivery = about(id, messageId, "delivery");
		await postWebhook("mailtrap", await mailtrapWebhook(batch(delivery)));
		const before = await providerEventCounts();
		// Mailtrap's retry may batch the same event differently: it is recognised by its event_id.
		const again = await postWebhook("mailtrap", await mailtrapWebhook(batch(about(id, messageId, "open"), delivery)));
		expect(again.status).toBe(200);
		expect(await providerEventCounts()).toEqual({ ...before, events: before.events + 1 });
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivered", "opened"]);
	});

	it.each([
		["a wrong secret", async (raw: string) => mailtrapWebhook(raw, "ffffffffffffffffffffffffffffffff")],
		["a tampered body", async (raw: string) => ({ ...(await mailtrapWebhook(raw)), rawBody: raw.replace("delivery", "bounce") })],
	])("rejects %s with 401 and writes nothing", async (_label, request) => {
		const { id, messageId } = await sentViaMailtrap();
		const before = await providerEventCounts();
		const res = await postWebhook("mailtrap", await request(batch(about(id, messageId, "delivery"))));
		expect(res.status).toBe(401);
		expect(res.body).toMatchObject({ statusCode: 401, name: "invalid_api_key" });
		expect(await providerEventCounts()).toEqual(before);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("rejects a signed but truncated body with 400 and writes nothing", async () => {
		const { id, messageId } = await sentViaMailtrap();
		const before = await providerEventCounts();
		const res = await postWebhook("mailtrap", await mailtrapWebhook(batch(about(id, messageId, "delivery")).slice(0, 60)));
		expect(res.status).toBe(400);
		expect(res.body).toMatchObject({ statusCode: 400, name: "validation_error" });
		expect(await providerEventCounts()).toEqual(before);
	});

	it("keeps an event about an unknown email for inspection and answers 200", async () => {
		const before = await providerEventCounts();
		const res = await postWebhook("mailtrap", await mailtrapWebhook(batch(about(crypto.randomUUID(), crypto.randomUUID(), "delivery"))));
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ matched: 0, unmatched: 1 });
		expect(await providerEventCounts()).toEqual({ ...before, unmatched: before.unmatched + 1 });
	});
});
