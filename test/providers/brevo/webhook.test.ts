import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { brevoInbound } from "../../../src/providers/brevo/webhook";
import { webhookOf } from "../../../src/providers/registry";
import type { InboundRequest } from "../../../src/providers/types";
import { seedTenant } from "../../helpers/api";
import { brevoWebhook, markSent, postWebhook, providerEventCounts } from "../../helpers/provider-webhooks";
import { emailRow, eventTypes, seedEmail } from "../../helpers/send";

const SETTINGS = { BREVO_WEBHOOK_TOKEN: "brevo-hook-token" };
const NOW = Date.parse("2026-11-22T09:00:00.000Z");
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f23";
const MESSAGE_ID = "<202611220900.12345678901@smtp-relay.mailin.fr>";
const TS_EPOCH = Date.parse("2026-11-22T08:58:01.123Z");

afterEach(() => vi.restoreAllMocks());

function withAuthorization(authorization: string | null): InboundRequest {
	const headers = new Headers({ "Content-Type": "application/json" });
	if (authorization !== null) headers.set("Authorization", authorization);
	return { rawBody: "{}", headers, now: NOW };
}

/** A transactional webhook payload shaped like Brevo's documentation examples. */
function brevoEvent(event: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		event,
		email: "John@Example.com",
		id: 1234567,
		date: "2026-11-22 09:58:01",
		ts: Math.floor(TS_EPOCH / 1000),
		"message-id": MESSAGE_ID,
		ts_event: Math.floor(TS_EPOCH / 1000),
		subject: "Your receipt",
		"X-Mailin-custom": JSON.stringify({ mailroom_id: EMAIL_ID }),
		sending_ip: "185.41.28.109",
		ts_epoch: TS_EPOCH,
		template_id: 22,
		tags: ["receipt", `mailroom_id:${EMAIL_ID}`],
		mirror_link: "https://app-smtp.brevo.com/log/preview/1a2000f4-4e33-23aa-ab68-900d0009152c",
		contact_id: 8,
		...fields,
	};
}

function parse(body: unknown) {
	return brevoInbound.parse({ rawBody: JSON.stringify(body), headers: new Headers(), now: NOW });
}

function onlyEvent(body: unknown) {
	const parsed = parse(body);
	if (!parsed.ok) throw new Error(parsed.error.message);
	expect(parsed.value.events).toHaveLength(1);
	const [event] = parsed.value.events;
	if (event === undefined) throw new Error("no event");
	return event;
}

