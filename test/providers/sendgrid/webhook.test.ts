import { describe, expect, it } from "vitest";
import { decodeBase64, derToP1363, encodeBase64 } from "../../../src/lib/webcrypto";
import { webhookOf } from "../../../src/providers/registry";
import { sendgridInbound } from "../../../src/providers/sendgrid/webhook";
import type { InboundRequest } from "../../../src/providers/types";
import { generatedSigner, p1363ToDer } from "../../helpers/signers";

const SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature";
const TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp";
const NOW = Date.parse("2026-11-22T09:00:00.000Z");
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f03";
const X_MESSAGE_ID = "LRzXl_NHStOGhQ4kofSm_A";

/** SendGrid's own test vector: sendgrid/sendgrid-nodejs packages/eventwebhook/src/eventwebhook.spec.js. */
const OFFICIAL = {
	publicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
	signature: "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
	timestamp: "1600112502",
	payload: `${JSON.stringify([
		{
			email: "hello@world.com",
			event: "dropped",
			reason: "Bounced Address",
			sg_event_id: "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
			sg_message_id: "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
			"smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
			timestamp: 1600112492,
		},
	])}\r\n`,
};

/** The same spec's multi-event vector: a CRLF after every event, and an `r` whose DER form has a leading 0x00. */
const OFFICIAL_MULTIPLE = {
	publicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQ4LIFtWztlsF7skFqOncjD1lun4H5w8XOhyOArHW9RcIx/FfEzx6cikC/yPfUvwaX/JScE7Fc9CJD2afQ9Ok3Q==",
	signature: "MEYCIQC/I4o6vCgqRYrTljjoVWB/GRWNtxeePlLMHr3x9ETeRQIhAIpV+03nREPTTHWSW0wIOA0EoMPdcNgXa70yCaqDJlu5",
	timestamp: "1619651159",
	payload: `${JSON.stringify([
		{
			email: "invalid@gmail.com",
			event: "processed",
			send_at: 0,
			sg_event_id: "cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA",
			sg_message_id: "qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0",
			"smtp-id": "<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>",
			timestamp: 1619651146,
		},
		{
			email: "invalid@gmail.com",
			event: "bounce",
			ip: "167.89.101.76",
			reason:
				"552 5.2.2 The email account that you tried to reach is over quota and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm c17si1130468pgv.34 - gsmtp",
			sg_event_id: "Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w",
			sg_message_id: "qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0",
			"smtp-id": "<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>",
			status: "5.2.2",
			timestamp: 1619651147,
			tls: 1,
			type: "blocked",
		},
	])
		.split("},{")
		.join("},\r\n{")}\r\n`,
};

function request(rawBody: string, signature: string | null, timestamp: string | null): InboundRequest {
	const headers = new Headers();
	if (signature !== null) headers.set(SIGNATURE_HEADER, signature);
	if (timestamp !== null) headers.set(TIMESTAMP_HEADER, timestamp);
	return { rawBody, headers, now: NOW };
}

function officialRequest(payload = OFFICIAL.payload): InboundRequest {
	return request(payload, OFFICIAL.signature, OFFICIAL.timestamp);
}

const OFFICIAL_SETTINGS = { SENDGRID_WEBHOOK_PUBLIC_KEY: OFFICIAL.publicKey };

function sendgridEvent(event: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		email: "Ann@Example.com",
		timestamp: 1_795_338_000,
		event,
		sg_event_id: "ZGVsaXZlcmVkLTAtMjQ0NTQ2MzctUlp0bjVqc0dRMS1zT3R3bmpiNWZyQS0w",
		sg_message_id: `${X_MESSAGE_ID}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0`,
		"smtp-id": `<${X_MESSAGE_ID}@ismtpd0039p1iad1.sendgrid.net>`,
		category: ["receipt"],
		mailroom_id: EMAIL_ID,
		mailroom_tenant: "tenant_1",
		...fields,
	};
}

function parse(body: unknown) {
	return sendgridInbound.parse({ rawBody: `${JSON.stringify(body)}\r\n`, headers: new Headers(), now: NOW });
}

function onlyEvent(element: Record<string, unknown>) {
	const parsed = parse([element]);
	if (!parsed.ok) throw new Error(parsed.error.message);
	expect(parsed.value.events).toHaveLength(1);
	const [event] = parsed.value.events;
	if (event === undefined) throw new Error("no event");
	return event;
}

