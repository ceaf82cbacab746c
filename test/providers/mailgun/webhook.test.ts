import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mailgunInbound, TIMESTAMP_TOLERANCE_MS } from "../../../src/providers/mailgun/webhook";
import { webhookOf } from "../../../src/providers/registry";
import type { InboundRequest } from "../../../src/providers/types";
import { seedTenant } from "../../helpers/api";
import { mailgunEventData, mailgunWebhook } from "../../helpers/mailgun";
import { markSent, postWebhook, webhookWrites } from "../../helpers/provider-webhooks";
import { emailRow, eventTypes, seedEmail } from "../../helpers/send";

const KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
const SETTINGS = { MAILGUN_WEBHOOK_SIGNING_KEY: KEY };
const NOW = Date.parse("2026-11-22T09:00:00.000Z");
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f31";
const MESSAGE_ID = "20261122085959.1.5A6B7C8D9E0F1A2B@mg.acme.example.com";

function data(event: string, fields: Record<string, unknown> = {}) {
	return mailgunEventData(event, { emailId: EMAIL_ID, messageId: MESSAGE_ID, at: NOW - 1_000 }, fields);
}

async function signed(event: string, fields: Record<string, unknown> = {}, options: { now?: number; token?: string } = {}) {
	return mailgunWebhook(KEY, data(event, fields), { now: NOW, ...options });
}

function parse(request: InboundRequest) {
	const parsed = mailgunInbound.parse(request);
	if (!parsed.ok) throw new Error(parsed.error.message);
	return parsed.value;
}

async function onlyEvent(event: string, fields: Record<string, unknown> = {}) {
	const { events } = parse(await signed(event, fields));
	expect(events).toHaveLength(1);
	const [first] = events;
	if (first === undefined) throw new Error("no event");
	return first;
}

/** The request as it would arrive now, for the route (signed with the Worker's test key). */
async function routeRequest(eventData: unknown, options: { token?: string; now?: number; key?: string } = {}) {
	const request = await mailgunWebhook(options.key ?? env.MAILGUN_WEBHOOK_SIGNING_KEY, eventData, options);
	return { rawBody: request.rawBody, headers: { "content-type": "application/json" } };
}

