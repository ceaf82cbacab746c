/**
 * The send-path holes the lifecycle closes, each reproduced as it was found, plus the faults around a send: a call
 * outliving its lease, recover racing a live send, stalled attachments, the RateLimiter failing, batches longer than
 * their lease. Each ends with every email in a correct state and no provider accepting an email twice (or once at
 * each of two providers).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../../src/db/client";
import { buildOutboundEmail } from "../../src/services/outbound";
import { call, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { consume, depsWith, emailRow, eventTypes, fakeProvider, gate, hostOf, json, seedEmail, stubPacer } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const RESEND = { RESEND_API_KEY: "re_test", RESEND_BASE_URL: "https://resend.test" };
const POSTMARK = { POSTMARK_SERVER_TOKEN: "pm-test", POSTMARK_BASE_URL: "https://postmark.test" };
const SENDGRID = { SENDGRID_API_KEY: "SG.test", SENDGRID_BASE_URL: "https://sendgrid.test" };
const BOTH = { ...RESEND, ...POSTMARK, PROVIDERS: "resend,postmark" };
const POSTMARK_OK = () => json(200, { MessageID: "pm_1", ErrorCode: 0, Message: "OK" });

async function expireLease(id: string) {
	await env.DB.prepare("UPDATE emails SET lease_until = ? WHERE id = ?")
		.bind(Date.now() - 1, id)
		.run();
}

/** Provider calls by host, the requests answered by `handle` (which may hold them back). */
function providers(handle: (host: string) => Promise<Response> | Response) {
	const hosts: string[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const host = hostOf(input);
		hosts.push(host);
		return handle(host);
	});
	return hosts;
}

describe("a call that outlives its lease", () => {
	it("records the failover provider before calling it, so neither recover nor a redelivery sends at the first one", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const postmark = gate<Response>();
		const hosts = providers((host) => (host === "postmark.test" ? postmark.promise : json(200, { id: "re_1" })));
		const deps = depsWith(BOTH, { pacer: stubPacer({ open: ["resend"] }) });
		const running = consume(t, [id], deps);
		await vi.waitFor(() => expect(hosts).toContain("postmark.test"));
		expect(await emailRow(id)).toMatchObject({ status: "sending", provider: "postmark" });

		await expireLease(id);
		await runCron("* * * * *", Date.now());
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "postmark" });
		await consume(t, [id], depsWith(BOTH));

		postmark.resolve(POSTMARK_OK());
		await running;
		expect(hosts.filter((h) => h === "resend.test")).toHaveLength(0);
		expect(await emailRow(id)).toMatchObject({ status: "sent", provider: "postmark", provider_message_id: "pm_1" });
	});

	it("refuses to cancel an email given back queued but pinned: the expired attempt may still be sent", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const resend = gate<Response>();
		const hosts = providers(() => resend.promise);
		const running = consume(t, [id], depsWith({ ...BOTH, PROVIDERS: "resend,postmark" }));
		await vi.waitFor(() => expect(hosts).toHaveLength(1));
		await expireLease(id);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		await runCron("* * * * *", Date.now());
		expect(await emailRow(id)).toMatchObject({ status: "queued", pinned_provider: "resend" });

		const refused = await call<{ name: string; message: string }>("POST", `/emails/${id}/cancel`, { key: t.key });
		expect(refused.status).toBe(409);
		expect(refused.body).toMatchObject({ name: "invalid_state" });
		expect(refused.body.message).toContain("may have reached resend");
		resend.resolve(json(200, { id: "re_1" }));
		await running;
		expect(await emailRow(id)).toMatchObject({ status: "sent", provider_message_id: "re_1" });
		expect(await eventTypes(id)).not.toContain("canceled");
	});

	it("keeps a Resend send pinned when recover races it, and records the late answer once", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const resend = gate<Response>();
		const hosts = providers(() => resend.promise);
		const deps = depsWith({ ...BOTH, PROVIDERS: "resend,postmark" });
		const running = consume(t, [id], deps);
		await vi.waitFor(() => expect(hosts).toHaveLength(1));

		await expireLease(id);
		const enqueued = vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		await runCron("* * * * *", Date.now());
		expect(await emailRow(id)).toMatchObject({ status: "queued", provider: "resend", pinned_provider: "resend" });
		expect(enqueued.mock.calls.flatMap((c) => (c[0] as { body: { id: string } }[]).map((m) => m.body.id))).toContain(id);
		expect(await eventTypes(id)).toEqual(["queued", "lease_expired"]);

		resend.resolve(json(200, { id: "re_1" }));
		await running;
		expect(await emailRow(id)).toMatchObject({ status: "sent", provider_message_id: "re_1" });
		const again = await consume(t, [id], deps);
		expect(again).toMatchObject({ acked: 1, retried: 0 });
		expect(hosts).toEqual(["resend.test"]);
		expect((await eventTypes(id)).filter((e) => e === "sent")).toHaveLength(1);
	});
});

