import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { webhookOf } from "../../../src/providers/registry";
import { allowedSnsUrl, parseCertificate, type SnsEnvelope, stringToSign } from "../../../src/providers/ses/sns";
import { SNS_REPLAY_WINDOW_MS, sesInbound } from "../../../src/providers/ses/webhook";
import type { InboundRequest } from "../../../src/providers/types";
import { seedTenant } from "../../helpers/api";
import { markSent, postWebhook, webhookWrites } from "../../helpers/provider-webhooks";
import { emailRow, seedEmail } from "../../helpers/send";
import {
	CERT_URL,
	serveSnsCertificate,
	sesEvent,
	signSns,
	snsNotification,
	snsSubscriptionConfirmation,
	TEST_SNS_CERT_PEM,
	TOPIC_ARN,
} from "../../helpers/sns";

const SETTINGS = { SES_SNS_TOPIC_ARN: TOPIC_ARN };
/** After the test certificate's notBefore (it was made on 2026-11-30). */
const NOW = Date.parse("2030-01-01T09:00:10.000Z");
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f61";
const MESSAGE_ID = "0102019a1b2c3d4e-5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c-000000";

function request(envelope: SnsEnvelope | string, now = NOW): InboundRequest {
	return {
		rawBody: typeof envelope === "string" ? envelope : JSON.stringify(envelope),
		headers: new Headers({ "content-type": "text/plain; charset=UTF-8" }),
		now,
	};
}

/** A certificate URL not fetched before in this isolate (certificates are cached per URL). */
function freshCertUrl(): string {
	return `https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-${crypto.randomUUID().replaceAll("-", "")}.pem`;
}

async function notification(eventType: string, fields: Record<string, unknown> = {}, options: Parameters<typeof snsNotification>[1] = {}) {
	return snsNotification(sesEvent(eventType, { emailId: EMAIL_ID, messageId: MESSAGE_ID }, fields), options);
}

async function parsed(eventType: string, fields: Record<string, unknown> = {}) {
	const result = sesInbound.parse(request(await notification(eventType, fields)));
	if (!result.ok) throw new Error(result.error.message);
	return result.value;
}

