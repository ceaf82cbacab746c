import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, type Seeded, seedTenant } from "../helpers/api";
import { createTemplate, publishTemplate, templateCounts } from "../helpers/templates";

type ErrorBody = { statusCode: number; name: string; message: string };
type TemplateBody = {
	object: string;
	id: string;
	current_version_id: string;
	name: string;
	alias: string | null;
	from: string | null;
	subject: string | null;
	reply_to: string[] | null;
	html: string;
	text: string | null;
	variables: { id: string; key: string; type: string; fallback_value: string | number | null; created_at: string; updated_at: string }[];
	status: string;
	published_at: string | null;
	has_unpublished_versions: boolean;
	created_at: string;
	updated_at: string;
};
type ListBody = { object: string; has_more: boolean; data: { id: string; name: string; status: string; alias: string | null }[] };
type VersionList = { object: string; has_more: boolean; data: { id: string; number: number; html: string; published_at: string }[] };

const welcome = {
	name: "Welcome",
	alias: "welcome",
	from: "Acme <hello@example.com>",
	subject: "Welcome, {{NAME}}",
	reply_to: "help@example.com",
	html: "<p>Hi {{NAME}}, you have {{CREDITS}} credits</p>",
	variables: [
		{ key: "NAME", type: "string", fallback_value: "there" },
		{ key: "CREDITS", type: "number" },
	],
};

async function get(t: Seeded, idOrAlias: string) {
	return call<TemplateBody>("GET", `/templates/${idOrAlias}`, { key: t.key });
}