describe("SendGrid webhook verification", () => {
	it("accepts SendGrid's official test vector", async () => {
		expect(await sendgridInbound.verify(officialRequest(), OFFICIAL_SETTINGS)).toEqual({ ok: true, value: undefined });
	});

	it("rejects the official test vector without its trailing CRLF", async () => {
		const verified = await sendgridInbound.verify(officialRequest(OFFICIAL.payload.trimEnd()), OFFICIAL_SETTINGS);
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("accepts SendGrid's official multi-event test vector", async () => {
		const { publicKey, payload, signature, timestamp } = OFFICIAL_MULTIPLE;
		const verified = await sendgridInbound.verify(request(payload, signature, timestamp), { SENDGRID_WEBHOOK_PUBLIC_KEY: publicKey });
		expect(verified.ok).toBe(true);
	});

	it("accepts the public key wrapped in PEM armour", async () => {
		const lines = OFFICIAL.publicKey.match(/.{1,64}/g) ?? [];
		const pem = ["-----BEGIN PUBLIC KEY-----", ...lines, "-----END PUBLIC KEY-----", ""].join("\n");
		expect((await sendgridInbound.verify(officialRequest(), { SENDGRID_WEBHOOK_PUBLIC_KEY: pem })).ok).toBe(true);
	});

	it("accepts a request signed with a generated P-256 key", async () => {
		const signer = await generatedSigner();
		const body = `${JSON.stringify([sendgridEvent("delivered")])}\r\n`;
		const signed = request(body, await signer.sign("1795338000", body), "1795338000");
		expect((await sendgridInbound.verify(signed, { SENDGRID_WEBHOOK_PUBLIC_KEY: signer.publicKey })).ok).toBe(true);
	});

	it("accepts a signature whose r or s is shorter than 32 bytes in DER", async () => {
		const signer = await generatedSigner();
		const body = `${JSON.stringify([sendgridEvent("open")])}\r\n`;
		// About one signature in 128 has r or s starting with a zero byte, which DER drops.
		for (let attempt = 0; attempt < 5_000; attempt++) {
			const timestamp = String(1_795_338_000 + attempt);
			const p1363 = await signer.p1363(timestamp, body);
			if (p1363[0] !== 0 && p1363[32] !== 0) continue;
			const signed = request(body, encodeBase64(p1363ToDer(p1363)), timestamp);
			expect((await sendgridInbound.verify(signed, { SENDGRID_WEBHOOK_PUBLIC_KEY: signer.publicKey })).ok).toBe(true);
			return;
		}
		throw new Error("no short signature in 5000 attempts");
	});

	it("rejects a tampered body", async () => {
		const tampered = officialRequest(OFFICIAL.payload.replace("dropped", "delivered"));
		expect(await sendgridInbound.verify(tampered, OFFICIAL_SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a different timestamp", async () => {
		const retimed = request(OFFICIAL.payload, OFFICIAL.signature, "1600112503");
		expect(await sendgridInbound.verify(retimed, OFFICIAL_SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a signature checked against another key", async () => {
		const other = await generatedSigner();
		const verified = await sendgridInbound.verify(officialRequest(), { SENDGRID_WEBHOOK_PUBLIC_KEY: other.publicKey });
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a request without the signature header", async () => {
		const unsigned = request(OFFICIAL.payload, null, OFFICIAL.timestamp);
		expect(await sendgridInbound.verify(unsigned, OFFICIAL_SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a request without the timestamp header", async () => {
		const untimed = request(OFFICIAL.payload, OFFICIAL.signature, null);
		expect(await sendgridInbound.verify(untimed, OFFICIAL_SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a signature that is not DER", async () => {
		const p1363 = encodeBase64(derToP1363(decodeBase64(OFFICIAL.signature) ?? new Uint8Array()) ?? new Uint8Array());
		const raw = request(OFFICIAL.payload, p1363, OFFICIAL.timestamp);
		expect(await sendgridInbound.verify(raw, OFFICIAL_SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when SENDGRID_WEBHOOK_PUBLIC_KEY is not configured", async () => {
		expect(await sendgridInbound.verify(officialRequest(), {})).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key", async () => {
		const verified = await sendgridInbound.verify(officialRequest(), { SENDGRID_WEBHOOK_PUBLIC_KEY: "bm90IGEga2V5" });
		expect(verified).toMatchObject({ ok: false, error: { status: 401 } });
	});
});

describe("DER to P1363", () => {
	it("strips the 0x00 DER puts before a high r and pads a short s", () => {
		const der = Uint8Array.from([0x30, 0x08, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x01, 0x05]);
		const expected = new Uint8Array(64);
		expected.set([0x80, 0x01], 30);
		expected[63] = 0x05;
		expect(derToP1363(der)).toEqual(expected);
	});

	it.each([
		["a truncated sequence", [0x30, 0x08, 0x02, 0x01, 0x01]],
		["trailing bytes", [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]],
		["an integer longer than 32 bytes", [0x30, 0x26, 0x02, 0x21, 0x01, ...new Array(32).fill(1), 0x02, 0x01, 0x01]],
		["a missing s", [0x30, 0x03, 0x02, 0x01, 0x01]],
	])("refuses %s", (_name, bytes) => {
		expect(derToP1363(Uint8Array.from(bytes))).toBeNull();
	});
});

describe("SendGrid webhook parsing", () => {
	it.each([
		["processed", "sent"],
		["delivered", "delivered"],
		["deferred", "delivery_delayed"],
		["bounce", "bounced"],
		["dropped", "failed"],
		["spamreport", "complained"],
		["open", "opened"],
		["click", "clicked"],
	])("maps %s to %s", (sendgridType, type) => {
		expect(onlyEvent(sendgridEvent(sendgridType)).type).toBe(type);
	});

	it("maps a bounce of type bounce to a hard bounce", () => {
		expect(onlyEvent(sendgridEvent("bounce", { type: "bounce" })).bounce).toBe("hard");
	});

	it("maps a bounce of type blocked to a soft bounce", () => {
		expect(onlyEvent(sendgridEvent("bounce", { type: "blocked" })).bounce).toBe("soft");
	});

	it("keeps a bounce's reason as its message", () => {
		const event = onlyEvent(sendgridEvent("bounce", { type: "bounce", reason: "550 5.1.1 user unknown", status: "5.1.1" }));
		expect(event.detail).toEqual({ message: "550 5.1.1 user unknown", subtype: "bounce" });
	});

	it("keeps a drop's reason", () => {
		expect(onlyEvent(sendgridEvent("dropped", { reason: "Bounced Address" })).detail).toEqual({ reason: "Bounced Address" });
	});

	it("keeps a deferral's response as its message", () => {
		const event = onlyEvent(sendgridEvent("deferred", { response: "400 try again later", attempt: "1" }));
		expect(event.detail).toEqual({ message: "400 try again later" });
	});

	it("keeps the clicked url as the link", () => {
		expect(onlyEvent(sendgridEvent("click", { url: "https://acme.example.com/r" })).detail).toEqual({ link: "https://acme.example.com/r" });
	});

	it("cuts a long reason to 500 characters", () => {
		expect(onlyEvent(sendgridEvent("dropped", { reason: "r".repeat(2_000) })).detail.reason).toHaveLength(500);
	});

	it("reads our email id from the mailroom_id custom arg", () => {
		expect(onlyEvent(sendgridEvent("delivered")).emailId).toBe(EMAIL_ID);
	});

	it("takes the X-Message-Id part of sg_message_id as the provider message id", () => {
		expect(onlyEvent(sendgridEvent("delivered")).providerMessageId).toBe(X_MESSAGE_ID);
	});

	it("lower-cases the recipient", () => {
		expect(onlyEvent(sendgridEvent("delivered")).recipient).toBe("ann@example.com");
	});

	it("dates the event by its unix timestamp", () => {
		expect(onlyEvent(sendgridEvent("delivered")).at).toBe(1_795_338_000_000);
	});

	it("dates the event now when it has no timestamp", () => {
		expect(onlyEvent(sendgridEvent("delivered", { timestamp: "soon" })).at).toBe(NOW);
	});

	it("gives no provider event id, as sg_event_id changes between retries", () => {
		expect(onlyEvent(sendgridEvent("delivered")).providerEventId).toBeUndefined();
	});

	it("reads the official test vector's payload", () => {
		const parsed = sendgridInbound.parse(officialRequest());
		expect(parsed.ok && parsed.value.events).toEqual([
			{
				type: "failed",
				at: 1_600_112_492_000,
				providerMessageId: X_MESSAGE_ID,
				recipient: "hello@world.com",
				detail: { reason: "Bounced Address" },
			},
		]);
	});

	it.each(["unsubscribe", "group_unsubscribe", "group_resubscribe", "machine_opened"])("counts %s as ignored", (sendgridType) => {
		expect(parse([sendgridEvent(sendgridType)])).toEqual({ ok: true, value: { events: [], ignored: 1 } });
	});

	it("records the valid elements of a batch and counts the malformed ones as ignored", () => {
		const parsed = parse([sendgridEvent("delivered"), { event: "open" }, "not an event", null, sendgridEvent("open")]);
		expect(parsed.ok && { types: parsed.value.events.map((e) => e.type), ignored: parsed.value.ignored }).toEqual({
			types: ["delivered", "opened"],
			ignored: 3,
		});
	});

	it("accepts an empty batch", () => {
		expect(parse([])).toEqual({ ok: true, value: { events: [], ignored: 0 } });
	});

	it("rejects a body that is not an array with 400", () => {
		expect(parse(sendgridEvent("delivered"))).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects a body that is not JSON with 400", () => {
		const parsed = sendgridInbound.parse({ rawBody: "[{]\r\n", headers: new Headers(), now: NOW });
		expect(parsed).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("is registered as the sendgrid adapter", () => {
		expect(webhookOf("sendgrid")).toBe(sendgridInbound);
	});
});