describe("per-email isolation", () => {
	/** A download that sends its first bytes and then nothing, ever. */
	const stalled = () =>
		new Response(
			new ReadableStream({
				start(controller) {
					controller.enqueue(new TextEncoder().encode("%PDF-1.7 "));
				},
			}),
			{ status: 200, headers: { "content-type": "application/pdf" } },
		);

	it("sends the rest of a batch when one email's attachment stalls mid-body, and that email fails after its attempts", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		const poisoned = await seedEmail(a, { attachments: [{ path: "https://files.example.org/stall.pdf" }] });
		const fine = await seedEmail(a, { to: "fine@example.org" });
		const other = await seedEmail(b, { to: "other@example.org" });
		const hosts = providers((host) => (host === "files.example.org" ? stalled() : json(200, { id: `re_${crypto.randomUUID()}` })));
		const deps = depsWith({ ...RESEND, PROVIDERS: "resend", ATTACHMENT_TIMEOUT_MS: "50", MAX_ATTEMPTS: "2" });
		const batch = [
			{ id: poisoned, tenantId: a.tenantId },
			{ id: fine, tenantId: a.tenantId },
			{ id: other, tenantId: b.tenantId },
		];

		const first = await consume(a, batch, deps);
		expect(first).toMatchObject({ acked: 2, retried: 1 });
		expect(await emailRow(fine)).toMatchObject({ status: "sent" });
		expect(await emailRow(other)).toMatchObject({ status: "sent" });
		const row = await emailRow(poisoned);
		expect(row).toMatchObject({ status: "queued", attempts: 1 });
		expect(String(row.last_error)).toContain("did not finish within 50 ms");

		await consume(a, [poisoned], deps);
		expect(await emailRow(poisoned)).toMatchObject({ status: "failed", attempts: 2 });
		const letters = await call<{ data: { email_id: string; reason: string }[] }>("GET", "/dead-letters", { key: a.key });
		expect(letters.body.data).toEqual([expect.objectContaining({ email_id: poisoned, reason: "max_attempts" })]);
		expect(hosts.filter((h) => h === "resend.test")).toHaveLength(2);
	});

	it("answers a stalled attachment download with an error value, never an exception", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { attachments: [{ path: "https://files.example.org/stall.pdf" }] });
		vi.spyOn(globalThis, "fetch").mockImplementation(async () => stalled());
		const row = await getDb(env.DB).query.emails.findFirst({ where: (e, { eq }) => eq(e.id, id) });
		if (!row) throw new Error("seeded email missing");
		const built = await buildOutboundEmail(row, {
			bucket: env.ATTACHMENTS,
			maxBytes: 1_000_000,
			timeoutMs: 30,
			policy: { allowInsecure: false },
		});
		expect(built).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("turns an adapter that throws after its request left into an unknown outcome, not a failover", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const broken = { name: "postmark" as const, supportsIdempotency: false, send: async () => Promise.reject(new Error("parser bug")) };
		const sandbox = depsWith().providers("sandbox");
		const deps = depsWith(
			{ ...POSTMARK, PROVIDERS: "postmark,sandbox" },
			{ providers: (name) => (name === "postmark" ? broken : sandbox) },
		);
		await consume(t, [id], deps);
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "postmark" });
	});
});

