import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, email, seedTenant } from "../helpers/api";
import { markSent, postmarkWebhook, postWebhook, resendWebhook, sendgridWebhook } from "../helpers/provider-webhooks";
import { emailRow, eventTypes, seedEmail } from "../helpers/send";
import { createWebhook, deliveriesOf, holdWebhookQueue } from "../helpers/webhooks";

afterEach(() => vi.restoreAllMocks());

async function sentViaResend(overrides: Record<string, unknown> = {}) {
	const t = await seedTenant();
	const id = await seedEmail(t, overrides);
	const resendId = `re_${crypto.randomUUID()}`;
	await markSent(id, "resend", resendId);
	return { t, id, resendId };
}

const resendEvent = (type: string, emailId: string, resendId: string, extra: Record<string, unknown> = {}) => ({
	type,
	created_at: new Date().toISOString(),
	data: { email_id: resendId, to: ["user@example.org"], tags: { mailroom_id: emailId }, ...extra },
});

async function counts() {
	const [events, unmatched] = await env.DB.batch<{ n: number }>([
		env.DB.prepare("SELECT count(*) AS n FROM email_events"),
		env.DB.prepare("SELECT count(*) AS n FROM unmatched_provider_events"),
	]);
	return { events: events?.results[0]?.n ?? 0, unmatched: unmatched?.results[0]?.n ?? 0 };
}

