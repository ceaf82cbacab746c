import { describe, expect, it } from "vitest";
import { postmarkInbound } from "../../../src/providers/postmark/webhook";
import { webhookOf } from "../../../src/providers/registry";
import type { InboundRequest } from "../../../src/providers/types";

const SETTINGS = { POSTMARK_WEBHOOK_USER: "postmark-hooks", POSTMARK_WEBHOOK_PASSWORD: "s3cret:with-colon" };
const NOW = Date.parse("2026-11-22T09:00:00.000Z");
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f03";
const MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483";
const METADATA = { mailroom_id: EMAIL_ID, mailroom_tenant: "tenant_1" };

function basic(user: string, password: string): string {
	return `Basic ${btoa(`${user}:${password}`)}`;
}

function authorized(authorization: string | null): InboundRequest {
	const headers = new Headers({ "Content-Type": "application/json" });
	if (authorization !== null) headers.set("Authorization", authorization);
	return { rawBody: "{}", headers, now: NOW };
}

/** Payloads shaped like Postmark's webhook documentation examples. */
const RECORDS: Record<string, Record<string, unknown>> = {
	Delivery: {
		RecordType: "Delivery",
		ServerID: 23,
		MessageStream: "outbound",
		MessageID: MESSAGE_ID,
		Recipient: "John@Example.com",
		Tag: "welcome-email",
		DeliveredAt: "2026-11-22T08:58:01.0000000-05:00",
		Details: "Test delivery webhook details",
		Metadata: METADATA,
	},
	Bounce: {
		RecordType: "Bounce",
		ID: 692560173,
		Type: "HardBounce",
		TypeCode: 1,
		Name: "Hard bounce",
		Tag: "Invitation",
		MessageID: MESSAGE_ID,
		ServerID: 23,
		MessageStream: "outbound",
		Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
		Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
		Email: "John@Example.com",
		From: "sender@example.com",
		BouncedAt: "2026-11-22T13:58:02.0000000Z",
		DumpAvailable: true,
		Inactive: true,
		CanActivate: true,
		Subject: "Test subject",
		Content: "<Full dump of bounce>",
		Metadata: METADATA,
	},
	SpamComplaint: {
		RecordType: "SpamComplaint",
		ID: 692560174,
		Type: "SpamComplaint",
		TypeCode: 100001,
		MessageID: MESSAGE_ID,
		Email: "John@Example.com",
		BouncedAt: "2026-11-22T13:58:03.0000000Z",
		Metadata: METADATA,
	},
	Open: {
		RecordType: "Open",
		MessageStream: "outbound",
		Metadata: METADATA,
		FirstOpen: true,
		Recipient: "John@Example.com",
		MessageID: MESSAGE_ID,
		ReceivedAt: "2026-11-22T13:58:04.0000000Z",
		Platform: "WebMail",
		ReadSeconds: 5,
		UserAgent: "Mozilla/5.0",
	},
	Click: {
		RecordType: "Click",
		MessageStream: "outbound",
		ClickLocation: "HTML",
		OriginalLink: "https://acme.example.com/receipt",
		MessageID: MESSAGE_ID,
		Metadata: METADATA,
		ReceivedAt: "2026-11-22T13:58:05.0000000Z",
		Recipient: "John@Example.com",
	},
};

function record(recordType: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
	return { ...RECORDS[recordType], ...fields };
}

function parse(body: unknown) {
	return postmarkInbound.parse({ rawBody: JSON.stringify(body), headers: new Headers(), now: NOW });
}

function onlyEvent(body: unknown) {
	const parsed = parse(body);
	if (!parsed.ok) throw new Error(parsed.error.message);
	expect(parsed.value.events).toHaveLength(1);
	const [event] = parsed.value.events;
	if (event === undefined) throw new Error("no event");
	return event;
}

