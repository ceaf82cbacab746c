import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, email, seedTenant } from "../helpers/api";
import { countD1 } from "../helpers/d1-counter";
import { verifiedDomain } from "../helpers/dns";
import { emailRow } from "../helpers/send";
import { publishedTemplate } from "../helpers/templates";

afterEach(() => vi.restoreAllMocks());

/** The live queue consumer would run claims in the background while a request is being counted. */
beforeEach(() => {
	vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
	vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
	vi.spyOn(env.SEND_BULK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
});

/**
 * The accept path's D1 budget (docs/architecture.md, "Accepting an email"): the key lookup (1, spared while the
 * isolate remembers the key) + the write transaction (1) for plain emails, however many a request carries; a read
 * (claim, suppressions, templates) before the write for templated, attachment-carrying and permissive requests.
 * These numbers are reported in the issue notes; a regression fails here.
 */
describe("D1 round trips per accepted request", () => {
	it("is 2 for a single send on a cold isolate, then 1 once the key is remembered, with or without an idempotency key", async () => {
		const t = await seedTenant();
		const counter = countD1();
		expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200);
		expect(counter.roundTrips()).toBe(2);
		counter.reset();
		expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200);
		expect(counter.roundTrips()).toBe(1);
		console.log(`single send: ${counter.roundTrips()} round trips, ${counter.statements()} statements`);
		counter.reset();
		expect((await call("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "rt" } })).status).toBe(200);
		expect(counter.roundTrips()).toBe(1);
		console.log(`single send with key: ${counter.roundTrips()} round trips, ${counter.statements()} statements`);
	});

	it("is the key lookup and the write for a send from a domain just set to track opens and clicks (its settings come with the API key)", async () => {
		const t = await seedTenant({ allowed_from_domains: [] });
		const name = `tracked-${crypto.randomUUID().slice(0, 8)}.example.com`;
		const domain = await verifiedDomain(t, name);
		const settings = { open_tracking: true, click_tracking: true };
		expect((await call("PATCH", `/domains/${domain.id}`, { key: t.key, body: settings })).status).toBe(200);
		const counter = countD1();
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}`, html: "<p>x</p>" }) });
		expect(res.status).toBe(200);
		// The domain's change made this isolate forget the key, so it is looked up again: 2, no read of the domain.
		expect(counter.roundTrips()).toBe(2);
		expect(JSON.parse(String((await emailRow(res.body.id)).tracking))).toMatchObject({ open: true, click: true });
	});

	it("is 1 for a batch of 100", async () => {
		const t = await seedTenant();
		await call("GET", "/emails", { key: t.key });
		const body = Array.from({ length: 100 }, (_, i) => email(t, { to: [`a${i}@example.org`, `b${i}@example.org`] }));
		const counter = countD1();
		const res = await call<{ data: unknown[] }>("POST", "/emails/batch", { key: t.key, body, headers: { "Idempotency-Key": "rt-batch" } });
		expect(res.body.data).toHaveLength(100);
		expect(counter.roundTrips()).toBe(1);
		console.log(`batch of 100: ${counter.roundTrips()} round trips, ${counter.statements()} statements`);
	});

	it("is 2 for a batch of 100 templated emails with per-recipient variables (templates are read with the suppressions)", async () => {
		const t = await seedTenant();
		const variables = [{ key: "NAME", type: "string" }];
		const welcome = await publishedTemplate(t, {
			alias: "welcome",
			from: `a@${t.domain}`,
			subject: "Hi {{NAME}}",
			html: "<p>{{NAME}}</p>",
			variables,
		});
		await publishedTemplate(t, { alias: "bye", from: `a@${t.domain}`, subject: "Bye {{NAME}}", html: "<p>{{NAME}}</p>", variables });
		const body = Array.from({ length: 100 }, (_, i) => ({
			to: `r${i}@example.org`,
			template: { id: i % 2 === 0 ? welcome : "bye", variables: { NAME: `Reader ${i}` } },
		}));
		const counter = countD1();
		const res = await call<{ data: unknown[] }>("POST", "/emails/batch", { key: t.key, body, headers: { "Idempotency-Key": "rt-tpl" } });
		expect(res.body.data).toHaveLength(100);
		expect(counter.roundTrips()).toBe(2);
		console.log(`templated batch of 100: ${counter.roundTrips()} round trips, ${counter.statements()} statements`);
	});

	it("is 2 for an idempotent replay (the write aborted by the key's guard, then the key read)", async () => {
		const t = await seedTenant();
		await call("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "again" } });
		const counter = countD1();
		const replay = await call("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "again" } });
		expect(replay.headers.get("idempotent-replayed")).toBe("true");
		expect(counter.roundTrips()).toBe(2);
	});
});