async function onlyEvent(eventType: string, fields: Record<string, unknown> = {}) {
	const { events } = await parsed(eventType, fields);
	expect(events).toHaveLength(1);
	const [event] = events;
	if (event === undefined) throw new Error("no event");
	return event;
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("SNS signature verification", () => {
	it.each(["1", "2"] as const)("accepts SignatureVersion %s (SHA-1 / SHA-256) signed with the certificate's key", async (version) => {
		serveSnsCertificate();
		const envelope = await notification("Delivery", {}, { version, certUrl: freshCertUrl() });
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toEqual({ ok: true, value: undefined });
	});

	it("accepts a notification with a Subject, which its signature covers", async () => {
		serveSnsCertificate();
		const envelope = await notification("Delivery", {}, { subject: "Amazon SES Email Event Notification" });
		expect((await sesInbound.verify(request(envelope), SETTINGS)).ok).toBe(true);
	});

	it("accepts a signed subscription confirmation", async () => {
		serveSnsCertificate();
		expect((await sesInbound.verify(request(await snsSubscriptionConfirmation()), SETTINGS)).ok).toBe(true);
	});

	it("fetches a certificate once per URL", async () => {
		const urls = serveSnsCertificate();
		const certUrl = freshCertUrl();
		await sesInbound.verify(request(await notification("Delivery", {}, { certUrl })), SETTINGS);
		await sesInbound.verify(request(await notification("Open", {}, { certUrl })), SETTINGS);
		expect(urls).toEqual([certUrl]);
	});

	it.each([
		["Message", (e: SnsEnvelope) => ({ ...e, Message: e.Message.replace("Delivery", "Bounce") })],
		["MessageId", (e: SnsEnvelope) => ({ ...e, MessageId: "another" })],
		["Timestamp", (e: SnsEnvelope) => ({ ...e, Timestamp: "2026-11-22T09:00:11.000Z" })],
		[
			"Type",
			(e: SnsEnvelope) => ({ ...e, Type: "SubscriptionConfirmation", SubscribeURL: "https://sns.eu-west-1.amazonaws.com/", Token: "t" }),
		],
		["SignatureVersion", (e: SnsEnvelope) => ({ ...e, SignatureVersion: e.SignatureVersion === "1" ? "2" : "1" })],
	])("rejects a notification whose %s changed after signing", async (_field, change) => {
		serveSnsCertificate();
		const envelope = change(await notification("Delivery"));
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it.each([
		["http", "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"],
		["another host", "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem"],
		["an S3 host", "https://s3.amazonaws.com/SimpleNotificationService-abc.pem"],
		["a port", "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-abc.pem"],
		["credentials", "https://user:pass@sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"],
		["a path not ending .pem", "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem/x"],
		["not a URL", "sns.eu-west-1.amazonaws.com/cert.pem"],
	])("rejects a SigningCertURL with %s before fetching it", async (_label, certUrl) => {
		const urls = serveSnsCertificate();
		const envelope = await notification("Delivery", {}, { certUrl });
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
		expect(urls).toEqual([]);
	});

	it("allows the China partition's SNS hosts", () => {
		expect(allowedSnsUrl("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", undefined)).not.toBeNull();
	});

	it("rejects a subscription confirmation whose SubscribeURL is off the SNS hosts, without fetching anything", async () => {
		const urls = serveSnsCertificate();
		const envelope = await snsSubscriptionConfirmation({ subscribeUrl: "https://attacker.example/?Action=ConfirmSubscription" });
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
		expect(urls).toEqual([]);
	});

	it("trusts only the test host, http on loopback included, when SES_SNS_CERT_HOST overrides the allow-list", async () => {
		const override = "127.0.0.1:8788";
		expect(allowedSnsUrl(`http://${override}/cert.pem`, override)?.href).toBe(`http://${override}/cert.pem`);
		expect(allowedSnsUrl("http://sns.test:8788/cert.pem", "sns.test:8788")).toBeNull();
		expect(allowedSnsUrl(CERT_URL, override)).toBeNull();
		serveSnsCertificate();
		const envelope = await notification("Delivery", {}, { certUrl: `http://${override}/SimpleNotificationService-test.pem` });
		expect((await sesInbound.verify(request(envelope), { ...SETTINGS, SES_SNS_CERT_HOST: override })).ok).toBe(true);
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a message from another topic before fetching anything", async () => {
		const urls = serveSnsCertificate();
		const envelope = await notification("Delivery", {}, { topic: "arn:aws:sns:eu-west-1:999999999999:someone-elses" });
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
		expect(urls).toEqual([]);
	});

	it("rejects every request when SES_SNS_TOPIC_ARN is not configured, naming it", async () => {
		serveSnsCertificate();
		expect(await sesInbound.verify(request(await notification("Delivery")), {})).toMatchObject({
			ok: false,
			error: { status: 401, message: expect.stringContaining("SES_SNS_TOPIC_ARN") },
		});
	});

	it("rejects an unknown SignatureVersion", async () => {
		serveSnsCertificate();
		const envelope = { ...(await notification("Delivery")), SignatureVersion: "3" };
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a message once its signing certificate has expired", async () => {
		serveSnsCertificate();
		const envelope = await notification("Delivery", {}, { certUrl: freshCertUrl() });
		expect(await sesInbound.verify(request(envelope, Date.parse("2127-01-01T00:00:00Z")), SETTINGS)).toMatchObject({
			ok: false,
			error: { status: 401 },
		});
	});

	it("rejects a certificate URL that does not serve a certificate", async () => {
		vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("<html>hello</html>"));
		const envelope = await notification("Delivery", {}, { certUrl: freshCertUrl() });
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it.each([
		["an error status", () => vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("busy", { status: 503 }))],
		["no answer", () => vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."))],
	])("answers 503 (SNS retries) when the certificate fetch gets %s", async (_label, fail) => {
		fail();
		const envelope = await notification("Delivery", {}, { certUrl: freshCertUrl() });
		expect(await sesInbound.verify(request(envelope), SETTINGS)).toMatchObject({ ok: false, error: { status: 503 } });
	});

	it.each([
		["a truncated body", (raw: string) => raw.slice(0, raw.length / 2)],
		["a body without a Signature", (raw: string) => JSON.stringify({ ...JSON.parse(raw), Signature: undefined })],
		["an empty body", () => ""],
	])("answers 400 to %s", async (_label, change) => {
		const raw = JSON.stringify(await notification("Delivery"));
		expect(await sesInbound.verify(request(change(raw)), SETTINGS)).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("builds the string to sign in AWS's documented order", () => {
		const base = {
			MessageId: "m",
			TopicArn: "arn",
			Message: "x",
			Timestamp: "t",
			SignatureVersion: "1",
			Signature: "",
			SigningCertURL: CERT_URL,
		};
		expect(stringToSign({ ...base, Type: "Notification", Subject: "S" })).toBe(
			"Message\nx\nMessageId\nm\nSubject\nS\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n",
		);
		expect(stringToSign({ ...base, Type: "SubscriptionConfirmation", SubscribeURL: "u", Token: "tok" })).toBe(
			"Message\nx\nMessageId\nm\nSubscribeURL\nu\nTimestamp\nt\nToken\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n",
		);
	});

	it("reads the RSA public key and validity of a PEM certificate", () => {
		const cert = parseCertificate(TEST_SNS_CERT_PEM);
		expect(cert?.notAfter).toBe(Date.parse("2126-11-06T19:50:25Z"));
		expect(cert?.spki.length).toBe(294);
	});
});

describe("SES event parsing", () => {
	it.each([
		["Send", "sent"],
		["Delivery", "delivered"],
		["Bounce", "bounced"],
		["Complaint", "complained"],
		["DeliveryDelay", "delivery_delayed"],
		["Reject", "failed"],
		["Rendering Failure", "failed"],
		["Open", "opened"],
		["Click", "clicked"],
	])("maps %s to %s", async (eventType, type) => {
		expect((await onlyEvent(eventType)).type).toBe(type);
	});

	it("reads our id from the mailroom_id tag and SES's id from mail.messageId", async () => {
		expect(await onlyEvent("Send")).toMatchObject({ emailId: EMAIL_ID, providerMessageId: MESSAGE_ID });
	});

	it("maps a Permanent bounce to a hard bounce per bounced recipient, with its diagnostic", async () => {
		const { events } = await parsed("Bounce", {
			bounce: {
				bounceType: "Permanent",
				bounceSubType: "General",
				timestamp: "2026-11-22T09:00:03.000Z",
				bouncedRecipients: [
					{ emailAddress: "Alice@Example.com", action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" },
					{ emailAddress: "bob@example.com", action: "failed", status: "5.1.1" },
				],
			},
		});
		expect(events.map(({ type, bounce, recipient, detail, at }) => ({ type, bounce, recipient, detail, at }))).toEqual([
			{
				type: "bounced",
				bounce: "hard",
				recipient: "alice@example.com",
				detail: { subtype: "Permanent/General", message: "smtp; 550 5.1.1 user unknown" },
				at: Date.parse("2026-11-22T09:00:03.000Z"),
			},
			{
				type: "bounced",
				bounce: "hard",
				recipient: "bob@example.com",
				detail: { subtype: "Permanent/General" },
				at: Date.parse("2026-11-22T09:00:03.000Z"),
			},
		]);
	});

	it.each(["Transient", "Undetermined"])("maps a %s bounce to a soft bounce", async (bounceType) => {
		const event = await onlyEvent("Bounce", {
			bounce: { bounceType, bounceSubType: "MailboxFull", bouncedRecipients: [{ emailAddress: "a@example.com" }] },
		});
		expect(event.bounce).toBe("soft");
	});

	it("gives each event of one SNS message its own event id", async () => {
		const { events } = await parsed("Delivery", { delivery: { recipients: ["a@example.com", "b@example.com"] } });
		expect(new Set(events.map((e) => e.providerEventId)).size).toBe(2);
	});

	it("keeps a complaint's recipients and feedback type", async () => {
		const event = await onlyEvent("Complaint", {
			complaint: { complaintFeedbackType: "abuse", complainedRecipients: [{ emailAddress: "c@example.com" }] },
		});
		expect(event).toMatchObject({ recipient: "c@example.com", detail: { feedback: "abuse" } });
	});

	it("keeps a delivery delay's type and diagnostic", async () => {
		const event = await onlyEvent("DeliveryDelay", {
			deliveryDelay: { delayType: "MailboxFull", delayedRecipients: [{ emailAddress: "d@example.com", diagnosticCode: "452 full" }] },
		});
		expect(event).toMatchObject({ recipient: "d@example.com", detail: { reason: "MailboxFull", message: "452 full" } });
	});

	it("keeps a reject's reason and a click's link", async () => {
		expect((await onlyEvent("Reject", { reject: { reason: "Bad content" } })).detail).toEqual({
			reason: "rejected",
			message: "Bad content",
		});
		expect((await onlyEvent("Click", { click: { link: "https://acme.example.com/x" } })).detail).toEqual({
			link: "https://acme.example.com/x",
		});
	});

	it("dates an event by its own timestamp, else the mail's", async () => {
		expect((await onlyEvent("Open", { open: { timestamp: "2026-11-22T09:00:06.000Z" } })).at).toBe(Date.parse("2026-11-22T09:00:06.000Z"));
		expect((await onlyEvent("Send")).at).toBe(Date.parse("2026-11-22T09:00:00.000Z"));
	});

	it("reads identity notifications (notificationType, no tags) by SES's message id", async () => {
		const message = { notificationType: "Delivery", mail: { messageId: MESSAGE_ID }, delivery: { recipients: ["a@example.com"] } };
		const result = sesInbound.parse(request(await snsNotification(message)));
		expect(result.ok && result.value.events).toMatchObject([{ type: "delivered", providerMessageId: MESSAGE_ID }]);
	});

	it.each(["Subscription", "SomethingNew"])("ignores and counts a %s event", async (eventType) => {
		const value = await parsed(eventType);
		expect({ events: value.events, ignored: value.ignored }).toEqual({ events: [], ignored: 1 });
	});

	it("names the SNS MessageId as the replay key, repeats ignored", async () => {
		const envelope = await notification("Delivery", {}, { messageId: "sns-message-1" });
		const result = sesInbound.parse(request(envelope));
		expect(result.ok && result.value.replay).toEqual({ nonce: "sns-message-1", expiresAt: NOW + SNS_REPLAY_WINDOW_MS, repeat: "ignore" });
	});

	it("asks to confirm a subscription through its SubscribeURL", async () => {
		const envelope = await snsSubscriptionConfirmation();
		const result = sesInbound.parse(request(envelope));
		expect(result).toMatchObject({ ok: true, value: { events: [], ignored: 0, confirmUrl: envelope.SubscribeURL } });
	});

	it("ignores an unsubscribe confirmation", async () => {
		const envelope = await signSns({ ...(await snsSubscriptionConfirmation()), Type: "UnsubscribeConfirmation" });
		expect(sesInbound.parse(request(envelope))).toMatchObject({ ok: true, value: { events: [], ignored: 1 } });
	});

	it.each([
		["a Message that is not JSON", "not json"],
		["a Message without mail.messageId", { eventType: "Delivery", mail: {} }],
	])("rejects %s with 400", async (_label, message) => {
		expect(sesInbound.parse(request(await snsNotification(message)))).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("is registered as the ses adapter", () => {
		expect(webhookOf("ses")).toBe(sesInbound);
	});
});

describe("POST /provider-webhooks/ses", () => {
	async function sentViaSes() {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const messageId = `0102${crypto.randomUUID()}-000000`;
		await markSent(id, "ses", messageId);
		return { t, id, messageId };
	}

	function post(envelope: SnsEnvelope) {
		return postWebhook("ses", {
			rawBody: JSON.stringify(envelope),
			headers: { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": envelope.Type },
		});
	}

	it("records a delivery found by our tag", async () => {
		const { id, messageId } = await sentViaSes();
		serveSnsCertificate();
		const res = await post(
			await snsNotification(sesEvent("Delivery", { emailId: id, messageId }, { delivery: { recipients: ["user@example.org"] } })),
		);
		expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { received: 1, matched: 1, unmatched: 0, ignored: 0 } });
		expect((await emailRow(id)).status).toBe("delivered");
	});

	it("answers a repeated SNS message 200 and ignores it, writing nothing", async () => {
		const { id, messageId } = await sentViaSes();
		serveSnsCertificate();
		const envelope = await snsNotification(sesEvent("Open", { emailId: id, messageId }));
		expect((await post(envelope)).body).toMatchObject({ matched: 1 });
		const before = await webhookWrites();
		const again = await post(envelope);
		expect({ status: again.status, body: again.body }).toEqual({
			status: 200,
			body: { received: 1, matched: 0, unmatched: 0, ignored: 1, repeated: true },
		});
		expect(await webhookWrites()).toEqual(before);
	});

	it("confirms a subscription by fetching its SubscribeURL once", async () => {
		const confirmations: string[] = [];
		serveSnsCertificate((url) => {
			confirmations.push(url);
			return new Response("<ConfirmSubscriptionResponse/>", { status: 200 });
		});
		const envelope = await snsSubscriptionConfirmation();
		expect((await post(envelope)).status).toBe(200);
		expect((await post(envelope)).body).toMatchObject({ repeated: true });
		expect(confirmations).toEqual([envelope.SubscribeURL]);
	});

	it("answers 502 and claims nothing when SNS refuses the confirmation, so a retry confirms", async () => {
		let refuse = true;
		serveSnsCertificate(() => new Response("", { status: refuse ? 403 : 200 }));
		const envelope = await snsSubscriptionConfirmation();
		expect((await post(envelope)).status).toBe(502);
		refuse = false;
		expect((await post(envelope)).body).toEqual({ received: 0, matched: 0, unmatched: 0, ignored: 0 });
	});

	it("rejects a certificate URL off the allow-list with 401 and writes nothing", async () => {
		const { id, messageId } = await sentViaSes();
		const urls = serveSnsCertificate();
		const before = await webhookWrites();
		const envelope = await snsNotification(sesEvent("Delivery", { emailId: id, messageId }), { certUrl: "https://evil.example/cert.pem" });
		expect((await post(envelope)).status).toBe(401);
		expect(await webhookWrites()).toEqual(before);
		expect(urls).toEqual([]);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("rejects a bad signature with 401 and writes nothing", async () => {
		const { id, messageId } = await sentViaSes();
		serveSnsCertificate();
		const before = await webhookWrites();
		const envelope = await snsNotification(sesEvent("Delivery", { emailId: id, messageId }));
		const res = await post({ ...envelope, Message: envelope.Message.replace("Delivery", "Complaint") });
		expect(res.status).toBe(401);
		expect(await webhookWrites()).toEqual(before);
	});

	it("rejects a truncated body with 400 and writes nothing", async () => {
		const before = await webhookWrites();
		const raw = JSON.stringify(await snsNotification(sesEvent("Delivery", { messageId: MESSAGE_ID })));
		const res = await postWebhook("ses", { rawBody: raw.slice(0, 200), headers: { "content-type": "text/plain; charset=UTF-8" } });
		expect(res.status).toBe(400);
		expect(await webhookWrites()).toEqual(before);
	});

	it("keeps an event for an unknown message as unmatched and answers 200", async () => {
		serveSnsCertificate();
		const res = await post(await snsNotification(sesEvent("Delivery", { messageId: `unknown-${crypto.randomUUID()}` })));
		expect(res.body).toEqual({ received: 1, matched: 0, unmatched: 1, ignored: 0 });
	});

	it("suppresses the recipient of a permanent bounce", async () => {
		const { t, id, messageId } = await sentViaSes();
		serveSnsCertificate();
		await post(
			await snsNotification(
				sesEvent(
					"Bounce",
					{ emailId: id, messageId },
					{ bounce: { bounceType: "Permanent", bouncedRecipients: [{ emailAddress: "User@Example.org" }] } },
				),
			),
		);
		expect((await emailRow(id)).status).toBe("bounced");
		const reason = await env.DB.prepare("SELECT reason FROM suppressions WHERE tenant_id = ? AND email = 'user@example.org'")
			.bind(t.tenantId)
			.first<string>("reason");
		expect(reason).toBe("hard_bounce");
	});
});
