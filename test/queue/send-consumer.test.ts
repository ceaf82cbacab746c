import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SandboxProvider } from "../../src/providers/sandbox/client";
import { call, email, failNthBatch, seedTenant } from "../helpers/api";
import { countD1 } from "../helpers/d1-counter";
import { consume, depsWith, emailRow, eventTypes, fakeProvider, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const RESEND = { PROVIDERS: "resend", RESEND_API_KEY: "re_test", RESEND_BASE_URL: "https://resend.test" };
const SENDGRID = { PROVIDERS: "sendgrid", SENDGRID_API_KEY: "SG.test", SENDGRID_BASE_URL: "https://sendgrid.test" };
const POSTMARK = { POSTMARK_SERVER_TOKEN: "pm-test", POSTMARK_BASE_URL: "https://postmark.test" };

describe("send consumer with the sandbox provider", () => {
	it("sends, records sent then delivered, and acks", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "delivered@example.org" });
		const result = await consume(t, [id], depsWith());
		expect(result).toMatchObject({ acked: 1, retried: 0 });
		const row = await emailRow(id);
		expect(row).toMatchObject({
			status: "delivered",
			last_event: "delivered",
			provider: "sandbox",
			provider_message_id: `sandbox_${id}`,
			attempts: 1,
		});
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivered"]);
		const api = await call<{ last_event: string }>("GET", `/emails/${id}`, { key: t.key });
		expect(api.body.last_event).toBe("delivered");
	});

	it("records a hard bounce and suppresses the recipient, so the next send is refused", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "bounced@example.org" });
		await consume(t, [id], depsWith());
		expect((await emailRow(id)).status).toBe("bounced");
		const next = await call<{ name: string; message: string }>("POST", "/emails", {
			key: t.key,
			body: email(t, { to: "bounced@example.org" }),
		});
		expect(next.status).toBe(422);
		expect(next.body.message).toContain("suppression");
	});

	it("records a complaint after delivery and suppresses", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "complained@example.org" });
		await consume(t, [id], depsWith());
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivered", "complained"]);
		expect((await emailRow(id)).status).toBe("complained");
		const listed = await call<{ data: { email: string; reason: string }[] }>("GET", "/suppressions", { key: t.key });
		expect(listed.body.data).toEqual([expect.objectContaining({ email: "complained@example.org", reason: "complaint" })]);
	});

	it("records a delay before delivery", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "delayed@example.org" });
		await consume(t, [id], depsWith());
		expect(await eventTypes(id)).toEqual(["queued", "sent", "delivery_delayed", "delivered"]);
		expect((await emailRow(id)).status).toBe("delivered");
	});

	it("fails a rejected email at once, without retry or dead letter", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "rejected@example.org" });
		const result = await consume(t, [id], depsWith());
		expect(result).toMatchObject({ acked: 1, retried: 0 });
		expect((await emailRow(id)).status).toBe("failed");
		const letters = await call<{ data: unknown[] }>("GET", "/dead-letters", { key: t.key });
		expect(letters.body.data).toEqual([]);
	});

	it("retries a flaky recipient twice with backoff, then delivers", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "flaky@example.org" });
		const deps = depsWith({ RETRY_BASE_SECONDS: "30" });
		const first = await consume(t, [id], deps);
		expect(first).toMatchObject({ acked: 0, retried: 1, delays: [30] });
		expect((await emailRow(id)).status).toBe("queued");
		const second = await consume(t, [id], deps);
		expect(second.delays).toEqual([60]);
		await consume(t, [id], deps);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", attempts: 3 });
		expect(await eventTypes(id)).toEqual(["queued", "attempt_failed", "attempt_failed", "sent", "delivered"]);
	});

	it("waits for a slow provider and still delivers", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "slow@example.org" });
		const sleeps: number[] = [];
		const sandbox = new SandboxProvider({ sleep: async (ms) => void sleeps.push(ms) });
		await consume(t, [id], depsWith({}, { providers: (name) => (name === "sandbox" ? sandbox : null) }));
		expect(sleeps).toEqual([2000]);
		expect((await emailRow(id)).status).toBe("delivered");
	});
});