describe("POST /templates", () => {
	it("creates a draft (201) retrievable in Resend's Template shape", async () => {
		const t = await seedTenant();
		const res = await call<{ object: string; id: string }>("POST", "/templates", { key: t.key, body: welcome });
		expect(res.status).toBe(201);
		expect(res.body).toEqual({ object: "template", id: expect.any(String) });
		const got = await get(t, res.body.id);
		expect(got.status).toBe(200);
		expect(got.body).toMatchObject({
			object: "template",
			id: res.body.id,
			current_version_id: expect.any(String),
			name: "Welcome",
			alias: "welcome",
			from: "Acme <hello@example.com>",
			subject: "Welcome, {{NAME}}",
			reply_to: ["help@example.com"],
			html: welcome.html,
			text: null,
			status: "draft",
			published_at: null,
			has_unpublished_versions: true,
		});
		expect(got.body.variables).toEqual([
			{
				id: expect.any(String),
				key: "NAME",
				type: "string",
				fallback_value: "there",
				created_at: expect.any(String),
				updated_at: expect.any(String),
			},
			{
				id: expect.any(String),
				key: "CREDITS",
				type: "number",
				fallback_value: null,
				created_at: expect.any(String),
				updated_at: expect.any(String),
			},
		]);
	});

	it("refuses malformed variable syntax with its position and writes nothing", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/templates", { key: t.key, body: { name: "x", html: "<p>\n  Hi {{NAME</p>" } });
		expect(res.status).toBe(422);
		expect(res.body).toEqual({ statusCode: 422, name: "validation_error", message: "html: unclosed tag {{ at line 2, column 6" });
		expect(await templateCounts(t.tenantId)).toEqual({ templates: 0, versions: 0 });
	});

	it("refuses an alias another template of the tenant has with 409, writing nothing", async () => {
		const t = await seedTenant();
		await createTemplate(t, { alias: "taken", html: "<p>one</p>" });
		const res = await call<ErrorBody>("POST", "/templates", { key: t.key, body: { name: "two", alias: "taken", html: "<p>two</p>" } });
		expect(res.status).toBe(409);
		expect(res.body.name).toBe("validation_error");
		expect(res.body.message).toMatch(/alias "taken" is already used/);
		expect((await templateCounts(t.tenantId)).templates).toBe(1);
	});

	it("lets two tenants use the same alias", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		await createTemplate(a, { alias: "same", html: "<p>a</p>" });
		await createTemplate(b, { alias: "same", html: "<p>b</p>" });
		expect((await get(b, "same")).body.html).toBe("<p>b</p>");
	});

	const invalid: [string, Record<string, unknown>, number, string, RegExp][] = [
		["no html", { name: "x" }, 422, "missing_required_field", /Missing `html` field/],
		["no name", { html: "<p/>" }, 422, "missing_required_field", /Missing `name` field/],
		[
			"a UUID-shaped alias",
			{ name: "x", html: "x", alias: crypto.randomUUID() },
			422,
			"validation_error",
			/may not look like a template id/,
		],
		["an alias with spaces", { name: "x", html: "x", alias: "my alias" }, 422, "validation_error", /alias/],
		[
			"a reserved variable key",
			{ name: "x", html: "x", variables: [{ key: "EMAIL", type: "string" }] },
			422,
			"validation_error",
			/EMAIL is a reserved/,
		],
		[
			"a variable type Mailroom does not render",
			{ name: "x", html: "x", variables: [{ key: "A", type: "list" }] },
			422,
			"validation_error",
			/variables\.0\.type/,
		],
		[
			"a fallback of the wrong type",
			{ name: "x", html: "x", variables: [{ key: "A", type: "number", fallback_value: "1" }] },
			422,
			"validation_error",
			/fallback_value must be a number/,
		],
		[
			"a variable declared twice",
			{
				name: "x",
				html: "x",
				variables: [
					{ key: "A", type: "string" },
					{ key: "A", type: "number" },
				],
			},
			422,
			"validation_error",
			/Variable A is declared twice/,
		],
		[
			"more than 50 variables",
			{ name: "x", html: "x", variables: Array.from({ length: 51 }, (_, i) => ({ key: `V${i}`, type: "string" })) },
			422,
			"validation_error",
			/at most 50 variables/,
		],
		["html over 500,000 bytes", { name: "x", html: "é".repeat(250_001) }, 422, "validation_error", /html may be at most 500000 bytes/],
		[
			"a from that is not an address",
			{ name: "x", html: "x", from: "not an address" },
			422,
			"invalid_from_address",
			/Invalid email address/,
		],
		["a line break in the subject", { name: "x", html: "x", subject: "a\r\nBcc: x@example.org" }, 422, "validation_error", /line breaks/],
		["a section in the subject", { name: "x", html: "x", subject: "{{#A}}hi{{/A}}" }, 422, "validation_error", /^subject: sections/],
	];

	it.each(invalid)("refuses %s and writes nothing", async (_label, body, status, name, message) => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/templates", { key: t.key, body });
		expect(res.status).toBe(status);
		expect(res.body.name).toBe(name);
		expect(res.body.message).toMatch(message);
		expect(await templateCounts(t.tenantId)).toEqual({ templates: 0, versions: 0 });
	});

	it("refuses a sending_access key", async () => {
		const t = await seedTenant();
		const key = await call<{ token: string }>("POST", `/admin/tenants/${t.tenantId}/api-keys`, {
			key: ADMIN_TOKEN,
			body: { name: "sender", permission: "sending_access" },
		});
		const res = await call<ErrorBody>("POST", "/templates", { key: key.body.token, body: welcome });
		expect(res.status).toBe(401);
		expect(res.body.name).toBe("restricted_api_key");
	});
});