describe("Mailgun webhook verification", () => {
	it("accepts a body signed with the signing key", async () => {
		expect(await mailgunInbound.verify(await signed("delivered"), SETTINGS)).toEqual({ ok: true, value: undefined });
	});

	it("accepts an upper-case hex signature", async () => {
		const request = await signed("delivered");
		const body = JSON.parse(request.rawBody) as { signature: { signature: string } };
		body.signature.signature = body.signature.signature.toUpperCase();
		expect((await mailgunInbound.verify({ ...request, rawBody: JSON.stringify(body) }, SETTINGS)).ok).toBe(true);
	});

	it("rejects a body signed with another key", async () => {
		const request = await mailgunWebhook("key-another", data("delivered"), { now: NOW });
		expect(await mailgunInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a token changed after signing", async () => {
		const request = await signed("delivered");
		const rawBody = request.rawBody.replace(/"token":"[^"]+"/, '"token":"0000"');
		expect(await mailgunInbound.verify({ ...request, rawBody }, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it.each([
		["more than 5 minutes old", NOW - TIMESTAMP_TOLERANCE_MS - 1_000],
		["more than 5 minutes ahead", NOW + TIMESTAMP_TOLERANCE_MS + 1_000],
	])("rejects a timestamp %s", async (_label, signedAt) => {
		const request = await mailgunWebhook(KEY, data("delivered"), { now: signedAt });
		expect(await mailgunInbound.verify({ ...request, now: NOW }, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("accepts a timestamp 4 minutes old", async () => {
		const request = await mailgunWebhook(KEY, data("delivered"), { now: NOW - 4 * 60_000 });
		expect((await mailgunInbound.verify({ ...request, now: NOW }, SETTINGS)).ok).toBe(true);
	});

	it("rejects every request when no signing key is configured, naming it", async () => {
		const verified = await mailgunInbound.verify(await signed("delivered"), {});
		expect(verified).toMatchObject({ ok: false, error: { status: 401, message: expect.stringContaining("MAILGUN_WEBHOOK_SIGNING_KEY") } });
	});

	it.each([
		["a truncated body", (raw: string) => raw.slice(0, raw.length / 2)],
		["a body without its signature block", () => JSON.stringify({ "event-data": { event: "delivered" } })],
		["a form-encoded (legacy) body", () => "timestamp=1&token=abc&signature=def&event=delivered"],
	])("answers 400 to %s: the signature cannot be read", async (_label, change) => {
		const request = await signed("delivered");
		expect(await mailgunInbound.verify({ ...request, rawBody: change(request.rawBody) }, SETTINGS)).toMatchObject({
			ok: false,
			error: { status: 400 },
		});
	});
});

describe("Mailgun webhook parsing", () => {
	it.each([
		["accepted", "sent"],
		["delivered", "delivered"],
		["complained", "complained"],
		["opened", "opened"],
		["clicked", "clicked"],
	])("maps %s to %s", async (event, type) => {
		expect((await onlyEvent(event)).type).toBe(type);
	});

	it.each(["bounce", "suppress-bounce", "suppress-complaint", "suppress-unsubscribe"])(
		"maps a permanent failure with reason %s to a hard bounce",
		async (reason) => {
			const event = await onlyEvent("failed", { severity: "permanent", reason });
			expect({ type: event.type, bounce: event.bounce }).toEqual({ type: "bounced", bounce: "hard" });
		},
	);

	it("maps a temporary failure to a soft bounce", async () => {
		const event = await onlyEvent("failed", {
			severity: "temporary",
			reason: "generic",
			"delivery-status": { code: 452, message: "Mailbox full" },
		});
		expect({ type: event.type, bounce: event.bounce, detail: event.detail }).toEqual({
			type: "bounced",
			bounce: "soft",
			detail: { subtype: "generic", message: "Mailbox full" },
		});
	});

	it.each(["old", "generic", "espblock", "something-new"])(
		"maps a permanent failure with reason %s to failed, suppressing nobody",
		async (reason) => {
			const event = await onlyEvent("failed", { severity: "permanent", reason });
			expect({ type: event.type, bounce: event.bounce, reason: event.detail.reason }).toEqual({
				type: "failed",
				bounce: undefined,
				reason,
			});
		},
	);

	it("maps rejected to failed with Mailgun's reason", async () => {
		const event = await onlyEvent("rejected", {
			recipient: undefined,
			reject: { reason: "Sandbox subdomains are for test purposes only" },
		});
		expect(event).toMatchObject({
			type: "failed",
			recipient: "alice@example.com",
			detail: { reason: "rejected", message: "Sandbox subdomains are for test purposes only" },
		});
	});

	it("keeps a bounce's SMTP message, cut to 500 characters", async () => {
		const event = await onlyEvent("failed", {
			severity: "permanent",
			reason: "bounce",
			"delivery-status": { code: 550, message: "m".repeat(900) },
		});
		expect(event.detail).toEqual({ subtype: "bounce", message: "m".repeat(500) });
	});

	it("keeps the url of a click", async () => {
		expect((await onlyEvent("clicked", { url: "https://acme.example.com/receipt" })).detail).toEqual({
			link: "https://acme.example.com/receipt",
		});
	});

	it("reads our email id from user-variables and Mailgun's message id from the headers", async () => {
		expect(await onlyEvent("delivered")).toMatchObject({ emailId: EMAIL_ID, providerMessageId: MESSAGE_ID });
	});

	it("strips angle brackets from the message id", async () => {
		const event = await onlyEvent("delivered", { message: { headers: { "message-id": `<${MESSAGE_ID}>` } } });
		expect(event.providerMessageId).toBe(MESSAGE_ID);
	});

	it("names the recipient, lower-cased", async () => {
		expect((await onlyEvent("failed", { severity: "permanent", reason: "bounce" })).recipient).toBe("alice@example.com");
	});

	it("dates the event by its timestamp", async () => {
		expect((await onlyEvent("delivered", { timestamp: 1795338000.25 })).at).toBe(1795338000250);
	});

	it("identifies the event by its id with the message id, as Mailgun's ids are unique within a day only", async () => {
		expect((await onlyEvent("delivered", { id: "hK7mQVt1QtqRiOfQXta4sw" })).providerEventId).toBe(`${MESSAGE_ID}/hK7mQVt1QtqRiOfQXta4sw`);
	});

	it("names the token as the replay key, refused when repeated, kept as long as the timestamp can pass", async () => {
		const parsed = parse(await signed("delivered", {}, { token: "a".repeat(50) }));
		expect(parsed.replay).toEqual({
			nonce: "a".repeat(50),
			expiresAt: Math.floor(NOW / 1000) * 1000 + TIMESTAMP_TOLERANCE_MS,
			repeat: "refuse",
		});
	});

	it.each(["unsubscribed", "stored", "list_member_uploaded", "something-new"])("ignores and counts a %s event", async (event) => {
		const parsed = parse(await signed(event));
		expect({ events: parsed.events, ignored: parsed.ignored }).toEqual({ events: [], ignored: 1 });
	});

	it("rejects a tracked event with neither a message id nor our variable with 400", async () => {
		const request = await mailgunWebhook(KEY, { event: "delivered", timestamp: NOW / 1000, message: { headers: {} } }, { now: NOW });
		expect(mailgunInbound.parse(request)).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects event-data without an event name with 400", async () => {
		const request = await mailgunWebhook(KEY, { timestamp: NOW / 1000 }, { now: NOW });
		expect(mailgunInbound.parse(request)).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("is registered as the mailgun adapter", () => {
		expect(webhookOf("mailgun")).toBe(mailgunInbound);
	});
});

describe("POST /provider-webhooks/mailgun", () => {
	async function sentViaMailgun() {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const messageId = `${crypto.randomUUID()}@mg.acme.example.com`;
		await markSent(id, "mailgun", messageId);
		return { id, messageId };
	}

	it("records a signed delivery found by our id in its user-variables", async () => {
		const { id, messageId } = await sentViaMailgun();
		const res = await postWebhook("mailgun", await routeRequest(mailgunEventData("delivered", { messageId, emailId: id })));
		expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { received: 1, matched: 1, unmatched: 0, ignored: 0 } });
		expect((await emailRow(id)).status).toBe("delivered");
	});

	it("refuses a replayed token with 401 and writes nothing", async () => {
		const { id, messageId } = await sentViaMailgun();
		const token = `tok${crypto.randomUUID().replaceAll("-", "")}`;
		const request = await routeRequest(mailgunEventData("opened", { messageId, emailId: id }), { token });
		expect((await postWebhook("mailgun", request)).status).toBe(200);
		const before = { writes: await webhookWrites(), events: await eventTypes(id) };
		const again = await postWebhook("mailgun", request);
		expect({ status: again.status, name: again.body.name }).toEqual({ status: 401, name: "invalid_api_key" });
		expect({ writes: await webhookWrites(), events: await eventTypes(id) }).toEqual(before);
	});

	it("refuses the same token on another event, signed again, with 401", async () => {
		const { messageId } = await sentViaMailgun();
		const token = `tok${crypto.randomUUID().replaceAll("-", "")}`;
		await postWebhook("mailgun", await routeRequest(mailgunEventData("opened", { messageId }), { token }));
		const res = await postWebhook("mailgun", await routeRequest(mailgunEventData("clicked", { messageId }), { token }));
		expect(res.status).toBe(401);
	});

	it("keeps the token free when the request is refused, so nothing is claimed by a bad signature", async () => {
		const { messageId } = await sentViaMailgun();
		const token = `tok${crypto.randomUUID().replaceAll("-", "")}`;
		const forged = await routeRequest(mailgunEventData("delivered", { messageId }), { token, key: "key-forged" });
		expect((await postWebhook("mailgun", forged)).status).toBe(401);
		const genuine = await routeRequest(mailgunEventData("delivered", { messageId }), { token });
		expect((await postWebhook("mailgun", genuine)).status).toBe(200);
	});

	it.each([
		["a bad signature", { key: "key-forged" }],
		["a stale timestamp", { now: Date.now() - 10 * 60_000 }],
	])("rejects %s with 401 and writes nothing", async (_label, options) => {
		const { id, messageId } = await sentViaMailgun();
		const before = await webhookWrites();
		const res = await postWebhook("mailgun", await routeRequest(mailgunEventData("delivered", { messageId }), options));
		expect(res.status).toBe(401);
		expect(await webhookWrites()).toEqual(before);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("rejects a truncated body with 400 and writes nothing", async () => {
		const { messageId } = await sentViaMailgun();
		const before = await webhookWrites();
		const request = await routeRequest(mailgunEventData("delivered", { messageId }));
		const res = await postWebhook("mailgun", { ...request, rawBody: request.rawBody.slice(0, 120) });
		expect({ status: res.status, name: res.body.name }).toEqual({ status: 400, name: "validation_error" });
		expect(await webhookWrites()).toEqual(before);
	});

	it("keeps an event for an unknown message as unmatched and answers 200", async () => {
		const before = await webhookWrites();
		const res = await postWebhook(
			"mailgun",
			await routeRequest(mailgunEventData("delivered", { messageId: "nobody@mg.acme.example.com" })),
		);
		expect(res.body).toEqual({ received: 1, matched: 0, unmatched: 1, ignored: 0 });
		expect(await webhookWrites()).toEqual({ ...before, unmatched: before.unmatched + 1, nonces: before.nonces + 1 });
	});

	it("suppresses a hard-bounced recipient", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "gone@example.org" });
		const messageId = `${crypto.randomUUID()}@mg.acme.example.com`;
		await markSent(id, "mailgun", messageId);
		await postWebhook(
			"mailgun",
			await routeRequest(
				mailgunEventData("failed", { messageId, emailId: id }, { severity: "permanent", reason: "bounce", recipient: "gone@example.org" }),
			),
		);
		expect((await emailRow(id)).status).toBe("bounced");
		const suppressed = await env.DB.prepare("SELECT reason FROM suppressions WHERE tenant_id = ? AND email = ?")
			.bind(t.tenantId, "gone@example.org")
			.first<string>("reason");
		expect(suppressed).toBe("hard_bounce");
	});
});