describe("send consumer: provider failures (Resend over HTTP)", () => {
	it.each([500, 502, 503])("retries a %i with backoff and counts the attempt", async (status) => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(status, { statusCode: status, name: "internal_server_error", message: "boom" }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result).toMatchObject({ acked: 0, retried: 1, delays: [30] });
		expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 1, provider: "resend" });
		expect(await eventTypes(id)).toEqual(["queued", "attempt_failed"]);
	});

	it("honours Retry-After on a 429", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(429, { statusCode: 429, name: "rate_limit_exceeded", message: "slow down" }, { "retry-after": "600" }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result.delays).toEqual([600]);
	});

	it("backs off on a 429 without Retry-After", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(429, { statusCode: 429, name: "rate_limit_exceeded", message: "slow down" }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result.delays).toEqual([30]);
	});

	it.each([400, 422])("fails a %i at once without retry", async (status) => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(status, { statusCode: status, name: "validation_error", message: "bad" }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result).toMatchObject({ acked: 1, retried: 0 });
		const row = await emailRow(id);
		expect(row.status).toBe("failed");
		expect(String(row.last_error)).toContain("bad");
		expect(provider.requests).toHaveLength(1);
	});

	it("retries a lost connection at Resend itself, never failing over (it may have been sent)", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(new TypeError("Network connection lost."));
		const result = await consume(t, [id], depsWith({ ...RESEND, ...POSTMARK, PROVIDERS: "resend,postmark" }));
		expect(result.retried).toBe(1);
		expect(await emailRow(id)).toMatchObject({ status: "queued", provider: "resend" });
	});

	it("marks a lost connection at Postmark uncertain instead of failing over to a second send", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(new TypeError("Network connection lost."));
		const result = await consume(t, [id], depsWith({ ...RESEND, ...POSTMARK, PROVIDERS: "postmark,resend" }));
		expect(result).toMatchObject({ acked: 1, retried: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "postmark" });
		expect(provider.requests).toHaveLength(1);
	});

	it("retries a timeout at Resend, which deduplicates by our id", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider("hang");
		const result = await consume(t, [id], depsWith(RESEND, {}, 50));
		expect(result.retried).toBe(1);
		expect((await emailRow(id)).status).toBe("queued");
	});

	it("marks a timeout at SendGrid uncertain instead of sending again", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider("hang");
		const result = await consume(t, [id], depsWith(SENDGRID, {}, 50));
		expect(result).toMatchObject({ acked: 1, retried: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "sendgrid" });
		expect(await eventTypes(id)).toEqual(["queued", "uncertain"]);
		expect(provider.requests).toHaveLength(1);
	});

	it("treats a 200 without an id as uncertain and retries where that is safe", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(new Response("<html>ok</html>", { status: 200 }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result.retried).toBe(1);
	});

	it("sends our email id as Resend's idempotency key", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		await consume(t, [id], depsWith(RESEND));
		expect(new Headers(provider.requests[0]?.init?.headers).get("idempotency-key")).toBe(id);
		expect(await emailRow(id)).toMatchObject({ status: "sent", provider_message_id: "re_1" });
	});

	it("fails and dead-letters an email after MAX_ATTEMPTS", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(503, { message: "down" }));
		const deps = depsWith({ ...RESEND, MAX_ATTEMPTS: "2" });
		expect((await consume(t, [id], deps)).retried).toBe(1);
		const last = await consume(t, [id], deps);
		expect(last).toMatchObject({ acked: 1, retried: 0 });
		expect(await emailRow(id)).toMatchObject({ status: "failed", attempts: 2 });
		const letters = await call<{ data: { email_id: string; reason: string; attempts: number }[] }>("GET", "/dead-letters", { key: t.key });
		expect(letters.body.data).toEqual([expect.objectContaining({ email_id: id, reason: "max_attempts", attempts: 2 })]);
	});

	it("recovers from an adapter that throws as from a transient failure", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const broken = { name: "sandbox" as const, supportsIdempotency: true, send: async () => Promise.reject(new Error("bug")) };
		const result = await consume(t, [id], depsWith({}, { providers: () => broken }));
		expect(result.retried).toBe(1);
		expect((await emailRow(id)).status).toBe("queued");
	});
});

