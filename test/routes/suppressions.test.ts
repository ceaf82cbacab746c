import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, email, seedTenant } from "../helpers/api";

type Suppression = {
	object: string;
	id: string;
	email: string;
	origin: string;
	source_id: string | null;
	reason: string;
	source: string;
	created_at: string;
};

describe("/suppressions", () => {
	it("adds, lists, and removes suppressions, lower-casing addresses", async () => {
		const t = await seedTenant();
		const added = await call<Suppression>("POST", "/suppressions", {
			key: t.key,
			body: { email: "Bounced@Example.org", reason: "hard_bounce" },
		});
		expect(added.status).toBe(201);
		expect(added.body).toMatchObject({ object: "suppression", email: "bounced@example.org", reason: "hard_bounce", source: "api" });
		await call("POST", "/suppressions", { key: t.key, body: { email: "a@example.org" } });
		const list = await call<{ data: Suppression[]; has_more: boolean }>("GET", "/suppressions?limit=1", { key: t.key });
		expect(list.body.data.map((s) => s.email)).toEqual(["a@example.org"]);
		expect(list.body.has_more).toBe(true);
		const next = await call<{ data: Suppression[] }>("GET", "/suppressions?limit=1&after=a@example.org", { key: t.key });
		expect(next.body.data.map((s) => s.email)).toEqual(["bounced@example.org"]);
		const removed = await call("DELETE", "/suppressions/BOUNCED@example.org", { key: t.key });
		expect(removed.body).toEqual({ object: "suppression", id: "bounced@example.org", deleted: true });
		expect((await call("POST", "/emails", { key: t.key, body: email(t, { to: "bounced@example.org" }) })).status).toBe(200);
	});

	it("keeps tenants' lists apart", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		await call("POST", "/suppressions", { key: a.key, body: { email: "x@example.org" } });
		expect((await call("POST", "/emails", { key: b.key, body: email(b, { to: "x@example.org" }) })).status).toBe(200);
		expect((await call("DELETE", "/suppressions/x@example.org", { key: b.key })).status).toBe(404);
		expect((await call<{ data: Suppression[] }>("GET", "/suppressions", { key: b.key })).body.data).toEqual([]);
	});

	it("rejects an invalid address", async () => {
		const t = await seedTenant();
		const res = await call<{ name: string }>("POST", "/suppressions", { key: t.key, body: { email: "nope" } });
		expect(res.status).toBe(422);
	});

	it("retrieves one suppression by its id or its address, in Resend's shape", async () => {
		const t = await seedTenant();
		await call("POST", "/suppressions", { key: t.key, body: { email: "One@Example.org" } });
		for (const ref of ["one@example.org", "ONE%40example.org"]) {
			const res = await call<Suppression>("GET", `/suppressions/${ref}`, { key: t.key });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({
				object: "suppression",
				id: "one@example.org",
				email: "one@example.org",
				origin: "manual",
				source_id: null,
			});
		}
		const other = await seedTenant();
		const hidden = await call<{ name: string }>("GET", "/suppressions/one@example.org", { key: other.key });
		expect(hidden.status).toBe(404);
		expect(hidden.body.name).toBe("not_found");
	});

	it("says a bounce's origin and the email that caused it, and filters by origin", async () => {
		const t = await seedTenant();
		const emailId = crypto.randomUUID();
		await env.DB.batch([
			env.DB.prepare("INSERT INTO suppressions (tenant_id, email, reason, source, created_at) VALUES (?, ?, 'hard_bounce', ?, 1)").bind(
				t.tenantId,
				"b@example.org",
				`resend:bounced:${emailId}`,
			),
			env.DB.prepare("INSERT INTO suppressions (tenant_id, email, reason, source, created_at) VALUES (?, ?, 'complaint', ?, 1)").bind(
				t.tenantId,
				"c@example.org",
				`sandbox:complained:${emailId}`,
			),
			env.DB.prepare(
				"INSERT INTO suppressions (tenant_id, email, reason, source, created_at) VALUES (?, ?, 'inactive_recipient', ?, 1)",
			).bind(t.tenantId, "r@example.org", `postmark:rejected:${emailId}`),
		]);
		await call("POST", "/suppressions", { key: t.key, body: { email: "m@example.org" } });
		expect((await call<Suppression>("GET", "/suppressions/b@example.org", { key: t.key })).body).toMatchObject({
			origin: "bounce",
			source_id: emailId,
		});
		const byOrigin = async (origin: string) =>
			(await call<{ data: Suppression[] }>("GET", `/suppressions?origin=${origin}`, { key: t.key })).body.data.map((s) => s.email);
		expect(await byOrigin("bounce")).toEqual(["b@example.org", "r@example.org"]);
		expect(await byOrigin("complaint")).toEqual(["c@example.org"]);
		expect(await byOrigin("manual")).toEqual(["m@example.org"]);
	});

	it("adds up to 100 addresses in one call with 201, once each", async () => {
		const t = await seedTenant();
		const emails = [...Array.from({ length: 99 }, (_, i) => `bulk${i}@example.org`), "BULK0@example.org"];
		const res = await call<{ data: { object: string; id: string }[] }>("POST", "/suppressions/batch/add", { key: t.key, body: { emails } });
		expect(res.status).toBe(201);
		expect(res.body.data).toHaveLength(99);
		expect(res.body.data[0]).toEqual({ object: "suppression", id: "bulk0@example.org" });
		const refused = await call<{ name: string; message: string }>("POST", "/emails", {
			key: t.key,
			body: email(t, { to: "bulk42@example.org" }),
		});
		expect(refused.status).toBe(422);
	});

	it("refuses a batch with an invalid address or more than 100, adding none", async () => {
		const t = await seedTenant();
		const bad = await call("POST", "/suppressions/batch/add", { key: t.key, body: { emails: ["ok@example.org", "nope"] } });
		expect(bad.status).toBe(422);
		const many = Array.from({ length: 101 }, (_, i) => `m${i}@example.org`);
		expect((await call("POST", "/suppressions/batch/add", { key: t.key, body: { emails: many } })).status).toBe(422);
		expect((await call<{ data: unknown[] }>("GET", "/suppressions", { key: t.key })).body.data).toEqual([]);
	});

	it("removes by emails or ids, saying which were on the list", async () => {
		const t = await seedTenant();
		await call("POST", "/suppressions/batch/add", { key: t.key, body: { emails: ["a@example.org", "b@example.org", "c@example.org"] } });
		const byEmail = await call<{ data: unknown[] }>("POST", "/suppressions/batch/remove", {
			key: t.key,
			body: { emails: ["A@example.org", "x@example.org"] },
		});
		expect(byEmail.status).toBe(200);
		expect(byEmail.body.data).toEqual([
			{ object: "suppression", id: "a@example.org", deleted: true },
			{ object: "suppression", id: "x@example.org", deleted: false },
		]);
		const byId = await call<{ data: unknown[] }>("POST", "/suppressions/batch/remove", { key: t.key, body: { ids: ["b@example.org"] } });
		expect(byId.body.data).toEqual([{ object: "suppression", id: "b@example.org", deleted: true }]);
		expect((await call<{ data: Suppression[] }>("GET", "/suppressions", { key: t.key })).body.data.map((s) => s.email)).toEqual([
			"c@example.org",
		]);
	});

	it("refuses a removal with both emails and ids, or neither", async () => {
		const t = await seedTenant();
		expect(
			(await call("POST", "/suppressions/batch/remove", { key: t.key, body: { emails: ["a@example.org"], ids: ["a@example.org"] } }))
				.status,
		).toBe(422);
		expect((await call("POST", "/suppressions/batch/remove", { key: t.key, body: {} })).status).toBe(422);
	});

	it("removes only the calling tenant's suppressions in a batch", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		await call("POST", "/suppressions", { key: a.key, body: { email: "shared@example.org" } });
		const res = await call<{ data: { deleted: boolean }[] }>("POST", "/suppressions/batch/remove", {
			key: b.key,
			body: { emails: ["shared@example.org"] },
		});
		expect(res.body.data[0]?.deleted).toBe(false);
		expect((await call("GET", "/suppressions/shared@example.org", { key: a.key })).status).toBe(200);
	});
});
