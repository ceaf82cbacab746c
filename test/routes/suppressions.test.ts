import { describe, expect, it } from "vitest";
import { call, email, seedTenant } from "../helpers/api";

type Suppression = { object: string; email: string; reason: string; source: string; created_at: string };

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
});