describe("send consumer: exactly once", () => {
	it("makes one provider call when the same message is delivered twice", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		const deps = depsWith(RESEND);
		await consume(t, [id], deps);
		const again = await consume(t, [id], deps);
		expect(again).toMatchObject({ acked: 1, retried: 0 });
		expect(provider.requests).toHaveLength(1);
	});

	it("makes one provider call for a message repeated inside one batch", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		const result = await consume(t, [id, id], depsWith(RESEND));
		expect(result.acked).toBe(2);
		expect(provider.requests).toHaveLength(1);
	});

	it("lets only one of two racing consumers send", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(200, { id: "re_1" }));
		const deps = depsWith(RESEND);
		const results = await Promise.all([consume(t, [id], deps), consume(t, [id], deps)]);
		expect(results.map((r) => r.acked)).toEqual([1, 1]);
		expect(provider.requests).toHaveLength(1);
		expect(await eventTypes(id)).toEqual(["queued", "sent"]);
	});

	it("never sends an email canceled while queued", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await call("POST", `/emails/${id}/cancel`, { key: t.key });
		const provider = fakeProvider(json(200, { id: "re_1" }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result.acked).toBe(1);
		expect(provider.requests).toHaveLength(0);
		expect((await emailRow(id)).status).toBe("canceled");
	});

	it("does not send a scheduled email before its time, and sends it once due", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { scheduled_at: "in 1 hour" });
		const deps = depsWith();
		expect((await consume(t, [id], deps)).acked).toBe(1);
		expect((await emailRow(id)).status).toBe("scheduled");
		await env.DB.prepare("UPDATE emails SET scheduled_at = ? WHERE id = ?")
			.bind(Date.now() - 1000, id)
			.run();
		await consume(t, [id], deps);
		expect((await emailRow(id)).status).toBe("delivered");
	});

	it("fails an email whose recipient was suppressed after acceptance, without a provider call", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "Late <late@example.org>", cc: "ok@example.org" });
		await call("POST", "/suppressions", { key: t.key, body: { email: "late@example.org" } });
		const provider = fakeProvider(json(200, { id: "re_1" }));
		await consume(t, [id], depsWith(RESEND));
		expect(provider.requests).toHaveLength(0);
		expect(await emailRow(id)).toMatchObject({ status: "failed" });
		expect(String((await emailRow(id)).last_error)).toContain("late@example.org");
	});
});

describe("send consumer: crash after the provider accepted", () => {
	async function crashAfterSend(settings: Record<string, string>, accepted: Response) {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(accepted);
		const batchSpy = failNthBatch(2, "D1 unavailable while recording outcomes");
		const deps = depsWith(settings);
		const first = await consume(t, [id], deps);
		batchSpy.mockRestore();
		expect(first.delays).toEqual([121]);
		expect((await emailRow(id)).status).toBe("sending");
		// The redelivery arrives after the lease expired.
		await env.DB.prepare("UPDATE emails SET lease_until = ? WHERE id = ?")
			.bind(Date.now() - 1, id)
			.run();
		await consume(t, [id], deps);
		return { id, provider };
	}

	it("asks Resend again with the same idempotency key, so it cannot send twice", async () => {
		const { id, provider } = await crashAfterSend(RESEND, json(200, { id: "re_1" }));
		expect(provider.requests).toHaveLength(2);
		const keys = provider.requests.map((r) => new Headers(r.init?.headers).get("idempotency-key"));
		expect(keys).toEqual([id, id]);
		expect((await emailRow(id)).status).toBe("sent");
	});

	it("marks a SendGrid send uncertain instead of calling again", async () => {
		const { id, provider } = await crashAfterSend(SENDGRID, new Response(null, { status: 202, headers: { "x-message-id": "sg_1" } }));
		expect(provider.requests).toHaveLength(1);
		expect((await emailRow(id)).status).toBe("uncertain");
	});
});

