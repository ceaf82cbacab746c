import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, counts, type Seeded, seedTenant } from "../helpers/api";
import { consume, depsWith } from "../helpers/send";
import { createTemplate, publishedTemplate, publishTemplate } from "../helpers/templates";

type ErrorBody = { statusCode: number; name: string; message: string };
type EmailBody = {
	id: string;
	from: string;
	subject: string;
	html: string | null;
	text: string | null;
	reply_to: string[];
	template_id: string | null;
	template_version_id: string | null;
};
type BatchBody = { data: { id: string }[]; errors?: { index: number; message: string }[] };

afterEach(() => vi.restoreAllMocks());
/** Accepted emails stay queued, in either lane (a batch of 100 is bulk): these tests look at what was accepted. */
beforeEach(() => {
	for (const queue of [env.SEND_QUEUE, env.SEND_BULK_QUEUE]) {
		vi.spyOn(queue, "send").mockResolvedValue(undefined as never);
		vi.spyOn(queue, "sendBatch").mockResolvedValue(undefined as never);
	}
});

function order(t: Seeded, overrides: Record<string, unknown> = {}) {
	return {
		alias: "order",
		from: `Shop <orders@${t.domain}>`,
		subject: "Order {{ORDER_ID}} confirmed",
		reply_to: [`help@${t.domain}`],
		html: '<h1>Thanks, {{NAME}}!</h1><p>Order {{ORDER_ID}}: {{TOTAL}} EUR. <a href="{{URL}}">Track it</a></p>',
		variables: [
			{ key: "NAME", type: "string", fallback_value: "friend" },
			{ key: "ORDER_ID", type: "string" },
			{ key: "TOTAL", type: "number" },
			{ key: "URL", type: "string", fallback_value: "https://shop.example/track" },
		],
		...overrides,
	};
}

async function send(t: Seeded, body: Record<string, unknown>) {
	return call<{ id: string } & ErrorBody>("POST", "/emails", { key: t.key, body: { to: "user@example.org", ...body } });
}

async function getEmail(t: Seeded, id: string) {
	return (await call<EmailBody>("GET", `/emails/${id}`, { key: t.key })).body;
}

