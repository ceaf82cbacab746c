import { afterEach, describe, expect, it, vi } from "vitest";
import { call, counts, email, type Seeded, seedTenant } from "../helpers/api";
import { holdLanes } from "../helpers/lanes";

afterEach(() => vi.restoreAllMocks());

type ErrorBody = { statusCode: number; name: string; message: string };
type BatchBody = { data: { id: string }[] };

async function priorityOf(t: Seeded, id: string): Promise<unknown> {
	return (await call<{ priority: string }>("GET", `/emails/${id}`, { key: t.key })).body.priority;
}

/** A second key of the tenant, with a default priority. */
async function keyWithPriority(t: Seeded, priority: string): Promise<{ id: string; token: string }> {
	const res = await call<{ id: string; token: string }>("POST", "/api-keys", { key: t.key, body: { name: "lane", priority } });
	expect(res.status).toBe(201);
	return res.body;
}

const batchOf = (t: Seeded, n: number, item: Record<string, unknown> = {}) =>
	Array.from({ length: n }, (_, i) => email(t, { to: `user${i}@example.org`, ...item }));

describe("priority lane selection", () => {
	it("sends a single email without a priority as normal, through the transactional queue", async () => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t) });
		expect(res.status).toBe(200);
		expect(await priorityOf(t, res.body.id)).toBe("normal");
		expect(lanes.ids("send")).toEqual([res.body.id]);
		expect(lanes.ids("sendBulk")).toEqual([]);
	});

	it("takes the priority field: high through the transactional queue, bulk through the bulk queue", async () => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const high = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { priority: "high" }) });
		const bulk = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { priority: "bulk" }) });
		expect(await priorityOf(t, high.body.id)).toBe("high");
		expect(await priorityOf(t, bulk.body.id)).toBe("bulk");
		expect(lanes.ids("send")).toEqual([high.body.id]);
		expect(lanes.ids("sendBulk")).toEqual([bulk.body.id]);
	});

	it("takes the priority tag when the field is absent, and keeps the tag on the email", async () => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const tags = [{ name: "priority", value: "bulk" }];
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { tags }) });
		expect(await priorityOf(t, res.body.id)).toBe("bulk");
		expect(lanes.ids("sendBulk")).toEqual([res.body.id]);
		expect((await call<{ tags: unknown }>("GET", `/emails/${res.body.id}`, { key: t.key })).body.tags).toEqual(tags);
	});

	it("lets the field win over the tag", async () => {
		const t = await seedTenant();
		holdLanes();
		const body = email(t, { priority: "high", tags: [{ name: "priority", value: "bulk" }] });
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body });
		expect(await priorityOf(t, res.body.id)).toBe("high");
	});

	it("uses the API key's default when the email sets neither field nor tag", async () => {
		const t = await seedTenant();
		holdLanes();
		const key = await keyWithPriority(t, "bulk");
		const res = await call<{ id: string }>("POST", "/emails", { key: key.token, body: email(t) });
		expect(await priorityOf(t, res.body.id)).toBe("bulk");
	});

	it("lets the tag win over the API key's default", async () => {
		const t = await seedTenant();
		holdLanes();
		const key = await keyWithPriority(t, "bulk");
		const body = email(t, { tags: [{ name: "priority", value: "high" }] });
		const res = await call<{ id: string }>("POST", "/emails", { key: key.token, body });
		expect(await priorityOf(t, res.body.id)).toBe("high");
	});

	it("lets the API key's default win over the batch-size default", async () => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const key = await keyWithPriority(t, "normal");
		const res = await call<BatchBody>("POST", "/emails/batch", { key: key.token, body: batchOf(t, 50) });
		expect(res.status).toBe(200);
		expect(lanes.ids("send")).toHaveLength(50);
		expect(lanes.ids("sendBulk")).toEqual([]);
	});

	it("makes a batch of more than BULK_BATCH_THRESHOLD (10) emails bulk, and one of 10 normal", async () => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const ten = await call<BatchBody>("POST", "/emails/batch", { key: t.key, body: batchOf(t, 10) });
		const eleven = await call<BatchBody>("POST", "/emails/batch", { key: t.key, body: batchOf(t, 11) });
		expect(lanes.ids("send")).toEqual(ten.body.data.map((d) => d.id));
		expect(lanes.ids("sendBulk")).toEqual(eleven.body.data.map((d) => d.id));
	});

	it("lets a batch item's own priority win over the batch-size default, each email to its own lane", async () => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const body = batchOf(t, 20);
		body[7] = { ...body[7], priority: "high" };
		const res = await call<BatchBody>("POST", "/emails/batch", { key: t.key, body });
		const ids = res.body.data.map((d) => d.id);
		expect(lanes.ids("send")).toEqual([ids[7]]);
		expect(lanes.ids("sendBulk")).toEqual(ids.filter((_, i) => i !== 7));
	});

	it("changes a key's default with PATCH and clears it with null", async () => {
		const t = await seedTenant();
		holdLanes();
		const key = await keyWithPriority(t, "bulk");
		expect((await call("PATCH", `/api-keys/${key.id}`, { key: t.key, body: { priority: "high" } })).status).toBe(200);
		const listed = await call<{ data: { id: string; priority: string | null }[] }>("GET", "/api-keys", { key: t.key });
		expect(listed.body.data.find((k) => k.id === key.id)?.priority).toBe("high");
		const high = await call<{ id: string }>("POST", "/emails", { key: key.token, body: email(t) });
		expect(await priorityOf(t, high.body.id)).toBe("high");
		expect((await call("PATCH", `/api-keys/${key.id}`, { key: t.key, body: { priority: null } })).status).toBe(200);
		const cleared = await call<{ id: string }>("POST", "/emails", { key: key.token, body: email(t) });
		expect(await priorityOf(t, cleared.body.id)).toBe("normal");
	});
});

