/**
 * End to end: a real `wrangler dev` with its own fresh local state, driven by the official `resend` SDK with
 * only the base URL changed (docs/architecture.md, "Local run and tests"). Each test asserts what an SDK user sees.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Resend } from "resend";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, ensureDevTenant, findFreePort, startDevServer } from "../../scripts/lib/dev-server.mjs";

const FROM = "Acme <hello@example.com>";
const TO = "delivered@example.org";

let server: DevServer | undefined;
let stateDir: string | undefined;
let url: string;
let apiKey: string;
let resend: Resend;

beforeAll(async () => {
	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-e2e-"));
	const adminToken = randomBytes(32).toString("hex");
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: { ADMIN_TOKEN: adminToken, ALLOW_HTTP_WEBHOOKS: "true" },
	});
	url = server.url;
	const tenant = await ensureDevTenant({ url, adminToken, stateFile: path.join(stateDir, "dev-tenant.json") });
	apiKey = tenant.token;
	resend = new Resend(apiKey, { baseUrl: url });
});

afterAll(async () => {
	await server?.stop();
	if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** A unique subject per call, so assertions never match another test's email. */
function subject(label: string): string {
	return `${label} ${randomUUID()}`;
}

/** `data` of a successful SDK call; fails the test with the error otherwise. */
function ok<T>(result: { data: T | null; error: unknown }): T {
	expect(result.error).toBeNull();
	expect(result.data).not.toBeNull();
	return result.data as T;
}