describe("outcome classes", () => {
	it.each([500, 502, 504])("marks a %i from Postmark uncertain instead of failing over to Resend", async (status) => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const hosts = providers((host) =>
			host === "postmark.test" ? json(status, { ErrorCode: 0, Message: "gateway" }) : json(200, { id: "re_1" }),
		);
		const result = await consume(t, [id], depsWith({ ...BOTH, PROVIDERS: "postmark,resend" }));
		expect(result).toMatchObject({ acked: 1, retried: 0 });
		expect(hosts).toEqual(["postmark.test"]);
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "postmark", last_event: "uncertain" });
		expect(await eventTypes(id)).toEqual(["queued", "uncertain"]);
	});

	it("fails over from Postmark at once on a 503, which is a definite refusal", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		providers((host) => (host === "postmark.test" ? json(503, { ErrorCode: 0, Message: "busy" }) : json(200, { id: "re_1" })));
		const result = await consume(t, [id], depsWith({ ...BOTH, PROVIDERS: "postmark,resend" }));
		expect(result.delays).toEqual([0]);
		expect(await emailRow(id)).toMatchObject({ status: "queued", provider: "resend", pinned_provider: null });
	});

	it("retries a 502 at Resend there only, pinned, since Resend deduplicates by our id", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const hosts = providers((host) => (host === "resend.test" ? json(502, { name: "bad_gateway" }) : POSTMARK_OK()));
		await consume(t, [id], depsWith(BOTH));
		expect(await emailRow(id)).toMatchObject({ status: "queued", provider: "resend", pinned_provider: "resend" });
		expect(hosts).toEqual(["resend.test"]);
	});

	it("leaves an email that may have been sent uncertain, not failed, when its attempts run out", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider("hang");
		const deps = depsWith({ ...RESEND, PROVIDERS: "resend", MAX_ATTEMPTS: "1" }, {}, 20);
		await consume(t, [id], deps);
		const row = await emailRow(id);
		expect(row).toMatchObject({ status: "uncertain", provider: "resend" });
		expect(String(row.last_error)).toContain("may have been sent at resend");
	});
});

describe("RateLimiter unavailable in the consumer", () => {
	it.each(["tenant", "provider"] as const)(
		"gives the rows back without spending an attempt when the %s permit call throws",
		async (failing) => {
			const t = await seedTenant();
			const id = await seedEmail(t);
			const provider = fakeProvider(json(200, { id: "re_1" }));
			const requeued = vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
			const result = await consume(t, [id], depsWith({ ...RESEND, PROVIDERS: "resend" }, { pacer: stubPacer({ failing: [failing] }) }));
			expect(result).toMatchObject({ acked: 1, retried: 0 });
			expect(provider.requests).toHaveLength(0);
			expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 0, lease_until: null });
			expect(requeued.mock.calls.flatMap((c) => c[0] as { body: { id: string } }[]).map((m) => m.body.id)).toEqual([id]);
		},
	);
});

describe("lease discipline", () => {
	it("gives back the rows whose call the lease would no longer cover, without calling", async () => {
		const t = await seedTenant();
		const ids: string[] = [];
		for (let i = 0; i < 4; i++) ids.push(await seedEmail(t, { to: `u${i}@example.org` }));
		const provider = fakeProvider(json(200, { id: "re_x" }));
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		// The clock jumps 101 s after the claim: with a 120 s lease, no 15 s call + 5 s margin fits any more.
		let clock = Date.now();
		const claimedAt = clock;
		const pacer = stubPacer();
		const deps = depsWith({ ...RESEND, PROVIDERS: "resend" }, { now: () => clock, pacer });
		const spy = vi.spyOn(pacer, "providerPermits").mockImplementation(async (_name, n) => {
			clock = claimedAt + 101_000;
			return { granted: n, retryAfterMs: 0, circuit: "closed" };
		});
		await consume(t, ids, deps);
		expect(spy).toHaveBeenCalled();
		expect(provider.requests).toHaveLength(0);
		for (const id of ids) expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 0 });
	});

	it("refuses a configuration whose lease cannot cover one send", () => {
		expect(() => depsWith({ SEND_LEASE_SECONDS: "10", PROVIDER_TIMEOUT_MS: "15000" })).toThrow(/SEND_LEASE_SECONDS/);
	});
});

