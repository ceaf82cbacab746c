import { describe, expect, it } from "vitest";
import { call, email, type Seeded, seedTenant } from "../helpers/api";

type EmailObject = Record<string, unknown> & { id: string; last_event: string };
type ListBody = { object: string; has_more: boolean; data: EmailObject[] };
type ErrorBody = { statusCode: number; name: string; message: string };

async function send(t: Seeded, overrides: Record<string, unknown> = {}): Promise<string> {
	const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, overrides) });
	if (res.status !== 200) throw new Error(JSON.stringify(res.body));
	return res.body.id;
}

describe("GET /emails/:id", () => {
	it("returns the Resend email object", async () => {
		const t = await seedTenant();
		const id = await send(t, {
			to: "a@example.org",
			cc: ["c@example.org"],
			reply_to: "r@example.org",
			html: "<p>Hi</p>",
			tags: [{ name: "kind", value: "welcome" }],
		});
		const res = await call<EmailObject>("GET", `/emails/${id}`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({
			object: "email",
			id,
			from: `Acme <hello@${t.domain}>`,
			to: ["a@example.org"],
			cc: ["c@example.org"],
			bcc: [],
			reply_to: ["r@example.org"],
			subject: "Hello",
			html: "<p>Hi</p>",
			text: "Hi there",
			created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
			scheduled_at: null,
			last_event: "queued",
			tags: [{ name: "kind", value: "welcome" }],
			template_id: null,
			template_version_id: null,
			priority: "normal",
		});
	});

	it("answers 404 not_found for another tenant's email, never 403", async () => {
		const owner = await seedTenant();
		const other = await seedTenant();
		const id = await send(owner);
		for (const path of [`/emails/${id}`, `/emails/${id}/events`]) {
			const res = await call<ErrorBody>("GET", path, { key: other.key });
			expect(res.status).toBe(404);
			expect(res.body.name).toBe("not_found");
		}
		const cancel = await call<ErrorBody>("POST", `/emails/${id}/cancel`, { key: other.key });
		expect(cancel.status).toBe(404);
		const patch = await call<ErrorBody>("PATCH", `/emails/${id}`, { key: other.key, body: { scheduled_at: "in 1 hour" } });
		expect(patch.status).toBe(404);
		const mine = await call<EmailObject>("GET", `/emails/${id}`, { key: owner.key });
		expect(mine.body.last_event).toBe("queued");
	});

	it("answers 404 for ids that are not ours at all", async () => {
		const t = await seedTenant();
		for (const id of ["nope", "00000000-0000-7000-8000-000000000000", "%27%20OR%201%3D1"]) {
			const res = await call<ErrorBody>("GET", `/emails/${id}`, { key: t.key });
			expect(res.status).toBe(404);
			expect(res.body.name).toBe("not_found");
		}
	});
});

describe("GET /emails", () => {
	it("pages newest first with after and before cursors, without repeats", async () => {
		const t = await seedTenant();
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) ids.push(await send(t, { subject: `n${i}` }));
		const newestFirst = [...ids].reverse();
		const page1 = await call<ListBody>("GET", "/emails?limit=2", { key: t.key });
		expect(page1.body.object).toBe("list");
		expect(page1.body.has_more).toBe(true);
		expect(page1.body.data.map((e) => e.id)).toEqual(newestFirst.slice(0, 2));
		const page2 = await call<ListBody>("GET", `/emails?limit=2&after=${page1.body.data[1]?.id}`, { key: t.key });
		expect(page2.body.data.map((e) => e.id)).toEqual(newestFirst.slice(2, 4));
		const page3 = await call<ListBody>("GET", `/emails?limit=2&after=${page2.body.data[1]?.id}`, { key: t.key });
		expect(page3.body.data.map((e) => e.id)).toEqual(newestFirst.slice(4));
		expect(page3.body.has_more).toBe(false);
		const back = await call<ListBody>("GET", `/emails?limit=2&before=${page3.body.data[0]?.id}`, { key: t.key });
		expect(back.body.data.map((e) => e.id)).toEqual(newestFirst.slice(2, 4));
		expect(back.body.has_more).toBe(true);
	});

	it("defaults to 20 per page and shows only the caller's emails", async () => {
		const t = await seedTenant();
		const other = await seedTenant();
		await send(other);
		for (let i = 0; i < 21; i++) await send(t);
		const res = await call<ListBody>("GET", "/emails", { key: t.key });
		expect(res.body.data).toHaveLength(20);
		expect(res.body.has_more).toBe(true);
		const otherList = await call<ListBody>("GET", "/emails", { key: other.key });
		expect(otherList.body.data).toHaveLength(1);
	});

	it("filters by status, tag and recipient", async () => {
		const t = await seedTenant();
		const tagged = await send(t, { tags: [{ name: "campaign", value: "spring" }] });
		const named = await send(t, { to: "Bob <Bob@Example.org>" });
		const scheduled = await send(t, { scheduled_at: "in 2 hours" });
		const byStatus = await call<ListBody>("GET", "/emails?status=scheduled", { key: t.key });
		expect(byStatus.body.data.map((e) => e.id)).toEqual([scheduled]);
		const byTag = await call<ListBody>("GET", "/emails?tag=campaign:spring", { key: t.key });
		expect(byTag.body.data.map((e) => e.id)).toEqual([tagged]);
		const byTagName = await call<ListBody>("GET", "/emails?tag=campaign", { key: t.key });
		expect(byTagName.body.data.map((e) => e.id)).toEqual([tagged]);
		const byTo = await call<ListBody>("GET", "/emails?to=bob@example.org", { key: t.key });
		expect(byTo.body.data.map((e) => e.id)).toEqual([named]);
	});

	it("treats % and _ in the to filter literally", async () => {
		const t = await seedTenant();
		await send(t, { to: "Ann <ann@example.org>" });
		for (const q of ["%25@example.org", "a_n@example.org", "%25"]) {
			const res = await call<ListBody>("GET", `/emails?to=${q}`, { key: t.key });
			expect(res.body.data, q).toEqual([]);
		}
	});

	it.each([
		["limit=0", "invalid_parameter"],
		["limit=101", "invalid_parameter"],
		["limit=abc", "invalid_parameter"],
		["status=lost", "invalid_parameter"],
		["after=x", "invalid_parameter"],
		["after=01a20272-83cd-7f38-ad9c-cc35d5e1ae75&before=01a20272-83cd-7f38-ad9c-cc35d5e1ae75", "invalid_parameter"],
	])("answers 422 for %s", async (query, name) => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("GET", `/emails?${query}`, { key: t.key });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe(name);
	});
});