describe("resend SDK against wrangler dev", () => {
	it("sends an email and retrieves it", async () => {
		const subj = subject("Hello");
		const sent = await resend.emails.send({ from: FROM, to: TO, subject: subj, text: "Hello from the SDK" });
		expect(sent.error).toBeNull();
		expect(sent.data).toEqual({ id: expect.any(String) });
		const id = ok(sent).id;

		const email = ok(await resend.emails.get(id));
		expect(email).toMatchObject({ object: "email", id, from: FROM, to: [TO], subject: subj, text: "Hello from the SDK" });
		// The live queue consumer may already have sent it (sandbox provider).
		expect(["queued", "sent", "delivered"]).toContain(email.last_event);
		expect(email.scheduled_at).toBeNull();
		expect(Number.isNaN(Date.parse(email.created_at))).toBe(false);
	});

	it("sends a batch whose emails are each retrievable", async () => {
		const subjects = [subject("Batch one"), subject("Batch two")];
		const batch = ok(
			await resend.batch.send([
				{ from: FROM, to: TO, subject: subjects[0] as string, text: "first" },
				{ from: FROM, to: ["a@example.org", "b@example.org"], subject: subjects[1] as string, html: "<p>second</p>" },
			]),
		);
		expect(batch.data).toHaveLength(2);
		const ids = batch.data.map((d) => d.id);
		expect(new Set(ids).size).toBe(2);

		const first = ok(await resend.emails.get(ids[0] as string));
		expect(first).toMatchObject({ object: "email", subject: subjects[0], to: [TO] });
		const second = ok(await resend.emails.get(ids[1] as string));
		expect(second).toMatchObject({ object: "email", subject: subjects[1], to: ["a@example.org", "b@example.org"], html: "<p>second</p>" });
	});

	it("lists emails newest first and pages with `after` without repeats", async () => {
		const mine: string[] = [];
		for (const label of ["List 1", "List 2", "List 3", "List 4"]) {
			mine.push(ok(await resend.emails.send({ from: FROM, to: TO, subject: subject(label), text: label })).id);
		}
		const newestFirst = [...mine].reverse();

		const first = ok(await resend.emails.list({ limit: 2 }));
		expect(first.object).toBe("list");
		expect(first.has_more).toBe(true);
		expect(first.data.map((e) => e.id)).toEqual(newestFirst.slice(0, 2));

		// Walk every page: the second holds our two older emails, any further ones other tests' emails.
		const seen = first.data.map((e) => e.id);
		const createdAt = first.data.map((e) => Date.parse(e.created_at));
		let page = first;
		while (page.has_more) {
			const cursor = page.data.at(-1)?.id as string;
			page = ok(await resend.emails.list({ limit: 2, after: cursor }));
			expect(page.object).toBe("list");
			expect(page.data.length).toBeGreaterThan(0);
			seen.push(...page.data.map((e) => e.id));
			createdAt.push(...page.data.map((e) => Date.parse(e.created_at)));
			expect(seen.length).toBeLessThan(100); // no endless paging
		}
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen.slice(0, 4)).toEqual(newestFirst);
		expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));
	});

	it("schedules, reschedules and cancels an email", async () => {
		const before = Date.now();
		const id = ok(await resend.emails.send({ from: FROM, to: TO, subject: subject("Later"), text: "later", scheduledAt: "in 2 hours" })).id;

		const scheduled = ok(await resend.emails.get(id));
		expect(scheduled.last_event).toBe("scheduled");
		const firstAt = Date.parse(scheduled.scheduled_at as string);
		expect(firstAt).toBeGreaterThanOrEqual(before + 2 * 3600_000 - 60_000);
		expect(firstAt).toBeLessThanOrEqual(Date.now() + 2 * 3600_000 + 60_000);

		const newAt = new Date(Date.now() + 3 * 3600_000);
		newAt.setUTCMilliseconds(0);
		const updated = ok(await resend.emails.update({ id, scheduledAt: newAt.toISOString() }));
		expect(updated).toEqual({ object: "email", id });
		const rescheduled = ok(await resend.emails.get(id));
		expect(rescheduled.last_event).toBe("scheduled");
		expect(Date.parse(rescheduled.scheduled_at as string)).toBe(newAt.getTime());

		const canceled = ok(await resend.emails.cancel(id));
		expect(canceled).toEqual({ object: "email", id });
		expect(ok(await resend.emails.get(id)).last_event).toBe("canceled");

		const late = await resend.emails.update({ id, scheduledAt: new Date(Date.now() + 4 * 3600_000).toISOString() });
		expect(late.data).toBeNull();
		expect(late.error).not.toBeNull();
		expect(late.error?.name).toEqual(expect.any(String));
		expect([409, 422]).toContain(late.error?.statusCode);
	});

	it("replays an idempotent send and rejects the same key with a different body", async () => {
		const idempotencyKey = `e2e-${randomUUID()}`;
		const payload = { from: FROM, to: TO, subject: subject("Once"), text: "only once" };

		const first = ok(await resend.emails.send(payload, { idempotencyKey })).id;
		const again = ok(await resend.emails.send(payload, { idempotencyKey })).id;
		expect(again).toBe(first);

		const changed = await resend.emails.send({ ...payload, subject: subject("Twice") }, { idempotencyKey });
		expect(changed.data).toBeNull();
		expect(changed.error?.name).toBe("invalid_idempotent_request");

		// The replay is marked in a header the SDK does not surface in `data`.
		const raw = await fetch(`${url}/emails`, {
			method: "POST",
			headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json", "Idempotency-Key": idempotencyKey },
			body: JSON.stringify(payload),
		});
		expect(raw.status).toBe(200);
		expect(raw.headers.get("idempotent-replayed")).toBe("true");
		expect(await raw.json()).toEqual({ id: first });
	});

	it("manages templates with resend.templates.* and sends with one", async () => {
		const alias = `order-${randomUUID().slice(0, 8)}`;
		const created = ok(
			await resend.templates
				.create({
					name: "Order confirmation",
					alias,
					from: FROM,
					subject: "Order {{ORDER_ID}} confirmed",
					html: '<h1>Thanks, {{NAME}}!</h1><p>Total: {{{PRICE}}} EUR. <a href="https://shop.example/o/{{ORDER_ID}}">Your order</a></p>',
					variables: [
						{ key: "NAME", type: "string", fallbackValue: "friend" },
						{ key: "ORDER_ID", type: "string" },
						{ key: "PRICE", type: "number", fallbackValue: 20 },
					],
				})
				.publish(),
		);
		expect(created).toEqual({ object: "template", id: expect.any(String) });
		const id = created.id;

		const template = ok(await resend.templates.get(alias));
		expect(template).toMatchObject({
			object: "template",
			id,
			alias,
			name: "Order confirmation",
			status: "published",
			has_unpublished_versions: false,
		});
		expect(template.variables?.map((v) => [v.key, v.type, v.fallback_value])).toEqual([
			["NAME", "string", "friend"],
			["ORDER_ID", "string", null],
			["PRICE", "number", 20],
		]);
		const publishedVersion = template.current_version_id;

		const sent = ok(await resend.emails.send({ to: TO, template: { id: alias, variables: { NAME: "<Ada>", ORDER_ID: "A-7" } } }));
		const email = ok(await resend.emails.get(sent.id));
		expect(email).toMatchObject({
			from: FROM,
			subject: "Order A-7 confirmed",
			html: '<h1>Thanks, &lt;Ada&gt;!</h1><p>Total: 20 EUR. <a href="https://shop.example/o/A-7">Your order</a></p>',
			text: "Thanks, <Ada>!\n\nTotal: 20 EUR. Your order (https://shop.example/o/A-7)",
		});
		expect(email).toMatchObject({ template_id: id, template_version_id: publishedVersion });

		// A draft edit does not change what is sent until it is published.
		expect(ok(await resend.templates.update(id, { subject: "Your order {{ORDER_ID}}" }))).toEqual({ object: "template", id });
		expect(ok(await resend.templates.get(id)).has_unpublished_versions).toBe(true);
		const stillOld = ok(await resend.emails.send({ to: TO, template: { id, variables: { ORDER_ID: "A-8" } } }));
		expect(ok(await resend.emails.get(stillOld.id)).subject).toBe("Order A-8 confirmed");
		expect(ok(await resend.templates.publish(id))).toEqual({ object: "template", id });
		const batch = ok(
			await resend.batch.send([
				{ to: TO, template: { id, variables: { ORDER_ID: "B-1" } } },
				{ to: TO, template: { id: alias, variables: { ORDER_ID: "B-2", NAME: "Bo" } } },
			]),
		);
		const subjects = await Promise.all(batch.data.map(async (d) => ok(await resend.emails.get(d.id)).subject));
		expect(subjects).toEqual(["Your order B-1", "Your order B-2"]);

		const missing = await resend.emails.send({ to: TO, template: { id, variables: {} } });
		expect(missing.error).toMatchObject({ statusCode: 422, name: "validation_error", message: expect.stringContaining("ORDER_ID") });

		const copy = ok(await resend.templates.duplicate(id));
		const list = ok(await resend.templates.list({ limit: 100 }));
		expect(list.object).toBe("list");
		expect(list.data.map((t) => t.id)).toEqual(expect.arrayContaining([id, copy.id]));
		expect(list.data.find((t) => t.id === copy.id)).toMatchObject({ name: "Order confirmation (copy)", status: "draft", alias: null });

		expect(ok(await resend.templates.remove(copy.id))).toEqual({ object: "template", id: copy.id, deleted: true });
		const gone = await resend.templates.get(copy.id);
		expect(gone.error).toMatchObject({ statusCode: 404, name: "not_found" });
		const draftOnly = await resend.emails.send({
			from: FROM,
			to: TO,
			subject: "x",
			template: { id: ok(await resend.templates.create({ name: "Draft", html: "<p/>" })).id },
		});
		expect(draftOnly.error).toMatchObject({ statusCode: 422, message: expect.stringContaining("no published version") });
	});

	it("rejects a from address outside the tenant's domains", async () => {
		const result = await resend.emails.send({ from: "Mallory <mallory@evil.example>", to: TO, subject: subject("Spoof"), text: "no" });
		expect(result.data).toBeNull();
		expect(result.error).toMatchObject({ name: "invalid_from_address", statusCode: 422, message: expect.any(String) });
	});

	it("rejects an invalid API key", async () => {
		const stranger = new Resend(`mr_${randomBytes(32).toString("base64url")}`, { baseUrl: url });
		const result = await stranger.emails.send({ from: FROM, to: TO, subject: subject("Who"), text: "?" });
		expect(result.data).toBeNull();
		expect(result.error).toMatchObject({ name: "invalid_api_key", statusCode: 403, message: expect.any(String) });
	});
});