describe("every path counts toward MAX_ATTEMPTS", () => {
	it("gives up on an email that crashed its consumer on every attempt, recovered each time", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		// Each claim is followed by a crash (the lease simply expires) and recovery requeues it, pinned to Resend.
		for (let i = 0; i < 3; i++) {
			await env.DB.prepare(
				"UPDATE emails SET status = 'sending', attempts = attempts + 1, provider = 'resend', attempt_id = 'dead', lease_until = ? WHERE id = ?",
			)
				.bind(Date.now() - 1, id)
				.run();
			await runCron("* * * * *", Date.now());
		}
		expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 3, pinned_provider: "resend" });
		const provider = fakeProvider(json(200, { id: "re_1" }));
		await consume(t, [id], depsWith({ ...RESEND, PROVIDERS: "resend", MAX_ATTEMPTS: "3" }));
		expect(provider.requests).toHaveLength(0);
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "resend" });
	});

	it("makes an expired lease uncertain, not queued, once attempts are used up", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await env.DB.prepare(
			"UPDATE emails SET status = 'sending', attempts = 8, provider = 'resend', attempt_id = 'dead', lease_until = ? WHERE id = ?",
		)
			.bind(Date.now() - 1, id)
			.run();
		await runCron("* * * * *", Date.now());
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", last_event: "uncertain" });
	});
});

describe("an attempt's token guards its outcome", () => {
	it("writes nothing when the row was taken by a newer attempt", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const sendgrid = gate<Response>();
		providers(() => sendgrid.promise);
		const running = consume(t, [id], depsWith({ ...SENDGRID, PROVIDERS: "sendgrid" }));
		await vi.waitFor(async () => expect((await emailRow(id)).status).toBe("sending"));
		await env.DB.prepare("UPDATE emails SET attempt_id = 'newer' WHERE id = ?").bind(id).run();
		sendgrid.resolve(json(503, { errors: [{ message: "down" }] }));
		await running;
		expect(await emailRow(id)).toMatchObject({ status: "sending", attempt_id: "newer" });
		expect(await eventTypes(id)).toEqual(["queued"]);
	});
});

describe("a provider that forgets our id (Brevo keeps it 30 minutes)", () => {
	const BREVO = { PROVIDERS: "brevo", BREVO_API_KEY: "brevo-test", BREVO_BASE_URL: "https://brevo.test" };

	it("retries an unknown outcome at Brevo while it still remembers the id, pinned", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(502, { code: "bad_gateway", message: "upstream" }));
		await consume(t, [id], depsWith(BREVO));
		expect(await emailRow(id)).toMatchObject({ status: "queued", pinned_provider: "brevo" });
	});

	it("leaves an unknown outcome to the reconciler once Brevo's window has passed, instead of asking again", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await env.DB.prepare("UPDATE emails SET created_at = ? WHERE id = ?")
			.bind(Date.now() - 31 * 60_000, id)
			.run();
		fakeProvider(json(502, { code: "bad_gateway", message: "upstream" }));
		await consume(t, [id], depsWith(BREVO));
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "brevo" });
	});

	it("does not call Brevo again for an email pinned there after the window", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await env.DB.prepare("UPDATE emails SET created_at = ?, pinned_provider = 'brevo', provider = 'brevo' WHERE id = ?")
			.bind(Date.now() - 31 * 60_000, id)
			.run();
		const provider = fakeProvider(json(201, { messageId: "<m@brevo>" }));
		await consume(t, [id], depsWith(BREVO));
		expect(provider.requests).toHaveLength(0);
		expect(await emailRow(id)).toMatchObject({ status: "uncertain", provider: "brevo" });
	});
});