describe("Brevo webhook verification", () => {
	it("accepts the configured token as a bearer token", async () => {
		expect(await brevoInbound.verify(withAuthorization("Bearer brevo-hook-token"), SETTINGS)).toEqual({ ok: true, value: undefined });
	});

	it("accepts the token as the password of basic auth in the webhook URL, whatever the user", async () => {
		expect((await brevoInbound.verify(withAuthorization(`Basic ${btoa("brevo:brevo-hook-token")}`), SETTINGS)).ok).toBe(true);
	});

	it.each([
		["a wrong bearer token", "Bearer brevo-hook-token-2"],
		["a wrong basic-auth password", `Basic ${btoa("brevo:nope")}`],
		["the token as the basic-auth user", `Basic ${btoa("brevo-hook-token:")}`],
		["the token without a scheme", "brevo-hook-token"],
		["no Authorization header", null],
	])("rejects %s with 401", async (_label, authorization) => {
		expect(await brevoInbound.verify(withAuthorization(authorization), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when no token is configured, naming the setting", async () => {
		const verified = await brevoInbound.verify(withAuthorization("Bearer "), {});
		expect(verified).toMatchObject({ ok: false, error: { status: 401, message: expect.stringContaining("BREVO_WEBHOOK_TOKEN") } });
	});
});

describe("Brevo webhook parsing", () => {
	it.each([
		["request", { type: "sent" }],
		["delivered", { type: "delivered" }],
		["deferred", { type: "delivery_delayed" }],
		["soft_bounce", { type: "bounced", bounce: "soft" }],
		["hard_bounce", { type: "bounced", bounce: "hard" }],
		["invalid_email", { type: "bounced", bounce: "hard" }],
		["blocked", { type: "failed" }],
		["error", { type: "failed" }],
		["spam", { type: "complained" }],
		["complaint", { type: "complained" }],
		["opened", { type: "opened" }],
		["unique_opened", { type: "opened" }],
		["click", { type: "clicked" }],
	])("maps %s to %o", (event, expected) => {
		expect(onlyEvent(brevoEvent(event))).toMatchObject(expected);
	});

	it("reads our email id from X-Mailin-custom and Brevo's from message-id", () => {
		expect(onlyEvent(brevoEvent("delivered"))).toMatchObject({ emailId: EMAIL_ID, providerMessageId: MESSAGE_ID });
	});

	it("reads our email id from our tag when X-Mailin-custom is missing", () => {
		expect(onlyEvent(brevoEvent("delivered", { "X-Mailin-custom": undefined })).emailId).toBe(EMAIL_ID);
	});

	it("reads our email id from our tag when X-Mailin-custom is not our JSON", () => {
		expect(onlyEvent(brevoEvent("delivered", { "X-Mailin-custom": "some_custom_header" })).emailId).toBe(EMAIL_ID);
	});

	it("matches by Brevo's message id alone when the event carries nothing of ours", () => {
		const event = onlyEvent(brevoEvent("delivered", { "X-Mailin-custom": undefined, tags: ["receipt"] }));
		expect(event.emailId).toBeUndefined();
		expect(event.providerMessageId).toBe(MESSAGE_ID);
	});

	it("names the recipient, lower-cased", () => {
		expect(onlyEvent(brevoEvent("hard_bounce")).recipient).toBe("john@example.com");
	});

	it("dates the event by ts_epoch (UTC milliseconds)", () => {
		expect(onlyEvent(brevoEvent("delivered")).at).toBe(TS_EPOCH);
	});

	it("reads a ts_epoch given in seconds, as Brevo's own example shows it", () => {
		expect(onlyEvent(brevoEvent("delivered", { ts_epoch: 1604933654 })).at).toBe(1604933654_000);
	});

	it("falls back to ts_event, then to now", () => {
		expect(onlyEvent(brevoEvent("delivered", { ts_epoch: undefined })).at).toBe(Math.floor(TS_EPOCH / 1000) * 1000);
		expect(onlyEvent(brevoEvent("delivered", { ts_epoch: undefined, ts_event: undefined })).at).toBe(NOW);
	});

	it("gives no provider event id: Brevo's `id` is the webhook's, the same for every event", () => {
		expect(onlyEvent(brevoEvent("delivered")).providerEventId).toBeUndefined();
	});

	it("keeps a bounce's reason and kind, a failure's kind, and a click's link", () => {
		expect(onlyEvent(brevoEvent("soft_bounce", { reason: "452 mailbox full" })).detail).toEqual({
			subtype: "soft_bounce",
			message: "452 mailbox full",
		});
		expect(onlyEvent(brevoEvent("blocked", { reason: "blocklisted" })).detail).toEqual({ reason: "blocked", message: "blocklisted" });
		expect(onlyEvent(brevoEvent("click", { link: "https://acme.example.com/r" })).detail).toEqual({ link: "https://acme.example.com/r" });
	});

	it("cuts a long reason to 500 characters", () => {
		expect(onlyEvent(brevoEvent("hard_bounce", { reason: "r".repeat(3_000) })).detail.message).toHaveLength(500);
	});

	it("reads a batch (batched webhooks) and counts what it does not track", () => {
		const parsed = parse([brevoEvent("delivered"), brevoEvent("unsubscribe"), brevoEvent("opened"), "junk", { no: "event" }]);
		expect(parsed.ok && parsed.value.events.map((e) => e.type)).toEqual(["delivered", "opened"]);
		expect(parsed.ok && parsed.value.ignored).toBe(3);
	});

	it.each(["unsubscribe", "unsubscribed", "proxy_open", "unique_proxy_open", "list_addition", "somethingNew"])("ignores %s", (event) => {
		expect(parse(brevoEvent(event))).toEqual({ ok: true, value: { events: [], ignored: 1 } });
	});

	it("ignores an event tied to no email (no message id and nothing of ours)", () => {
		expect(parse(brevoEvent("delivered", { "message-id": undefined, "X-Mailin-custom": undefined, tags: [] }))).toEqual({
			ok: true,
			value: { events: [], ignored: 1 },
		});
	});

	it.each([
		["truncated JSON", '{"event":"delivered","email":"jo'],
		["form data", "event=delivered&email=john@example.com"],
		["a JSON string", '"delivered"'],
		["an empty body", ""],
	])("rejects %s with 400", (_label, rawBody) => {
		expect(brevoInbound.parse({ rawBody, headers: new Headers(), now: NOW })).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("is registered as the brevo adapter", () => {
		expect(webhookOf("brevo")).toBe(brevoInbound);
	});
});

describe("POST /provider-webhooks/brevo", () => {
	async function sentViaBrevo() {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "john@example.com" });
		const messageId = `<${crypto.randomUUID()}@smtp-relay.mailin.fr>`;
		await markSent(id, "brevo", messageId);
		return { id, messageId };
	}

	const event = (type: string, id: string, messageId: string, extra: Record<string, unknown> = {}) =>
		brevoEvent(type, {
			"message-id": messageId,
			"X-Mailin-custom": JSON.stringify({ mailroom_id: id }),
			tags: [`mailroom_id:${id}`],
			ts_epoch: Date.now(),
			...extra,
		});

	it("records a delivery with the token and moves the email to delivered", async () => {
		const { id, messageId } = await sentViaBrevo();
		const res = await postWebhook("brevo", brevoWebhook(event("delivered", id, messageId)));
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ received: 1, matched: 1, unmatched: 0, ignored: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "delivered" });
	});

	it("suppresses a hard-bounced recipient", async () => {
		const { id, messageId } = await sentViaBrevo();
		await postWebhook("brevo", brevoWebhook(event("hard_bounce", id, messageId, { reason: "550 unknown user" })));
		expect((await emailRow(id)).status).toBe("bounced");
		const row = await env.DB.prepare("SELECT reason FROM suppressions WHERE email = ?")
			.bind("john@example.com")
			.first<{ reason: string }>();
		expect(row?.reason).toBe("hard_bounce");
	});

	it("treats a replayed webhook as a no-op: nothing is written twice", async () => {
		const { id, messageId } = await sentViaBrevo();
		const request = brevoWebhook(event("delivered", id, messageId));
		await postWebhook("brevo", request);
		const before = await providerEventCounts();
		const again = await postWebhook("brevo", request);
		expect(again.status).toBe(200);
		expect(await providerEventCounts()).toEqual(before);
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivered"]);
	});

	it.each([
		["a wrong token", "Bearer not-the-token"],
		["no credentials", ""],
	])("rejects %s with 401 and writes nothing", async (_label, authorization) => {
		const { id, messageId } = await sentViaBrevo();
		const before = await providerEventCounts();
		const res = await postWebhook("brevo", brevoWebhook(event("delivered", id, messageId), authorization));
		expect(res.status).toBe(401);
		expect(res.body).toMatchObject({ statusCode: 401, name: "invalid_api_key" });
		expect(await providerEventCounts()).toEqual(before);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("rejects a truncated body with 400 and writes nothing", async () => {
		const { id, messageId } = await sentViaBrevo();
		const before = await providerEventCounts();
		const request = brevoWebhook(event("delivered", id, messageId));
		const res = await postWebhook("brevo", { ...request, rawBody: request.rawBody.slice(0, 40) });
		expect(res.status).toBe(400);
		expect(res.body).toMatchObject({ statusCode: 400, name: "validation_error" });
		expect(await providerEventCounts()).toEqual(before);
	});

	it("keeps an event about an unknown email for inspection, answers 200, and keeps it once", async () => {
		const before = await providerEventCounts();
		const request = brevoWebhook(event("delivered", crypto.randomUUID(), "<unknown@smtp-relay.mailin.fr>"));
		const res = await postWebhook("brevo", request);
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ matched: 0, unmatched: 1 });
		await postWebhook("brevo", request);
		expect(await providerEventCounts()).toEqual({ ...before, unmatched: before.unmatched + 1 });
	});
});