describe("send consumer: an email that may have been sent stays with its provider", () => {
	const both = { ...RESEND, ...POSTMARK, PROVIDERS: "resend,postmark" };

	it("pins after a timeout at Resend: a later 503 retries Resend, never Postmark", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider("hang", json(503, { message: "down" }), json(200, { id: "re_1" }));
		await consume(t, [id], depsWith(both, {}, 50));
		expect(await emailRow(id)).toMatchObject({ status: "queued", pinned_provider: "resend" });
		await consume(t, [id], depsWith(both, {}, 50));
		expect(await emailRow(id)).toMatchObject({ status: "queued", provider: "resend" });
		await consume(t, [id], depsWith(both, {}, 50));
		expect(await emailRow(id)).toMatchObject({ status: "sent", provider: "resend" });
		expect(provider.requests.map((r) => new URL(r.url).host)).toEqual(["resend.test", "resend.test", "resend.test"]);
	});

	it("keeps a re-claimed email (lease expired mid-send) at Resend when the next attempt gets a 429", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(200, { id: "re_1" }), json(429, { statusCode: 429, name: "rate_limit_exceeded", message: "slow" }));
		failNthBatch(2, "crash while recording");
		await consume(t, [id], depsWith(both));
		vi.restoreAllMocks();
		fakeProvider(json(429, { statusCode: 429, name: "rate_limit_exceeded", message: "slow" }));
		await env.DB.prepare("UPDATE emails SET lease_until = ? WHERE id = ?")
			.bind(Date.now() - 1, id)
			.run();
		await consume(t, [id], depsWith(both));
		expect(await emailRow(id)).toMatchObject({ status: "queued", provider: "resend", pinned_provider: "resend" });
		expect(provider.requests).toHaveLength(1);
	});
});

describe("send consumer: failover", () => {
	it("moves to the next provider at once after a definite failure, and starts the next email at the first again", async () => {
		const t = await seedTenant();
		const first = await seedEmail(t);
		const provider = fakeProvider(
			json(503, { message: "resend down" }),
			json(200, { MessageID: "pm_1", ErrorCode: 0, Message: "OK" }),
			json(200, { id: "re_2" }),
		);
		const deps = depsWith({ ...RESEND, ...POSTMARK, PROVIDERS: "resend,postmark" });
		const failed = await consume(t, [first], deps);
		expect(failed.delays).toEqual([0]);
		expect(await emailRow(first)).toMatchObject({ status: "queued", provider: "postmark" });
		await consume(t, [first], deps);
		expect(await emailRow(first)).toMatchObject({ status: "sent", provider: "postmark", provider_message_id: "pm_1" });
		const events = await call<{ data: { type: string; provider: string; detail: Record<string, unknown> }[] }>(
			"GET",
			`/emails/${first}/events`,
			{ key: t.key },
		);
		expect(events.body.data[1]).toMatchObject({ type: "attempt_failed", provider: "resend", detail: { failover_to: "postmark" } });
		const second = await seedEmail(t);
		await consume(t, [second], deps);
		expect(await emailRow(second)).toMatchObject({ status: "sent", provider: "resend" });
		expect(provider.requests.map((r) => new URL(r.url).host)).toEqual(["resend.test", "postmark.test", "resend.test"]);
	});

	it("fails over on a 429 and on bad credentials", async () => {
		const t = await seedTenant();
		const a = await seedEmail(t);
		fakeProvider(json(401, { statusCode: 401, name: "invalid_api_key", message: "bad key" }));
		await consume(t, [a], depsWith({ ...RESEND, ...POSTMARK, PROVIDERS: "resend,postmark" }));
		expect(await emailRow(a)).toMatchObject({ status: "queued", provider: "postmark" });
	});

	it("does not fail over a permanent content error", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const provider = fakeProvider(json(422, { statusCode: 422, name: "validation_error", message: "invalid recipient" }));
		await consume(t, [id], depsWith({ ...RESEND, ...POSTMARK, PROVIDERS: "resend,postmark" }));
		expect((await emailRow(id)).status).toBe("failed");
		expect(provider.requests).toHaveLength(1);
	});

	it("uses the tenant's own provider list over the deployment's", async () => {
		const t = await seedTenant({ providers: ["postmark"] });
		const id = await seedEmail(t);
		const provider = fakeProvider(json(200, { MessageID: "pm_9", ErrorCode: 0, Message: "OK" }));
		await consume(t, [id], depsWith({ ...RESEND, ...POSTMARK, PROVIDERS: "resend" }));
		expect(new URL(provider.requests[0]?.url ?? "http://x").host).toBe("postmark.test");
	});

	it("suppresses a recipient Postmark reports inactive (406)", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { to: "gone@example.org" });
		fakeProvider(json(422, { ErrorCode: 406, Message: "You tried to send to a recipient that has been marked as inactive." }));
		await consume(t, [id], depsWith({ ...POSTMARK, PROVIDERS: "postmark" }));
		expect((await emailRow(id)).status).toBe("failed");
		const next = await call("POST", "/emails", { key: t.key, body: email(t, { to: "gone@example.org" }) });
		expect(next.status).toBe(422);
	});
});