describe("invalid priorities", () => {
	it.each([
		["an unknown field value", { priority: "urgent" }],
		["a non-string field", { priority: 1 }],
		["an unknown tag value", { tags: [{ name: "priority", value: "urgent" }] }],
		[
			"two priority tags",
			{
				tags: [
					{ name: "priority", value: "high" },
					{ name: "priority", value: "bulk" },
				],
			},
		],
	])("refuses %s with 422 validation_error and writes nothing", async (_, fields) => {
		const t = await seedTenant();
		const lanes = holdLanes();
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, fields) });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("validation_error");
		expect(res.body.message).toMatch(/priority/);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
		expect([...lanes.ids("send"), ...lanes.ids("sendBulk")]).toEqual([]);
	});

	it("refuses a batch with one invalid priority whole, naming the email", async () => {
		const t = await seedTenant();
		const body = batchOf(t, 3);
		body[2] = { ...body[2], priority: "later" };
		const res = await call<ErrorBody>("POST", "/emails/batch", { key: t.key, body });
		expect(res.status).toBe(422);
		expect(res.body.message).toMatch(/^emails\[2\].*priority/);
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	it("refuses an unknown key default at create and at PATCH, leaving the key as it was", async () => {
		const t = await seedTenant();
		const created = await call<ErrorBody>("POST", "/api-keys", { key: t.key, body: { name: "x", priority: "urgent" } });
		expect(created.status).toBe(422);
		expect(created.body.name).toBe("validation_error");
		const listed = await call<{ data: unknown[] }>("GET", "/api-keys", { key: t.key });
		expect(listed.body.data).toHaveLength(1);
		const key = await keyWithPriority(t, "bulk");
		const patched = await call<ErrorBody>("PATCH", `/api-keys/${key.id}`, { key: t.key, body: { priority: "low" } });
		expect(patched.status).toBe(422);
		const after = await call<{ data: { id: string; priority: string | null }[] }>("GET", "/api-keys", { key: t.key });
		expect(after.body.data.find((k) => k.id === key.id)?.priority).toBe("bulk");
	});
});