describe("GET /templates", () => {
	it("lists newest first and pages with after and before without repeats", async () => {
		const t = await seedTenant();
		const ids: string[] = [];
		for (const n of [1, 2, 3, 4, 5]) ids.push(await createTemplate(t, { name: `T${n}`, html: `<p>${n}</p>` }));
		const newest = [...ids].reverse();
		const first = await call<ListBody>("GET", "/templates?limit=2", { key: t.key });
		expect(first.body).toMatchObject({ object: "list", has_more: true });
		expect(first.body.data.map((d) => d.id)).toEqual(newest.slice(0, 2));
		expect(Object.keys(first.body.data[0] ?? {}).sort()).toEqual([
			"alias",
			"created_at",
			"id",
			"name",
			"published_at",
			"status",
			"updated_at",
		]);
		const second = await call<ListBody>("GET", `/templates?limit=2&after=${newest[1]}`, { key: t.key });
		expect(second.body.data.map((d) => d.id)).toEqual(newest.slice(2, 4));
		const last = await call<ListBody>("GET", `/templates?limit=2&after=${newest[3]}`, { key: t.key });
		expect(last.body).toMatchObject({ has_more: false });
		expect(last.body.data.map((d) => d.id)).toEqual(newest.slice(4));
		const back = await call<ListBody>("GET", `/templates?limit=2&before=${newest[4]}`, { key: t.key });
		expect(back.body.data.map((d) => d.id)).toEqual(newest.slice(2, 4));
	});

	it("shows only the tenant's own templates", async () => {
		const mine = await seedTenant();
		const other = await seedTenant();
		await createTemplate(other, { html: "<p>theirs</p>" });
		const id = await createTemplate(mine, { html: "<p>mine</p>" });
		const res = await call<ListBody>("GET", "/templates", { key: mine.key });
		expect(res.body.data.map((d) => d.id)).toEqual([id]);
	});

	it("refuses a cursor that is not a template id", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("GET", "/templates?after=welcome", { key: t.key });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_parameter");
	});
});

describe("GET /templates/:id_or_alias", () => {
	it("finds a template by its alias", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, { alias: "by-alias", html: "<p/>" });
		expect((await get(t, "by-alias")).body.id).toBe(id);
	});

	it("answers 404 for an unknown id or alias", async () => {
		const t = await seedTenant();
		for (const ref of [crypto.randomUUID(), "nope"]) {
			const res = await call<ErrorBody>("GET", `/templates/${ref}`, { key: t.key });
			expect(res.status).toBe(404);
			expect(res.body).toEqual({ statusCode: 404, name: "not_found", message: "Template not found" });
		}
	});
});

describe("another tenant's template", () => {
	const routes: [string, (id: string) => [string, string, unknown?]][] = [
		["GET", (id) => ["GET", `/templates/${id}`]],
		["PATCH", (id) => ["PATCH", `/templates/${id}`, { name: "stolen" }]],
		["DELETE", (id) => ["DELETE", `/templates/${id}`]],
		["publish", (id) => ["POST", `/templates/${id}/publish`]],
		["duplicate", (id) => ["POST", `/templates/${id}/duplicate`]],
		["versions", (id) => ["GET", `/templates/${id}/versions`]],
		["render", (id) => ["POST", `/templates/${id}/render`, {}]],
	];

	it.each(routes)("is 404 on %s, by id and by alias, and is left as it was", async (_label, route) => {
		const owner = await seedTenant();
		const stranger = await seedTenant();
		const id = await createTemplate(owner, {
			alias: "private",
			html: "<p>{{A}}</p>",
			variables: [{ key: "A", type: "string", fallback_value: "a" }],
		});
		const before = await get(owner, id);
		for (const ref of [id, "private"]) {
			const [method, path, body] = route(ref);
			const res = await call<ErrorBody>(method, path, { key: stranger.key, body });
			expect(res.status).toBe(404);
			expect(res.body.name).toBe("not_found");
		}
		expect((await get(owner, id)).body).toEqual(before.body);
		expect(await templateCounts(stranger.tenantId)).toEqual({ templates: 0, versions: 0 });
	});
});