describe("POST /provider-webhooks/:provider", () => {
	it("answers 404 for a provider it does not know", async () => {
		const res = await postWebhook("pigeon", { rawBody: "{}", headers: {} });
		expect(res.status).toBe(404);
	});

	it("records a signed Resend delivery and announces it to the tenant's webhook", async () => {
		const { t, id, resendId } = await sentViaResend();
		const hook = await createWebhook(t, ["email.delivered"]);
		holdWebhookQueue();
		const res = await postWebhook("resend", resendWebhook(resendEvent("email.delivered", id, resendId)));
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ received: 1, matched: 1, unmatched: 0, ignored: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "delivered" });
		expect((await deliveriesOf(hook.id)).map((d) => d.event_type)).toEqual(["email.delivered"]);
	});

	it("keeps an event without our id for inspection: it is matched by our id, never by a scan for the provider's", async () => {
		const { id, resendId } = await sentViaResend();
		const before = await counts();
		const res = await postWebhook(
			"resend",
			resendWebhook({ ...resendEvent("email.delivered", id, resendId), data: { email_id: resendId, to: ["user@example.org"] } }),
		);
		expect(res.body).toEqual({ received: 1, matched: 0, unmatched: 1, ignored: 0 });
		expect((await emailRow(id)).status).toBe("sent");
		expect((await counts()).unmatched).toBe(before.unmatched + 1);
	});

	it("treats a replayed webhook as a no-op", async () => {
		const { t, id, resendId } = await sentViaResend();
		const hook = await createWebhook(t, ["email.delivered"]);
		holdWebhookQueue();
		const request = resendWebhook(resendEvent("email.delivered", id, resendId));
		await postWebhook("resend", request);
		const before = await eventTypes(id);
		const again = await postWebhook("resend", request);
		expect(again.status).toBe(200);
		expect(await eventTypes(id)).toEqual(before);
		expect(await deliveriesOf(hook.id)).toHaveLength(1);
	});

	it.each([
		["a wrong secret", () => ({ secret: `whsec_${btoa("another-secret-of-24-byte")}` })],
		["a timestamp 10 minutes old", () => ({ at: new Date(Date.now() - 10 * 60_000) })],
	])("rejects %s with 401 and writes nothing", async (_label, options) => {
		const { id, resendId } = await sentViaResend();
		const before = await counts();
		const res = await postWebhook("resend", resendWebhook(resendEvent("email.delivered", id, resendId), options()));
		expect(res.status).toBe(401);
		expect(await counts()).toEqual(before);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("rejects a tampered body with 401 and writes nothing", async () => {
		const { id, resendId } = await sentViaResend();
		const before = await counts();
		const request = resendWebhook(resendEvent("email.delivered", id, resendId));
		const res = await postWebhook("resend", { ...request, rawBody: request.rawBody.replace("delivered", "bounced") });
		expect(res.status).toBe(401);
		expect(await counts()).toEqual(before);
	});

	it("rejects a signed body it cannot read with 400", async () => {
		const res = await postWebhook("resend", resendWebhook("not an event"));
		expect(res.status).toBe(400);
	});

	it("keeps events for unknown emails for inspection and answers 200", async () => {
		const before = await counts();
		const res = await postWebhook("resend", resendWebhook(resendEvent("email.delivered", crypto.randomUUID(), "re_unknown")));
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ matched: 0, unmatched: 1 });
		expect((await counts()).unmatched).toBe(before.unmatched + 1);
	});

	it("ends in the right status when events arrive out of order", async () => {
		const { id, resendId } = await sentViaResend();
		await postWebhook("resend", resendWebhook(resendEvent("email.opened", id, resendId)));
		await postWebhook("resend", resendWebhook(resendEvent("email.delivered", id, resendId)));
		await postWebhook("resend", resendWebhook(resendEvent("email.sent", id, resendId)));
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "opened" });
	});

	it("suppresses a hard-bounced recipient so the next send is refused", async () => {
		const { t, id, resendId } = await sentViaResend({ to: "gone@example.org" });
		await postWebhook(
			"resend",
			resendWebhook({
				...resendEvent("email.bounced", id, resendId, { bounce: { type: "Permanent", subType: "General", message: "No such user" } }),
				data: {
					email_id: resendId,
					to: ["gone@example.org"],
					tags: { mailroom_id: id },
					bounce: { type: "Permanent", subType: "General", message: "No such user" },
				},
			}),
		);
		expect((await emailRow(id)).status).toBe("bounced");
		const next = await call("POST", "/emails", { key: t.key, body: email(t, { to: "gone@example.org" }) });
		expect(next.status).toBe(422);
	});

	it("records every event of a SendGrid batch, each matched by its custom args", async () => {
		const a = await seedTenant();
		const first = await seedEmail(a);
		const second = await seedEmail(a);
		await markSent(first, "sendgrid", "sgA");
		await markSent(second, "sendgrid", "sgB");
		const now = Math.floor(Date.now() / 1000);
		const res = await postWebhook(
			"sendgrid",
			await sendgridWebhook([
				{ email: "user@example.org", timestamp: now, event: "delivered", sg_message_id: "sgA.filter0001", mailroom_id: first },
				{ email: "user@example.org", timestamp: now, event: "open", sg_message_id: "sgB.filter0002", mailroom_id: second },
			]),
		);
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ received: 2, matched: 2 });
		expect((await emailRow(first)).status).toBe("delivered");
		expect((await emailRow(second)).last_event).toBe("opened");
	});

	it("rejects a SendGrid batch whose signature does not match", async () => {
		const request = await sendgridWebhook([{ email: "u@example.org", timestamp: 1, event: "delivered", sg_message_id: "x.y" }]);
		const res = await postWebhook("sendgrid", { ...request, rawBody: request.rawBody.replace("delivered", "bounce") });
		expect(res.status).toBe(401);
	});

	it("accepts Postmark with its basic-auth credentials and rejects others", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await markSent(id, "postmark", "pm-1");
		const delivery = {
			RecordType: "Delivery",
			MessageID: "pm-1",
			Recipient: "user@example.org",
			DeliveredAt: new Date().toISOString(),
			Metadata: { mailroom_id: id },
		};
		expect((await postWebhook("postmark", postmarkWebhook(delivery, "postmark-hooks:wrong"))).status).toBe(401);
		expect((await emailRow(id)).status).toBe("sent");
		expect((await postWebhook("postmark", postmarkWebhook(delivery))).status).toBe(200);
		expect((await emailRow(id)).status).toBe("delivered");
	});
});
