import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { describe, expect, it } from "vitest";
import { resendInbound } from "../../../src/providers/resend/webhook";
import type { InboundRequest } from "../../../src/providers/types";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SETTINGS = { RESEND_WEBHOOK_SECRET: SECRET };
const NOW = Date.parse("2026-11-22T09:00:00.000Z");
const MESSAGE_ID = "msg_2p4Cfz8qY0NbJtVx3Ww1Ke9Lh7A";
const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f03";
const RESEND_EMAIL_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c";

type SignOptions = { secret?: string; timestamp?: Date; prefix?: "svix" | "webhook"; id?: string };

/** A request signed as Resend signs it, with `standardwebhooks` (Resend's SDK verifies with that library). */
function signedRequest(rawBody: string, options: SignOptions = {}): InboundRequest {
	const id = options.id ?? MESSAGE_ID;
	const timestamp = options.timestamp ?? new Date(NOW);
	const signature = new StandardWebhook(options.secret ?? SECRET).sign(id, timestamp, rawBody);
	const prefix = options.prefix ?? "svix";
	return {
		rawBody,
		headers: new Headers({
			[`${prefix}-id`]: id,
			[`${prefix}-timestamp`]: String(Math.floor(timestamp.getTime() / 1000)),
			[`${prefix}-signature`]: signature,
		}),
		now: NOW,
	};
}

function withHeader(request: InboundRequest, name: string, value: string | null): InboundRequest {
	const headers = new Headers(request.headers);
	if (value === null) headers.delete(name);
	else headers.set(name, value);
	return { ...request, headers };
}

function resendEvent(type: string, data: Record<string, unknown> = {}): string {
	return JSON.stringify({
		type,
		created_at: "2026-11-22T08:59:30.123Z",
		data: {
			email_id: RESEND_EMAIL_ID,
			created_at: "2026-11-22T08:59:00.000Z",
			from: "Acme <hello@acme.example.com>",
			to: ["Ann <Ann@Example.com>", "bob@example.com"],
			subject: "Your receipt",
			tags: { category: "receipt", mailroom_id: EMAIL_ID },
			...data,
		},
	});
}

function parse(rawBody: string, request: Partial<InboundRequest> = {}) {
	return resendInbound.parse({ rawBody, headers: new Headers({ "svix-id": MESSAGE_ID }), now: NOW, ...request });
}

function onlyEvent(rawBody: string) {
	const parsed = parse(rawBody);
	if (!parsed.ok) throw new Error(parsed.error.message);
	expect(parsed.value.events).toHaveLength(1);
	const [event] = parsed.value.events;
	if (event === undefined) throw new Error("no event");
	return event;
}

const BODY = resendEvent("email.delivered");