describe("PATCH /templates/:id_or_alias", () => {
	it("updates only the fields given, by alias, and keeps declared variables' ids", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		const before = await get(t, id);
		const res = await call<{ object: string; id: string }>("PATCH", "/templates/welcome", {
			key: t.key,
			body: { subject: "Hello {{NAME}}", variables: [...welcome.variables, { key: "PLAN", type: "string" }] },
		});
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "template", id });
		const after = await get(t, id);
		expect(after.body).toMatchObject({ subject: "Hello {{NAME}}", html: welcome.html, from: welcome.from, name: "Welcome" });
		expect(after.body.variables.map((v) => v.key)).toEqual(["NAME", "CREDITS", "PLAN"]);
		expect(after.body.variables[0]?.id).toBe(before.body.variables[0]?.id);
	});

	it("clears an optional field given null, and removes the alias", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		await call("PATCH", `/templates/${id}`, { key: t.key, body: { reply_to: null, alias: null } });
		const after = await get(t, id);
		expect(after.body).toMatchObject({ reply_to: null, alias: null });
		expect((await get(t, "welcome")).status).toBe(404);
	});

	it("refuses malformed syntax with its position and leaves the draft as it was", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		const before = await get(t, id);
		const res = await call<ErrorBody>("PATCH", `/templates/${id}`, { key: t.key, body: { html: "<p>{{#LIST}}x</p>" } });
		expect(res.status).toBe(422);
		expect(res.body.message).toMatch(/^html: sections \(\{\{#LIST\}\}\) at line 1, column 4/);
		expect((await get(t, id)).body).toEqual(before.body);
	});

	it("refuses taking another template's alias with 409", async () => {
		const t = await seedTenant();
		await createTemplate(t, { alias: "first", html: "<p>1</p>" });
		const second = await createTemplate(t, { alias: "second", html: "<p>2</p>" });
		const res = await call<ErrorBody>("PATCH", `/templates/${second}`, { key: t.key, body: { alias: "first" } });
		expect(res.status).toBe(409);
		expect((await get(t, second)).body.alias).toBe("second");
	});

	it("refuses a body that is not an object", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		const res = await call<ErrorBody>("PATCH", `/templates/${id}`, { key: t.key, body: ["html"] });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("validation_error");
	});
});

describe("publishing and versions", () => {
	it("publishes the draft as version 1, then reports unpublished changes after an edit", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		const draft = await get(t, id);
		const res = await call<{ object: string; id: string }>("POST", `/templates/${id}/publish`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "template", id });
		const published = await get(t, id);
		expect(published.body).toMatchObject({
			status: "published",
			has_unpublished_versions: false,
			current_version_id: draft.body.current_version_id,
		});
		expect(Date.parse(published.body.published_at ?? "")).toBeGreaterThan(0);

		await call("PATCH", `/templates/${id}`, { key: t.key, body: { html: "<p>v2 {{NAME}}</p>" } });
		const edited = await get(t, id);
		expect(edited.body).toMatchObject({ status: "published", has_unpublished_versions: true, html: "<p>v2 {{NAME}}</p>" });
		expect(edited.body.current_version_id).toBe(published.body.current_version_id);
	});

	it("lists versions newest first with their frozen content", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, { ...welcome, alias: undefined, html: "<p>one</p>" });
		await publishTemplate(t, id);
		await call("PATCH", `/templates/${id}`, { key: t.key, body: { html: "<p>two</p>" } });
		await call("PATCH", `/templates/${id}`, { key: t.key, body: { html: "<p>two, edited</p>" } });
		await publishTemplate(t, id);
		const res = await call<VersionList>("GET", `/templates/${id}/versions`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body.data.map((v) => [v.number, v.html])).toEqual([
			[2, "<p>two, edited</p>"],
			[1, "<p>one</p>"],
		]);
		expect((await get(t, id)).body.current_version_id).toBe(res.body.data[0]?.id);
		const older = await call<VersionList>("GET", `/templates/${id}/versions?limit=1&after=${res.body.data[0]?.id}`, { key: t.key });
		expect(older.body.data.map((v) => v.number)).toEqual([1]);
		expect(older.body.has_more).toBe(false);
	});

	it("publishing again without changes freezes no new version", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		await publishTemplate(t, id);
		await publishTemplate(t, "welcome");
		expect(await templateCounts(t.tenantId)).toEqual({ templates: 1, versions: 1 });
	});

	it("an update that changes nothing starts no new draft", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		await publishTemplate(t, id);
		await call("PATCH", `/templates/${id}`, { key: t.key, body: { html: welcome.html, name: welcome.name } });
		expect((await get(t, id)).body.has_unpublished_versions).toBe(false);
	});
});