describe("send consumer: attachments and cost", () => {
	it("sends R2 and path attachments base64-encoded", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, {
			attachments: [
				{ filename: "a.txt", content: btoa("stored bytes"), content_type: "text/plain" },
				{ path: "https://files.example.org/report.pdf" },
			],
		});
		const provider = fakeProvider(
			new Response("%PDF-1.7", { status: 200, headers: { "content-type": "application/pdf" } }),
			json(200, { id: "re_1" }),
		);
		await consume(t, [id], depsWith(RESEND));
		const body = provider.requests[1]?.body as { attachments: { filename: string; content: string; content_type: string }[] };
		expect(body.attachments).toEqual([
			expect.objectContaining({ filename: "a.txt", content: btoa("stored bytes"), content_type: "text/plain" }),
			expect.objectContaining({ filename: "report.pdf", content: btoa("%PDF-1.7"), content_type: "application/pdf" }),
		]);
	});

	it.each([
		[404, "failed", 0],
		[503, "queued", 1],
	])("handles a path attachment answering %i: %s", async (status, outcome, retried) => {
		const t = await seedTenant();
		const id = await seedEmail(t, { attachments: [{ path: "https://files.example.org/gone.pdf" }] });
		const provider = fakeProvider(new Response("nope", { status }));
		const result = await consume(t, [id], depsWith(RESEND));
		expect(result.retried).toBe(retried);
		expect((await emailRow(id)).status).toBe(outcome);
		expect(provider.requests.map((r) => new URL(r.url).host)).toEqual(["files.example.org"]);
	});

	it("fails an email whose path attachment redirects into a private network, without following it", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { attachments: [{ path: "https://files.example.org/moved.pdf" }] });
		const provider = fakeProvider(new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data" } }));
		await consume(t, [id], depsWith(RESEND));
		const row = await emailRow(id);
		expect(row.status).toBe("failed");
		expect(String(row.last_error)).toContain("redirected to a URL that must be on a public host");
		expect(provider.requests.map((r) => new URL(r.url).host)).toEqual(["files.example.org"]);
	});

	it("fails an email whose path attachment is larger than the attachment limit", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { attachments: [{ path: "https://files.example.org/huge.bin" }] });
		fakeProvider(new Response("x".repeat(2048), { status: 200 }));
		await consume(t, [id], depsWith({ ...RESEND, MAX_ATTACHMENT_BYTES: "1024" }));
		const row = await emailRow(id);
		expect(row.status).toBe("failed");
		expect(String(row.last_error)).toContain("larger than");
	});

	it("uses two D1 round trips per consumed batch", async () => {
		const t = await seedTenant();
		const ids: string[] = [];
		for (let i = 0; i < 10; i++) ids.push(await seedEmail(t, { to: `user${i}@example.org` }));
		const counter = countD1();
		await consume(t, ids, depsWith());
		expect(counter.roundTrips()).toBe(2);
		console.log(`consumed batch of 10 (sandbox): ${counter.roundTrips()} D1 round trips, ${counter.statements()} statements`);
	});
});