describe("POST /emails with a template", () => {
	it("renders the published version and records the template and version on the email", async () => {
		const t = await seedTenant();
		const id = await publishedTemplate(t, order(t));
		const version = (await call<{ current_version_id: string }>("GET", `/templates/${id}`, { key: t.key })).body.current_version_id;
		const res = await send(t, { template: { id: "order", variables: { NAME: "Ada", ORDER_ID: "A-1", TOTAL: 42.5 } } });
		expect(res.status).toBe(200);
		const email = await getEmail(t, res.body.id);
		expect(email).toMatchObject({
			from: `Shop <orders@${t.domain}>`,
			subject: "Order A-1 confirmed",
			reply_to: [`help@${t.domain}`],
			html: '<h1>Thanks, Ada!</h1><p>Order A-1: 42.5 EUR. <a href="https://shop.example/track">Track it</a></p>',
			text: "Thanks, Ada!\n\nOrder A-1: 42.5 EUR. Track it (https://shop.example/track)",
			template_id: id,
			template_version_id: version,
		});
	});

	it("escapes a <script> value in the html and keeps it readable in the text", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, order(t));
		const res = await send(t, { template: { id: "order", variables: { NAME: "<script>alert(1)</script>", ORDER_ID: "A-2", TOTAL: 1 } } });
		const email = await getEmail(t, res.body.id);
		expect(email.html).toContain("Thanks, &lt;script&gt;alert(1)&lt;/script&gt;!");
		expect(email.html).not.toContain("<script>");
		expect(email.text).toContain("Thanks, <script>alert(1)</script>!");
	});

	it("lets the request's from, subject and reply_to win over the template's", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, order(t));
		const res = await send(t, {
			from: `Other <other@${t.domain}>`,
			subject: "Literal {{ORDER_ID}}",
			reply_to: `me@${t.domain}`,
			template: { id: "order", variables: { ORDER_ID: "A-3", TOTAL: 2 } },
		});
		expect(await getEmail(t, res.body.id)).toMatchObject({
			from: `Other <other@${t.domain}>`,
			subject: "Literal {{ORDER_ID}}",
			reply_to: [`me@${t.domain}`],
		});
	});

	it("keeps sending the published version after a draft edit, and the new one after the next publish", async () => {
		const t = await seedTenant();
		const id = await publishedTemplate(t, order(t));
		const vars = { template: { id, variables: { ORDER_ID: "A-4", TOTAL: 3 } } };
		const first = await getEmail(t, (await send(t, vars)).body.id);
		await call("PATCH", `/templates/${id}`, { key: t.key, body: { subject: "CHANGED {{ORDER_ID}}", html: "<p>v2 {{ORDER_ID}}</p>" } });
		const whileDraft = await getEmail(t, (await send(t, vars)).body.id);
		expect(whileDraft).toMatchObject({ subject: "Order A-4 confirmed", html: first.html, template_version_id: first.template_version_id });
		await publishTemplate(t, id);
		const after = await getEmail(t, (await send(t, vars)).body.id);
		expect(after).toMatchObject({ subject: "CHANGED A-4", html: "<p>v2 A-4</p>" });
		expect(after.template_version_id).not.toBe(first.template_version_id);
	});

	it("takes from and subject from the template when the request has none, and needs them when neither has", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, { alias: "bare", html: "<p>hi</p>" });
		const noFrom = await send(t, { subject: "s", template: { id: "bare" } });
		expect(noFrom.status).toBe(422);
		expect(noFrom.body).toMatchObject({ name: "missing_required_field", message: "Missing `from` field: the template has no from" });
		const noSubject = await send(t, { from: `a@${t.domain}`, template: { id: "bare" } });
		expect(noSubject.body).toMatchObject({
			name: "missing_required_field",
			message: "Missing `subject` field: the template has no subject",
		});
		expect((await send(t, { from: `a@${t.domain}`, subject: "s", template: { id: "bare" } })).status).toBe(200);
	});

	it("still requires from and subject without a template", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: { to: "u@example.org", subject: "s", text: "x" } });
		expect(res.status).toBe(422);
		expect(res.body).toMatchObject({ name: "missing_required_field", message: "Missing `from` field." });
	});

	it("checks the template's from against the tenant's domains at send time", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, order(t, { from: "Shop <orders@elsewhere.example>" }));
		const res = await send(t, { template: { id: "order", variables: { ORDER_ID: "A-5", TOTAL: 4 } } });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_from_address");
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	const refusals: [string, (t: Seeded) => Record<string, unknown>, number, string, RegExp][] = [
		["an unknown template id", () => ({ template: { id: crypto.randomUUID() } }), 422, "validation_error", /^Template ".+" not found$/],
		["an unknown alias", () => ({ template: { id: "nope" } }), 422, "validation_error", /^Template "nope" not found$/],
		[
			"html with a template",
			() => ({ html: "<p/>", template: { id: "order" } }),
			422,
			"validation_error",
			/html and text cannot be combined with template/,
		],
		[
			"variables that are not an object",
			() => ({ template: { id: "order", variables: ["A-1"] } }),
			422,
			"validation_error",
			/template\.variables/,
		],
		[
			"an object as a value",
			() => ({ template: { id: "order", variables: { ORDER_ID: { nested: { deeper: 1 } }, TOTAL: 1 } } }),
			422,
			"validation_error",
			/template\.variables\.ORDER_ID.*must be a string or a number, not an object/,
		],
		[
			"a huge value",
			() => ({ template: { id: "order", variables: { ORDER_ID: "x".repeat(20_001), TOTAL: 1 } } }),
			422,
			"validation_error",
			/template\.variables\.ORDER_ID.*20001 characters; the limit is 20000/,
		],
		[
			"more than 100 variables",
			() => ({ template: { id: "order", variables: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, i])) } }),
			422,
			"validation_error",
			/At most 100 variables per email/,
		],
		[
			"a missing variable without fallback",
			() => ({ template: { id: "order", variables: { TOTAL: 1 } } }),
			422,
			"validation_error",
			/^Missing template variable ORDER_ID: give a value/,
		],
		[
			"a value of the wrong declared type",
			() => ({ template: { id: "order", variables: { ORDER_ID: "A-1", TOTAL: "12" } } }),
			422,
			"validation_error",
			/^Template variable TOTAL must be a number/,
		],
		[
			"a line break in a value used in the subject",
			() => ({ template: { id: "order", variables: { ORDER_ID: "A\r\nBcc: x@example.org", TOTAL: 1 } } }),
			422,
			"validation_error",
			/ORDER_ID is used in the subject, from or reply_to and may not contain control characters or line breaks/,
		],
	];

	it.each(refusals)("refuses %s and writes nothing", async (_label, build, status, name, message) => {
		const t = await seedTenant();
		await publishedTemplate(t, order(t));
		const res = await send(t, build(t));
		expect(res.status).toBe(status);
		expect(res.body.name).toBe(name);
		expect(res.body.message).toMatch(message);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("refuses an email whose rendering would exceed the body limit, before rendering it", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, { alias: "big", from: `a@${t.domain}`, subject: "s", html: "<p>{{{CHUNK}}}</p>".repeat(100) });
		const res = await send(t, { template: { id: "big", variables: { CHUNK: "x".repeat(20_000) } } });
		expect(res.status).toBe(422);
		expect(res.body.message).toMatch(/^The rendered html and text would be \d+ bytes; the limit is 1500000$/);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("refuses a template that is only a draft, and releases the idempotency key", async () => {
		const t = await seedTenant();
		await createTemplate(t, order(t));
		const res = await call<ErrorBody>("POST", "/emails", {
			key: t.key,
			headers: { "Idempotency-Key": "draft-send" },
			body: { to: "u@example.org", template: { id: "order", variables: { ORDER_ID: "1", TOTAL: 1 } } },
		});
		expect(res.status).toBe(422);
		expect(res.body.message).toBe('Template "order" has no published version: publish it before sending with it');
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("does not find another tenant's template, by id or alias", async () => {
		const owner = await seedTenant();
		const stranger = await seedTenant();
		const id = await publishedTemplate(owner, order(owner));
		for (const ref of [id, "order"]) {
			const res = await send(stranger, {
				from: `a@${stranger.domain}`,
				subject: "s",
				template: { id: ref, variables: { ORDER_ID: "1", TOTAL: 1 } },
			});
			expect(res.status).toBe(422);
			expect(res.body.message).toBe(`Template ${JSON.stringify(ref)} not found`);
		}
		expect((await counts(stranger.tenantId)).emails).toBe(0);
	});

	it("replays an idempotent templated send without rendering it again", async () => {
		const t = await seedTenant();
		const id = await publishedTemplate(t, order(t));
		const body = { to: "u@example.org", template: { id, variables: { ORDER_ID: "1", TOTAL: 1 } } };
		const first = await call<{ id: string }>("POST", "/emails", { key: t.key, headers: { "Idempotency-Key": "tpl" }, body });
		await call("DELETE", `/templates/${id}`, { key: t.key });
		const again = await call<{ id: string }>("POST", "/emails", { key: t.key, headers: { "Idempotency-Key": "tpl" }, body });
		expect(again.status).toBe(200);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect(again.body.id).toBe(first.body.id);
	});
});

describe("POST /emails/batch with templates", () => {
	it("renders 100 emails with per-recipient variables from two templates", async () => {
		const t = await seedTenant();
		const orderId = await publishedTemplate(t, order(t));
		await publishedTemplate(t, { alias: "note", from: `n@${t.domain}`, subject: "Note for {{NAME}}", html: "<p>{{NAME}}</p>" });
		const body = Array.from({ length: 100 }, (_, i) =>
			i % 2 === 0
				? { to: `u${i}@example.org`, template: { id: orderId, variables: { NAME: `User ${i}`, ORDER_ID: `B-${i}`, TOTAL: i } } }
				: { to: `u${i}@example.org`, template: { id: "note", variables: { NAME: `<Person ${i}>` } } },
		);
		const res = await call<BatchBody>("POST", "/emails/batch", { key: t.key, body });
		expect(res.status).toBe(200);
		expect(res.body.data).toHaveLength(100);
		const { results } = await env.DB.prepare("SELECT to_addresses, subject, html FROM emails WHERE tenant_id = ? ORDER BY id")
			.bind(t.tenantId)
			.all<{ to_addresses: string; subject: string; html: string }>();
		expect(results).toHaveLength(100);
		for (const row of results) {
			const i = Number(/u(\d+)@/.exec(row.to_addresses)?.[1]);
			if (i % 2 === 0) {
				expect(row.subject).toBe(`Order B-${i} confirmed`);
				expect(row.html).toContain(`Thanks, User ${i}!`);
			} else {
				expect(row.subject).toBe(`Note for <Person ${i}>`);
				expect(row.html).toBe(`<p>&lt;Person ${i}&gt;</p>`);
			}
		}
	});

	it("rejects the whole strict batch when one email's variables are missing, naming its index", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, order(t));
		const good = { to: "a@example.org", template: { id: "order", variables: { ORDER_ID: "1", TOTAL: 1 } } };
		const res = await call<ErrorBody>("POST", "/emails/batch", { key: t.key, body: [good, { ...good, template: { id: "order" } }] });
		expect(res.status).toBe(422);
		expect(res.body.message).toMatch(/^emails\[1\]: Missing template variables ORDER_ID, TOTAL/);
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	it("accepts the others in permissive mode and lists template errors by index", async () => {
		const t = await seedTenant();
		await publishedTemplate(t, order(t));
		const good = { to: "a@example.org", template: { id: "order", variables: { ORDER_ID: "1", TOTAL: 1 } } };
		const res = await call<BatchBody>("POST", "/emails/batch", {
			key: t.key,
			headers: { "x-batch-validation": "permissive" },
			body: [good, { ...good, template: { id: "missing" } }, good, { ...good, template: { id: "order", variables: { TOTAL: "x" } } }],
		});
		expect(res.status).toBe(200);
		expect(res.body.data).toHaveLength(2);
		expect(res.body.errors?.map((e) => e.index)).toEqual([1, 3]);
		expect((await counts(t.tenantId)).emails).toBe(2);
	});
});

describe("GET /analytics?template_id=", () => {
	it("counts a template's sends only", async () => {
		vi.restoreAllMocks();
		const t = await seedTenant({ providers: ["sandbox"] });
		const id = await publishedTemplate(t, order(t));
		const templated = [];
		for (const n of [1, 2]) {
			const res = await send(t, { to: `delivered${n}@example.org`, template: { id, variables: { ORDER_ID: `${n}`, TOTAL: n } } });
			templated.push(res.body.id);
		}
		const plain = await send(t, { from: `a@${t.domain}`, subject: "plain", text: "plain" });
		await consume(t, [...templated, plain.body.id], depsWith());
		const from = new Date(Date.now() - 86_400_000).toISOString();
		const to = new Date(Date.now() + 86_400_000).toISOString();
		const res = await call<{ data: { counts: Record<string, number> }[] }>("GET", `/analytics?from=${from}&to=${to}&template_id=${id}`, {
			key: t.key,
		});
		expect(res.status).toBe(200);
		const total = (type: string) => res.body.data.reduce((n, b) => n + (b.counts[type] ?? 0), 0);
		expect([total("queued"), total("sent"), total("delivered")]).toEqual([2, 2, 2]);
	});
});