describe("POST /templates/:id/duplicate", () => {
	it("copies the draft into a new draft without the alias", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		await publishTemplate(t, id);
		const res = await call<{ object: string; id: string }>("POST", "/templates/welcome/duplicate", { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body.id).not.toBe(id);
		const copy = await get(t, res.body.id);
		expect(copy.body).toMatchObject({
			name: "Welcome (copy)",
			alias: null,
			status: "draft",
			html: welcome.html,
			subject: welcome.subject,
			published_at: null,
		});
		expect(copy.body.variables.map((v) => v.key)).toEqual(["NAME", "CREDITS"]);
	});
});

describe("DELETE /templates/:id_or_alias", () => {
	it("deletes the template and its versions, freeing the alias", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		await publishTemplate(t, id);
		const res = await call("DELETE", "/templates/welcome", { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "template", id, deleted: true });
		expect(await templateCounts(t.tenantId)).toEqual({ templates: 0, versions: 0 });
		expect((await get(t, id)).status).toBe(404);
		await createTemplate(t, { alias: "welcome", html: "<p>again</p>" });
	});

	it("answers 404 for an unknown template", async () => {
		const t = await seedTenant();
		expect((await call("DELETE", `/templates/${crypto.randomUUID()}`, { key: t.key })).status).toBe(404);
	});
});

describe("POST /templates/:id/render", () => {
	type Rendered = {
		object: string;
		template_id: string;
		version_id: string;
		subject: string;
		html: string;
		text: string;
		from: string;
		reply_to: string[];
	};

	it("previews the draft with variables, escaping html, without sending", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		const res = await call<Rendered>("POST", `/templates/${id}/render`, {
			key: t.key,
			body: { variables: { NAME: "<b>Ada</b>", CREDITS: 3 } },
		});
		expect(res.status).toBe(200);
		expect(res.body).toEqual({
			object: "rendered_template",
			template_id: id,
			version_id: expect.any(String),
			from: "Acme <hello@example.com>",
			subject: "Welcome, <b>Ada</b>",
			reply_to: ["help@example.com"],
			html: "<p>Hi &lt;b&gt;Ada&lt;/b&gt;, you have 3 credits</p>",
			text: "Hi <b>Ada</b>, you have 3 credits",
		});
	});

	it("previews the published version while the draft differs", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, { html: "<p>live</p>" });
		await publishTemplate(t, id);
		await call("PATCH", `/templates/${id}`, { key: t.key, body: { html: "<p>draft</p>" } });
		const live = await call<Rendered>("POST", `/templates/${id}/render`, { key: t.key, body: { version: "published" } });
		const draft = await call<Rendered>("POST", `/templates/${id}/render`, { key: t.key });
		expect([live.body.html, draft.body.html]).toEqual(["<p>live</p>", "<p>draft</p>"]);
		expect(live.body.version_id).toBe((await get(t, id)).body.current_version_id);
	});

	it("names a missing variable with 422", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, welcome);
		const res = await call<ErrorBody>("POST", `/templates/${id}/render`, { key: t.key, body: {} });
		expect(res.status).toBe(422);
		expect(res.body.message).toBe("Missing template variable CREDITS: give a value in template.variables or declare a fallback_value");
	});

	it("refuses the published version of a template never published", async () => {
		const t = await seedTenant();
		const id = await createTemplate(t, { html: "<p/>" });
		const res = await call<ErrorBody>("POST", `/templates/${id}/render`, { key: t.key, body: { version: "published" } });
		expect(res.status).toBe(422);
		expect(res.body.message).toMatch(/has no published version/);
	});
});

describe("methods", () => {
	it("answers 405 for a method /templates does not have", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("PUT", "/templates", { key: t.key, body: {} });
		expect(res.status).toBe(405);
		expect(res.body.name).toBe("method_not_allowed");
	});
});