describe("Resend webhook verification", () => {
	it("accepts svix-* headers signed with standardwebhooks", async () => {
		expect(await resendInbound.verify(signedRequest(BODY), SETTINGS)).toEqual({ ok: true, value: undefined });
	});

	it("accepts webhook-* headers signed with standardwebhooks", async () => {
		expect((await resendInbound.verify(signedRequest(BODY, { prefix: "webhook" }), SETTINGS)).ok).toBe(true);
	});

	it("accepts a request signed with svix's Webhook.sign", async () => {
		const timestamp = new Date(NOW - 30_000);
		const signature = new SvixWebhook(SECRET).sign(MESSAGE_ID, timestamp, BODY);
		const request: InboundRequest = {
			rawBody: BODY,
			headers: new Headers({
				"svix-id": MESSAGE_ID,
				"svix-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
				"svix-signature": signature,
			}),
			now: NOW,
		};
		expect((await resendInbound.verify(request, SETTINGS)).ok).toBe(true);
	});

	it("accepts a request that svix's own verifier accepts", async () => {
		// svix checks the timestamp against the real clock, so this request is signed now.
		const now = Date.now();
		const request = { ...signedRequest(BODY, { timestamp: new Date(now) }), now };
		expect(() => new SvixWebhook(SECRET).verify(BODY, Object.fromEntries(request.headers.entries()))).not.toThrow();
		expect((await resendInbound.verify(request, SETTINGS)).ok).toBe(true);
	});

	it("accepts a secret configured without the whsec_ prefix", async () => {
		const settings = { RESEND_WEBHOOK_SECRET: SECRET.slice("whsec_".length) };
		expect((await resendInbound.verify(signedRequest(BODY), settings)).ok).toBe(true);
	});

	it("rejects a tampered body", async () => {
		const request = { ...signedRequest(BODY), rawBody: BODY.replace("email.delivered", "email.bounced") };
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a body that differs only by a trailing newline", async () => {
		const request = { ...signedRequest(BODY), rawBody: `${BODY}\n` };
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a signature made with another secret", async () => {
		const request = signedRequest(BODY, { secret: OTHER_SECRET });
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a replayed signature under another message id", async () => {
		const request = withHeader(signedRequest(BODY), "svix-id", "msg_other");
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it.each(["svix-id", "svix-timestamp", "svix-signature"])("rejects a request without %s", async (name) => {
		const request = withHeader(signedRequest(BODY), name, null);
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a timestamp 6 minutes old", async () => {
		const request = signedRequest(BODY, { timestamp: new Date(NOW - 6 * 60_000) });
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects a timestamp 6 minutes ahead", async () => {
		const request = signedRequest(BODY, { timestamp: new Date(NOW + 6 * 60_000) });
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("accepts a timestamp exactly 5 minutes old", async () => {
		const request = signedRequest(BODY, { timestamp: new Date(NOW - 5 * 60_000) });
		expect((await resendInbound.verify(request, SETTINGS)).ok).toBe(true);
	});

	it("rejects a timestamp that is not an integer", async () => {
		const request = withHeader(signedRequest(BODY), "svix-timestamp", `${Math.floor(NOW / 1000)}.5`);
		expect(await resendInbound.verify(request, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("rejects every request when RESEND_WEBHOOK_SECRET is not configured", async () => {
		expect(await resendInbound.verify(signedRequest(BODY), {})).toMatchObject({ ok: false, error: { status: 401 } });
	});

	it("accepts a signature list with one bad and one good entry", async () => {
		const request = signedRequest(BODY);
		const good = request.headers.get("svix-signature") ?? "";
		const bad = new StandardWebhook(OTHER_SECRET).sign(MESSAGE_ID, new Date(NOW), BODY);
		const rotated = withHeader(request, "svix-signature", `${bad} ${good}`);
		expect((await resendInbound.verify(rotated, SETTINGS)).ok).toBe(true);
	});

	it("ignores a matching signature labelled other than v1", async () => {
		const request = signedRequest(BODY);
		const v1a = (request.headers.get("svix-signature") ?? "").replace(/^v1,/, "v1a,");
		const relabelled = withHeader(request, "svix-signature", v1a);
		expect(await resendInbound.verify(relabelled, SETTINGS)).toMatchObject({ ok: false, error: { status: 401 } });
	});
});

describe("Resend webhook parsing", () => {
	it.each([
		["email.sent", "sent"],
		["email.delivered", "delivered"],
		["email.delivery_delayed", "delivery_delayed"],
		["email.bounced", "bounced"],
		["email.complained", "complained"],
		["email.opened", "opened"],
		["email.clicked", "clicked"],
		["email.failed", "failed"],
		["email.suppressed", "failed"],
	])("maps %s to %s", (resendType, type) => {
		expect(onlyEvent(resendEvent(resendType)).type).toBe(type);
	});

	it.each([
		["Permanent", "hard"],
		["Transient", "soft"],
		["Undetermined", "soft"],
	])("maps a %s bounce to %s", (bounceType, kind) => {
		const event = onlyEvent(resendEvent("email.bounced", { bounce: { type: bounceType, subType: "General", message: "x" } }));
		expect(event.bounce).toBe(kind);
	});

	it("treats a bounce without a bounce type as hard", () => {
		expect(onlyEvent(resendEvent("email.bounced")).bounce).toBe("hard");
	});

	it("keeps a bounce's message and subtype", () => {
		const bounce = { type: "Permanent", subType: "NoEmail", message: "550 5.1.1 user unknown" };
		expect(onlyEvent(resendEvent("email.bounced", { bounce })).detail).toEqual({
			message: "550 5.1.1 user unknown",
			subtype: "NoEmail",
		});
	});

	it("cuts a long bounce message to 500 characters", () => {
		const bounce = { type: "Permanent", message: "x".repeat(5_000) };
		expect(onlyEvent(resendEvent("email.bounced", { bounce })).detail.message).toHaveLength(500);
	});

	it("names the first recipient, bare and lower-cased, on a bounce", () => {
		expect(onlyEvent(resendEvent("email.bounced")).recipient).toBe("ann@example.com");
	});

	it("names the first recipient on a complaint", () => {
		expect(onlyEvent(resendEvent("email.complained")).recipient).toBe("ann@example.com");
	});

	it("names no recipient on a delivery", () => {
		expect(onlyEvent(resendEvent("email.delivered")).recipient).toBeUndefined();
	});

	it("keeps the clicked link", () => {
		const click = { link: "https://acme.example.com/receipt", ipAddress: "192.0.2.1", timestamp: "2026-11-22T08:59:30Z" };
		expect(onlyEvent(resendEvent("email.clicked", { click })).detail).toEqual({ link: "https://acme.example.com/receipt" });
	});

	it("keeps the failure reason", () => {
		const failed = { reason: "reached_daily_quota" };
		expect(onlyEvent(resendEvent("email.failed", { failed })).detail).toEqual({ reason: "reached_daily_quota" });
	});

	it("records a suppressed email as failed with reason suppressed", () => {
		expect(onlyEvent(resendEvent("email.suppressed")).detail).toEqual({ reason: "suppressed" });
	});

	it("reads our email id from a tag map", () => {
		expect(onlyEvent(resendEvent("email.sent")).emailId).toBe(EMAIL_ID);
	});

	it("reads our email id from a tag array", () => {
		const tags = [
			{ name: "category", value: "receipt" },
			{ name: "mailroom_id", value: EMAIL_ID },
		];
		expect(onlyEvent(resendEvent("email.sent", { tags })).emailId).toBe(EMAIL_ID);
	});

	it("leaves the email id out when the tag is missing", () => {
		expect(onlyEvent(resendEvent("email.sent", { tags: { category: "receipt" } })).emailId).toBeUndefined();
	});

	it("uses Resend's email id as the provider message id", () => {
		expect(onlyEvent(resendEvent("email.sent")).providerMessageId).toBe(RESEND_EMAIL_ID);
	});

	it("uses the svix-id header as the provider event id", () => {
		expect(onlyEvent(resendEvent("email.sent")).providerEventId).toBe(MESSAGE_ID);
	});

	it("uses the webhook-id header as the provider event id when there is no svix-id", () => {
		const parsed = parse(resendEvent("email.sent"), { headers: new Headers({ "webhook-id": "msg_standard" }) });
		expect(parsed.ok && parsed.value.events[0]?.providerEventId).toBe("msg_standard");
	});

	it("dates the event by the top-level created_at", () => {
		expect(onlyEvent(resendEvent("email.sent")).at).toBe(Date.parse("2026-11-22T08:59:30.123Z"));
	});

	it("dates the event now when created_at cannot be parsed", () => {
		const body = JSON.stringify({ ...JSON.parse(resendEvent("email.sent")), created_at: "yesterday-ish" });
		expect(onlyEvent(body).at).toBe(NOW);
	});

	it.each(["email.scheduled", "email.received", "contact.created", "domain.updated", "suppression.added"])("ignores %s", (type) => {
		expect(parse(resendEvent(type))).toEqual({ ok: true, value: { events: [], ignored: 1 } });
	});

	it("ignores an untracked type even without data", () => {
		expect(parse(JSON.stringify({ type: "contact.deleted" }))).toEqual({ ok: true, value: { events: [], ignored: 1 } });
	});

	it("rejects a body that is not JSON with 400", () => {
		expect(parse("{not json")).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects an event without a type with 400", () => {
		expect(parse(JSON.stringify({ data: { email_id: RESEND_EMAIL_ID } }))).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("rejects a tracked event without data.email_id with 400", () => {
		const body = JSON.stringify({ type: "email.delivered", created_at: "2026-11-22T08:59:30Z", data: { to: ["a@example.com"] } });
		expect(parse(body)).toMatchObject({ ok: false, error: { status: 400 } });
	});

	it("still reads an event whose optional fields have unexpected shapes", () => {
		const event = onlyEvent(resendEvent("email.bounced", { to: 42, tags: "mailroom_id", bounce: "Permanent" }));
		expect(event).toMatchObject({ type: "bounced", bounce: "hard", providerMessageId: RESEND_EMAIL_ID, detail: {} });
	});
});
