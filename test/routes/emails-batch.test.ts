import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, counts, email, seedTenant } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

type ErrorBody = { statusCode: number; name: string; message: string };
type BatchBody = { data: { id: string }[]; errors?: { index: number; message: string }[] };

describe("POST /emails/batch", () => {
	it("accepts 100 emails in strict mode with one queue sendBatch", async () => {
		const t = await seedTenant();
		const sendBatch = vi.spyOn(env.SEND_QUEUE, "sendBatch");
		const body = Array.from({ length: 100 }, (_, i) => email(t, { to: `user${i}@example.org`, subject: `Hello ${i}` }));
		const res = await call<BatchBody>("POST", "/emails/batch", { key: t.key, body });
		expect(res.status).toBe(200);
		expect(res.body.data).toHaveLength(100);
		expect(res.body.errors).toBeUndefined();
		expect(new Set(res.body.data.map((d) => d.id)).size).toBe(100);
		// Accepting writes the rows only: each one's `queued` event is the row itself (src/db/emails.ts timelineOf).
		expect(await counts(t.tenantId)).toEqual({ emails: 100, events: 0, idempotency: 0 });
		expect(sendBatch).toHaveBeenCalledTimes(1);
		const messages = sendBatch.mock.calls[0]?.[0] as { body: { id: string } }[];
		expect(messages.map((m) => m.body.id)).toEqual(res.body.data.map((d) => d.id));
	});

	it("rejects the whole batch in strict mode when one email is invalid, naming its index", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails/batch", { key: t.key, body: [email(t), email(t, { to: "nope" })] });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("validation_error");
		expect(res.body.message).toMatch(/^emails\[1\]/);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("accepts the valid emails in permissive mode and lists the invalid ones by index", async () => {
		const t = await seedTenant();
		await call("POST", "/suppressions", { key: t.key, body: { email: "gone@example.org" } });
		const res = await call<BatchBody>("POST", "/emails/batch", {
			key: t.key,
			headers: { "x-batch-validation": "permissive" },
			body: [email(t), email(t, { from: "x@evil.example" }), email(t, { to: "gone@example.org" }), email(t, { subject: 5 }), email(t)],
		});
		expect(res.status).toBe(200);
		expect(res.body.data).toHaveLength(2);
		expect(res.body.errors?.map((e) => e.index)).toEqual([1, 2, 3]);
		expect(res.body.errors?.every((e) => e.message.length > 0)).toBe(true);
		expect((await counts(t.tenantId)).emails).toBe(2);
	});

	it("answers 200 with no data when every email of a permissive batch is invalid", async () => {
		const t = await seedTenant();
		const sendBatch = vi.spyOn(env.SEND_QUEUE, "sendBatch");
		const res = await call<BatchBody>("POST", "/emails/batch", {
			key: t.key,
			headers: { "x-batch-validation": "permissive" },
			body: [email(t, { to: "nope" })],
		});
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ data: [], errors: [{ index: 0, message: expect.any(String) }] });
		expect(sendBatch).not.toHaveBeenCalled();
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	const rejects: [
		string,
		(t: Awaited<ReturnType<typeof seedTenant>>) => { body?: unknown; rawBody?: string; headers?: Record<string, string> },
		number,
		string,
	][] = [
		["an object instead of an array", (t) => ({ body: email(t) }), 422, "validation_error"],
		["an empty array", () => ({ body: [] }), 422, "validation_error"],
		["101 emails", (t) => ({ body: Array.from({ length: 101 }, () => email(t)) }), 422, "validation_error"],
		["attachments", (t) => ({ body: [email(t, { attachments: [{ filename: "a.txt", content: "YQ==" }] })] }), 422, "invalid_attachment"],
		["scheduled_at", (t) => ({ body: [email(t, { scheduled_at: "in 1 hour" })] }), 422, "validation_error"],
		["an unknown validation mode", (t) => ({ body: [email(t)], headers: { "x-batch-validation": "lenient" } }), 400, "validation_error"],
		["malformed JSON", () => ({ rawBody: "[{" }), 400, "validation_error"],
	];

	it.each(rejects)("rejects %s and writes nothing", async (_label, build, status, name) => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails/batch", { key: t.key, ...build(t) });
		expect(res.status, JSON.stringify(res.body)).toBe(status);
		expect(res.body.name).toBe(name);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});
});