describe("Postmark webhook verification", () => {
	it("accepts the configured credentials", async () => {
		const verified = await postmarkInbound.verify(authorized(basic("postmark-hooks", "s3cret:with-colon")), SETTINGS);
		expect(verified).toEqual({ ok: true, value: undefined });
	});

	it("accepts a lower-case basic scheme", async () => {
		const header = basic("postmark-hooks", "s3cret:with-colon").replace("Basic", "basic");
		expect((await postmarkInbound.verify(authorized(header), SETTINGS)).ok).toBe(true);
	});

	it("rejects a wrong user", async () => {
		const verified = await postmarkInbound.verify(authorized(basic("someone", "s3cret:with-colon")), SETTINGS);
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a wrong password", async () => {
		const verified = await postmarkInbound.verify(authorized(basic("postmark-hooks", "s3cret")), SETTINGS);
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a request without an Authorization header", async () => {
		expect(await postmarkInbound.verify(authorized(null), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a bearer token", async () => {
		const verified = await postmarkInbound.verify(authorized("Bearer postmark-hooks:s3cret:with-colon"), SETTINGS);
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects credentials without a colon", async () => {
		const verified = await postmarkInbound.verify(authorized(`Basic ${btoa("postmark-hooks")}`), SETTINGS);
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when no credentials are configured", async () => {
		const verified = await postmarkInbound.verify(authorized(basic("", "")), {});
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when only the user is configured", async () => {
		const verified = await postmarkInbound.verify(authorized(basic("postmark-hooks", "")), { POSTMARK_WEBHOOK_USER: "postmark-hooks" });
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when only the password is configured", async () => {
		const settings = { POSTMARK_WEBHOOK_PASSWORD: "s3cret:with-colon" };
		const verified = await postmarkInbound.verify(authorized(basic("", "s3cret:with-colon")), settings);
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});
});

describe("Postmark webhook parsing", () => {
	it.each([
		["Delivery", "delivered"],
		["Bounce", "bounced"],
		["SpamComplaint", "complained"],
		["Open", "opened"],
		["Click", "clicked"],
	])("maps %s to %s", (recordType, type) => {
		expect(onlyEvent(record(recordType)).type).toBe(type);
	});

	it.each([
		"HardBounce",
		"BadEmailAddress",
		"ManuallyDeactivated",
		"ManualSuppression",
		"SpamNotification",
		"Blocked",
		"DMARCPolicy",
		"Unsubscribe",
	])("maps a %s bounce to a hard bounce", (bounceType) => {
		expect(onlyEvent(record("Bounce", { Type: bounceType })).bounce).toBe("hard");
	});

	it.each([
		"Transient",
		"SoftBounce",
		"DnsError",
		"AutoResponder",
		"AddressChange",
		"ChallengeVerification",
		"Undeliverable",
		"Unknown",
		"OpenRelayTest",
		"VirusNotification",
		"SomethingPostmarkAddsLater",
	])("maps a %s bounce to a soft bounce", (bounceType) => {
		expect(onlyEvent(record("Bounce", { Type: bounceType })).bounce).toBe("soft");
	});

	it("maps a bounce without a type to a soft bounce", () => {
		expect(onlyEvent(record("Bounce", { Type: undefined })).bounce).toBe("soft");
	});

	it.each(["Unconfirmed", "SMTPApiError", "TemplateRenderingFailed"])("maps a %s bounce to failed, suppressing nobody", (bounceType) => {
		const event = onlyEvent(record("Bounce", { Type: bounceType }));
		expect({ type: event.type, bounce: event.bounce, reason: event.detail.reason }).toEqual({
			type: "failed",
			bounce: undefined,
			reason: bounceType,
		});
	});

	it("keeps a bounce's SMTP details and type", () => {
		expect(onlyEvent(record("Bounce")).detail).toEqual({
			subtype: "HardBounce",
			message: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
		});
	});

	it("cuts long bounce details to 500 characters", () => {
		expect(onlyEvent(record("Bounce", { Details: "d".repeat(3_000) })).detail.message).toHaveLength(500);
	});

	it("names the bounced Email, lower-cased", () => {
		expect(onlyEvent(record("Bounce")).recipient).toBe("john@example.com");
	});

	it("names the complaining Email", () => {
		expect(onlyEvent(record("SpamComplaint")).recipient).toBe("john@example.com");
	});

	it("names the opening Recipient", () => {
		expect(onlyEvent(record("Open")).recipient).toBe("john@example.com");
	});

	it("keeps the original link of a click", () => {
		expect(onlyEvent(record("Click")).detail).toEqual({ link: "https://acme.example.com/receipt" });
	});

	it("reads our email id from Metadata", () => {
		expect(onlyEvent(record("Delivery")).emailId).toBe(EMAIL_ID);
	});

	it("uses MessageID as the provider message id", () => {
		expect(onlyEvent(record("Open")).providerMessageId).toBe(MESSAGE_ID);
	});

	it("uses a bounce's ID as the provider event id", () => {
		expect(onlyEvent(record("Bounce")).providerEventId).toBe("692560173");
	});

	it("keeps every digit of a bounce ID beyond 2^53", () => {
		const rawBody = JSON.stringify(record("Bounce", { ID: 0 })).replace('"ID":0', '"ID":4323372036854775807');
		const parsed = postmarkInbound.parse({ rawBody, headers: new Headers(), now: NOW });
		expect(parsed.ok && parsed.value.events[0]?.providerEventId).toBe("4323372036854775807");
	});

	it("gives deliveries no provider event id", () => {
		expect(onlyEvent(record("Delivery")).providerEventId).toBeUndefined();
	});

	it.each([
		["Delivery", "DeliveredAt", "2026-11-22T13:58:01.000Z"],
		["Bounce", "BouncedAt", "2026-11-22T13:58:02.000Z"],
		["SpamComplaint", "BouncedAt", "2026-11-22T13:58:03.000Z"],
		["Open", "ReceivedAt", "2026-11-22T13:58:04.000Z"],
		["Click", "ReceivedAt", "2026-11-22T13:58:05.000Z"],
	])("dates a %s by its %s", (recordType, _field, iso) => {
		expect(onlyEvent(record(recordType)).at).toBe(Date.parse(iso));
	});

	it("dates the event now when its time cannot be parsed", () => {
		expect(onlyEvent(record("Delivery", { DeliveredAt: "not a date" })).at).toBe(NOW);
	});

	it.each(["SubscriptionChange", "Inbound", "SomethingNew"])("ignores a %s record", (recordType) => {
		expect(parse({ RecordType: recordType, MessageID: MESSAGE_ID })).toEqual({ ok: true, value: { events: [], ignored: 1 } });
	});

	it("rejects a body that is not JSON with 400", () => {
		const parsed = postmarkInbound.parse({ rawBody: "RecordType=Bounce", headers: new Headers(), now: NOW });
		expect(parsed).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects a JSON array with 400", () => {
		expect(parse([record("Delivery")])).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects a record without RecordType with 400", () => {
		expect(parse(record("Delivery", { RecordType: undefined }))).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects a tracked record without MessageID with 400", () => {
		expect(parse(record("Bounce", { MessageID: undefined }))).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("is registered as the postmark adapter", () => {
		expect(webhookOf("postmark")).toBe(postmarkInbound);
	});
});
