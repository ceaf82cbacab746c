/**
 * Conformance with Resend's published API: the official `resend` SDK drives a real `wrangler dev` through Prism run as
 * a validating proxy with Resend's OpenAPI document (test/specs/resend.openapi.yaml). Prism checks every request the SDK
 * sends and every answer Mailroom gives, and reports what does not match in the `sl-violations` header, which the SDK
 * hands back with each result; a call fails the test on any violation not in the allow-list (resend-spec-gaps.ts).
 *
 * Prism runs without `--errors`: with it, Prism answers a request it finds invalid itself and replaces an answer with
 * an error-level violation by its own 500, so an allowed gap (an email's `html: null`) would fail the SDK call and the
 * test could not see Mailroom's real answer. Reading `sl-violations` catches every violation, warnings included.
 *
 * The calls run in order as a new tenant would make them (the README's walkthrough): an API key, a domain added and
 * verified over DNS (a local DNS-over-HTTPS server stands in for Cloudflare's), a first send, then every other call
 * Mailroom implements, with their error cases, and the resources it does not offer.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Resend } from "resend";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, findFreePort, PROJECT_ROOT, startDevServer } from "../../scripts/lib/dev-server.mjs";
import { type Prism, startPrism, stopPrism } from "../helpers/prism-setup";
import { SPEC_GAPS, type SpecGap } from "./resend-spec-gaps";

type Violation = { location: string[]; severity: string; code?: string | number; message: string };
type SdkResult<T> = {
	data: T | null;
	error: { name: string; message: string; statusCode: number | null } | null;
	headers?: Record<string, string> | null;
};

let server: DevServer | undefined;
let prism: Prism | undefined;
let doh: Server | undefined;
let receiver: Server | undefined;
let stateDir: string | undefined;
let adminToken: string;
let workerUrl: string;
let resend: Resend;

/** TXT records the fake resolver publishes, by name. */
const published = new Map<string, string[]>();
/** Webhook deliveries the receiver got: headers and raw body. */
const received: { headers: Record<string, string>; body: string }[] = [];

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
	return new Promise((resolve) => {
		const s = createServer(handler);
		s.listen(0, "127.0.0.1", () => resolve({ server: s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` }));
	});
}

beforeAll(async () => {
	const resolver = await listen((req, res) => {
		const url = new URL(req.url ?? "/", "http://doh");
		const name = url.searchParams.get("name") ?? "";
		const texts = published.get(name);
		res.setHeader("content-type", "application/dns-json");
		res.end(
			JSON.stringify(
				texts
					? { Status: 0, Answer: texts.map((t) => ({ name, type: 16, TTL: 60, data: JSON.stringify(t) })) }
					: { Status: 3, Question: [{ name, type: 16 }] },
			),
		);
	});
	doh = resolver.server;
	const hooks = await listen((req, res) => {
		let body = "";
		req.on("data", (chunk) => (body += chunk));
		req.on("end", () => {
			received.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body });
			res.end("ok");
		});
	});
	receiver = hooks.server;

	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-conformance-"));
	adminToken = randomBytes(32).toString("hex");
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: { ADMIN_TOKEN: adminToken, ALLOW_HTTP_WEBHOOKS: "true", DNS_RESOLVER_URL: `${resolver.url}/dns-query` },
	});
	workerUrl = server.url;
	prism = await startPrism(["proxy"], path.join(PROJECT_ROOT, "test", "specs", "resend.openapi.yaml"), [workerUrl]);
	receiverUrl = `${hooks.url}/hooks`;
});

let receiverUrl: string;

afterAll(async () => {
	if (prism) await stopPrism(prism);
	await server?.stop();
	await Promise.all([doh, receiver].map((s) => new Promise((resolve) => (s ? s.close(resolve) : resolve(undefined)))));
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** Allow-list entries some call needed: one never needed is stale and fails the last test. */
const used = new Set<SpecGap>();

/** Prism's violations of one call that the allow-list does not explain. */
function unexplained(operation: string, result: SdkResult<unknown>): string[] {
	const header = result.headers?.["sl-violations"];
	if (!header) return [];
	const violations = JSON.parse(header) as Violation[];
	return violations
		.filter((v) => {
			const location = v.location.map((part) => (/^\d+$/.test(part) ? "[]" : part)).join(".");
			const gap = SPEC_GAPS.find(
				(g) =>
					(g.operation === "*" || g.operation === operation) &&
					(g.location === "*" || g.location === location) &&
					v.message.includes(g.message),
			);
			if (gap) used.add(gap);
			return gap === undefined;
		})
		.map((v) => `${operation}: ${v.severity} at ${v.location.join(".")}: ${v.message}`);
}

/** Runs one SDK call through Prism: no unexplained violation, and the data of a success. */
async function conform<T>(operation: string, call: PromiseLike<SdkResult<T>>): Promise<T> {
	const result = await call;
	expect(unexplained(operation, result)).toEqual([]);
	expect(result.error).toBeNull();
	return result.data as T;
}

/** Runs one SDK call expected to fail: no unexplained violation, and Mailroom's error in Resend's shape. */
async function refuse(operation: string, call: PromiseLike<SdkResult<unknown>>, statusCode: number, name: string): Promise<string> {
	const result = await call;
	expect(unexplained(operation, result)).toEqual([]);
	expect(result.data).toBeNull();
	expect(result.error).toMatchObject({ statusCode, name, message: expect.any(String) });
	return result.error?.message ?? "";
}

const state: { domainId: string; domain: string; emailId: string; keyId: string; webhookId: string; secret: string } = {
	domainId: "",
	domain: `mail-${randomUUID().slice(0, 8)}.example.com`,
	emailId: "",
	keyId: "",
	webhookId: "",
	secret: "",
};

describe("the resend SDK through Prism with Resend's spec", () => {
	it("walks a new tenant from API key to verified domain to first send", async () => {
		const tenant = await fetch(`${workerUrl}/admin/tenants`, {
			method: "POST",
			headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
			// The operator's defaults allow 10 requests per second; this test makes its calls back to back.
			body: JSON.stringify({ name: "Conformance", api_rate: { per_second: 1000, burst: 1000 } }),
		}).then((r) => r.json() as Promise<{ id: string }>);
		const key = await fetch(`${workerUrl}/admin/tenants/${tenant.id}/api-keys`, {
			method: "POST",
			headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
			body: JSON.stringify({ name: "first" }),
		}).then((r) => r.json() as Promise<{ token: string }>);
		resend = new Resend(key.token, { baseUrl: prism?.url ?? "" });

		const from = `Acme <hello@${state.domain}>`;
		const message = await refuse(
			"POST /emails",
			resend.emails.send({ from, to: "delivered@example.org", subject: "Too early", text: "x" }),
			422,
			"invalid_from_address",
		);
		expect(message).toContain(`The ${state.domain} domain is not verified`);

		const created = await conform("POST /domains", resend.domains.create({ name: state.domain }));
		expect(created).toMatchObject({ name: state.domain, status: "not_started" });
		state.domainId = created.id;
		const ownership = created.records.find((r) => (r.record as string) === "Verification");
		expect(ownership).toMatchObject({ type: "TXT", name: state.domain });
		published.set(state.domain, ["v=spf1 -all", ownership?.value ?? ""]);

		expect(await conform("POST /domains/{domain_id}/verify", resend.domains.verify(state.domainId))).toMatchObject({
			object: "domain",
			id: state.domainId,
		});
		expect((await conform("GET /domains/{domain_id}", resend.domains.get(state.domainId))).status).toBe("verified");

		const sent = await conform("POST /emails", resend.emails.send({ from, to: "delivered@example.org", subject: "Hello", text: "Hi" }));
		state.emailId = sent.id;
		expect(await conform("GET /emails/{email_id}", resend.emails.get(sent.id))).toMatchObject({ id: sent.id, from, subject: "Hello" });
	});

	it("manages domains", async () => {
		const list = await conform("GET /domains", resend.domains.list());
		expect(list.data.map((d) => d.id)).toEqual([state.domainId]);
		expect(await conform("PATCH /domains/{domain_id}", resend.domains.update({ id: state.domainId, openTracking: true }))).toEqual({
			object: "domain",
			id: state.domainId,
		});
		const pending = await conform("POST /domains", resend.domains.create({ name: `other-${state.domain}` }));
		const verify = await conform("POST /domains/{domain_id}/verify", resend.domains.verify(pending.id));
		expect(verify).toMatchObject({ status: "pending" });
		expect(await conform("DELETE /domains/{domain_id}", resend.domains.remove(pending.id))).toEqual({
			object: "domain",
			id: pending.id,
			deleted: true,
		});
		await refuse("GET /domains/{domain_id}", resend.domains.get(pending.id), 404, "not_found");
		await refuse("POST /domains", resend.domains.create({ name: "co.uk" }), 422, "validation_error");
		await refuse("POST /domains/claim", resend.domains.claims.create({ name: state.domain }), 404, "feature_not_offered");
	});

	it("sends, lists, schedules and cancels emails, with batches and templates", async () => {
		const from = `Acme <hello@${state.domain}>`;
		const batch = await conform(
			"POST /emails/batch",
			resend.batch.send([
				{ from, to: "a@example.org", subject: "One", text: "1" },
				{ from, to: "b@example.org", subject: "Two", html: "<p>2</p>" },
			]),
		);
		expect(batch.data).toHaveLength(2);
		expect(await conform("GET /emails/{email_id}", resend.emails.get(batch.data[1]?.id ?? ""))).toMatchObject({
			html: "<p>2</p>",
			text: null,
		});
		const list = await conform("GET /emails", resend.emails.list({ limit: 5 }));
		expect(list.data.length).toBeGreaterThanOrEqual(3);
		const later = await conform(
			"POST /emails",
			resend.emails.send({ from, to: "c@example.org", subject: "Later", text: "3", scheduledAt: "in 1 hour" }),
		);
		await conform(
			"PATCH /emails/{email_id}",
			resend.emails.update({ id: later.id, scheduledAt: new Date(Date.now() + 7_200_000).toISOString() }),
		);
		await conform("POST /emails/{email_id}/cancel", resend.emails.cancel(later.id));
		await refuse("POST /emails/{email_id}/cancel", resend.emails.cancel(later.id), 409, "invalid_state");
		await refuse("GET /emails/{email_id}", resend.emails.get(randomUUID()), 404, "not_found");

		const template = await conform(
			"POST /templates",
			resend.templates.create({
				name: "Welcome",
				from,
				subject: "Hi {{NAME}}",
				html: "<p>Hi {{NAME}}</p>",
				variables: [{ key: "NAME", type: "string" }],
			}),
		);
		await conform("POST /templates/{id}/publish", resend.templates.publish(template.id));
		await conform("GET /templates/{id}", resend.templates.get(template.id));
		await conform("GET /templates", resend.templates.list());
		await conform("PATCH /templates/{id}", resend.templates.update(template.id, { subject: "Hello {{NAME}}" }));
		const copy = await conform("POST /templates/{id}/duplicate", resend.templates.duplicate(template.id));
		await conform("DELETE /templates/{id}", resend.templates.remove(copy.id));
		const templated = await conform(
			"POST /emails",
			resend.emails.send({ to: "d@example.org", template: { id: template.id, variables: { NAME: "Ada" } } }),
		);
		expect((await conform("GET /emails/{email_id}", resend.emails.get(templated.id))).subject).toBe("Hi Ada");
		await conform(
			"POST /emails/batch",
			resend.batch.send([{ to: "e@example.org", template: { id: template.id, variables: { NAME: "Bo" } } }]),
		);
	});

	it("lists attachments with download links and reads metrics", async () => {
		const sent = await conform(
			"POST /emails",
			resend.emails.send({
				from: `hello@${state.domain}`,
				to: "delivered@example.org",
				subject: "Files",
				text: "attached",
				attachments: [{ filename: "note.txt", content: Buffer.from("a note").toString("base64") }],
			}),
		);
		const list = await conform("GET /emails/{email_id}/attachments", resend.emails.attachments.list({ emailId: sent.id }));
		expect(list.data).toHaveLength(1);
		const one = await conform(
			"GET /emails/{email_id}/attachments/{attachment_id}",
			resend.emails.attachments.get({ emailId: sent.id, id: list.data[0]?.id ?? "" }),
		);
		const bytes = await fetch(one.download_url);
		expect(await bytes.text()).toBe("a note");
		await refuse(
			"GET /emails/{email_id}/attachments/{attachment_id}",
			resend.emails.attachments.get({ emailId: sent.id, id: randomUUID() }),
			404,
			"not_found",
		);

		const metrics = await conform("GET /emails/metrics", resend.emails.metrics());
		expect(metrics).toMatchObject({ object: "metrics", granularity: "daily" });
		const daily = await conform("GET /emails/metrics", resend.emails.metrics({ dimensions: ["period"], metrics: ["sent", "delivered"] }));
		expect(daily.data?.length).toBe(7);
		await refuse("GET /emails/metrics", resend.emails.metrics({ dimensions: ["broadcast"] }), 422, "invalid_parameter");
		await refuse("GET /emails/receiving", resend.emails.receiving.list(), 404, "feature_not_offered");
	});

	it("manages API keys, including one restricted to the domain", async () => {
		const created = await conform("POST /api-keys", resend.apiKeys.create({ name: "ci" }));
		state.keyId = created.id;
		const list = await conform("GET /api-keys", resend.apiKeys.list());
		expect(list.data.map((k) => k.name).sort()).toEqual(["ci", "first"]);
		expect(await conform("PATCH /api-keys/{api_key_id}", resend.apiKeys.update(created.id, { name: "deploy" }))).toEqual({
			object: "api_key",
			id: created.id,
		});
		await refuse("PATCH /api-keys/{api_key_id}", resend.apiKeys.update(randomUUID(), { name: "x" }), 404, "not_found");

		const restricted = await conform(
			"POST /api-keys",
			resend.apiKeys.create({ name: "newsletter", permission: "sending_access", domain_id: state.domainId }),
		);
		const sender = new Resend(restricted.token, { baseUrl: prism?.url ?? "" });
		await conform(
			"POST /emails",
			sender.emails.send({ from: `n@news.${state.domain}`, to: "delivered@example.org", subject: "N", text: "n" }),
		);
		await refuse(
			"POST /emails",
			sender.emails.send({ from: "n@elsewhere.example.org", to: "delivered@example.org", subject: "N", text: "n" }),
			422,
			"invalid_from_address",
		);
		await refuse("GET /api-keys", sender.apiKeys.list(), 401, "restricted_api_key");
		expect(await conform("DELETE /api-keys/{api_key_id}", resend.apiKeys.remove(created.id))).toMatchObject({ deleted: true });
		const stranger = new Resend(`mr_${randomBytes(32).toString("base64url")}`, { baseUrl: prism?.url ?? "" });
		await refuse("GET /domains", stranger.domains.list(), 403, "invalid_api_key");
	});

	it("manages webhooks: update, rotation with both signatures, events and replay", async () => {
		const created = await conform(
			"POST /webhooks",
			resend.webhooks.create({ endpoint: receiverUrl, events: ["email.sent", "email.delivered"] }),
		);
		state.webhookId = created.id;
		state.secret = created.signing_secret;
		expect((await conform("GET /webhooks/{webhook_id}", resend.webhooks.get(created.id))).status).toBe("enabled");
		expect((await conform("GET /webhooks", resend.webhooks.list())).data).toHaveLength(1);
		await conform(
			"PATCH /webhooks/{webhook_id}",
			resend.webhooks.update(created.id, { events: ["email.sent", "email.delivered", "email.bounced"] }),
		);
		await refuse(
			"PATCH /webhooks/{webhook_id}",
			resend.webhooks.update(created.id, { endpoint: "https://10.0.0.1/hook" }),
			422,
			"invalid_parameter",
		);

		const rotated = await conform("POST /webhooks/{id}/signing-secret/rotate", resend.webhooks.rotateSigningSecret(created.id));
		await refuse("POST /webhooks/{id}/signing-secret/rotate", resend.webhooks.rotateSigningSecret(created.id), 409, "invalid_state");
		await conform(
			"POST /emails",
			resend.emails.send({ from: `hello@${state.domain}`, to: "delivered@example.org", subject: "Hooked", text: "x" }),
		);
		await expect.poll(() => received.length, { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(2);
		for (const delivery of received) {
			expect(delivery.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
			for (const secret of [rotated.signing_secret, state.secret]) {
				expect(() => new Webhook(secret).verify(delivery.body, delivery.headers)).not.toThrow();
			}
		}

		const events = await conform("GET /webhooks/{id}/events", resend.webhooks.events.list({ webhookId: created.id }));
		expect(events.data.map((e) => e.status)).toContain("success");
		const first = events.data[0]?.id ?? "";
		const event = await conform(
			"GET /webhooks/{id}/events/{event_id}",
			resend.webhooks.events.get({ webhookId: created.id, eventId: first }),
		);
		expect(event).toMatchObject({ object: "webhook_event", id: first });
		const replay = await conform(
			"POST /webhooks/{id}/events/{event_id}/replay",
			resend.webhooks.events.replay({ webhookId: created.id, eventId: first }),
		);
		expect(replay.id).not.toBe(first);
		await refuse(
			"GET /webhooks/{id}/events/{event_id}",
			resend.webhooks.events.get({ webhookId: created.id, eventId: "msg_nope" }),
			404,
			"not_found",
		);
		expect(await conform("DELETE /webhooks/{webhook_id}", resend.webhooks.remove(created.id))).toMatchObject({ deleted: true });
		await refuse("GET /webhooks/{webhook_id}", resend.webhooks.get(created.id), 404, "not_found");
	});

	it("manages suppressions", async () => {
		expect(await conform("POST /suppressions", resend.suppressions.add({ email: "Gone@Example.org" }))).toMatchObject({
			object: "suppression",
			id: "gone@example.org",
		});
		expect(await conform("GET /suppressions/{suppression}", resend.suppressions.get("gone@example.org"))).toMatchObject({
			email: "gone@example.org",
			origin: "manual",
		});
		await refuse(
			"POST /emails",
			resend.emails.send({ from: `hello@${state.domain}`, to: "gone@example.org", subject: "x", text: "x" }),
			422,
			"validation_error",
		);
		const added = await conform(
			"POST /suppressions/batch/add",
			resend.suppressions.batch.add({ emails: ["a1@example.org", "a2@example.org"] }),
		);
		expect(added.data).toHaveLength(2);
		expect((await conform("GET /suppressions", resend.suppressions.list({ origin: "manual" }))).data).toHaveLength(3);
		const removed = await conform("POST /suppressions/batch/remove", resend.suppressions.batch.remove({ emails: ["a1@example.org"] }));
		expect(removed.data).toEqual([{ object: "suppression", id: "a1@example.org", deleted: true }]);
		await conform("DELETE /suppressions/{suppression}", resend.suppressions.remove("gone@example.org"));
		await refuse("GET /suppressions/{suppression}", resend.suppressions.get("gone@example.org"), 404, "not_found");
	});

	it("reports usage", async () => {
		const usage = await conform("GET /usage", resend.usage.get());
		expect(usage.object).toBe("usage");
		expect(usage.emails.daily.used).toBeGreaterThan(5);
		expect(usage.domains.used).toBe(1);
	});

	it.each([
		["GET /contacts", () => resend.contacts.list()],
		["GET /segments", () => resend.segments.list()],
		["GET /broadcasts", () => resend.broadcasts.list()],
		["GET /topics", () => resend.topics.list()],
		["GET /automations", () => resend.automations.list()],
		["GET /logs", () => resend.logs.list()],
	])("answers %s with feature_not_offered", async (operation, call) => {
		await refuse(operation, call(), 404, "feature_not_offered");
	});

	it("needed every entry of the allow-list (none is stale)", () => {
		expect(SPEC_GAPS.filter((gap) => !used.has(gap)).map((gap) => `${gap.operation} ${gap.location}: ${gap.message}`)).toEqual([]);
	});
});
