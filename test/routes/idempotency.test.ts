import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { canonicalJson, sha256Hex } from "../../src/lib/crypto";
import { call, counts, email, seedTenant } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

type ErrorBody = { statusCode: number; name: string; message: string };
const key = (k: string) => ({ "Idempotency-Key": k });

describe("Idempotency-Key on POST /emails", () => {
	it("replays the original response with Idempotent-Replayed: true and writes nothing more", async () => {
		const t = await seedTenant();
		const first = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t), headers: key("welcome-1") });
		expect(first.status).toBe(200);
		expect(first.headers.get("idempotent-replayed")).toBeNull();
		const send = vi.spyOn(env.SEND_QUEUE, "send");
		const again = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t), headers: key("welcome-1") });
		expect(again.status).toBe(200);
		expect(again.body).toEqual(first.body);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect(send).not.toHaveBeenCalled();
		expect(await counts(t.tenantId)).toEqual({ emails: 1, events: 0, idempotency: 1 });
	});

	it("treats bodies that differ only in key order as the same request", async () => {
		const t = await seedTenant();
		const body = email(t);
		const reordered = Object.fromEntries(Object.entries(body).reverse());
		const first = await call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("order") });
		const again = await call<{ id: string }>("POST", "/emails", { key: t.key, body: reordered, headers: key("order") });
		expect(again.body.id).toBe(first.body.id);
	});

	it("answers 409 invalid_idempotent_request for the same key with a different body, writing nothing", async () => {
		const t = await seedTenant();
		await call("POST", "/emails", { key: t.key, body: email(t), headers: key("k") });
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { subject: "Other" }), headers: key("k") });
		expect(res.status).toBe(409);
		expect(res.body.name).toBe("invalid_idempotent_request");
		expect(await counts(t.tenantId)).toEqual({ emails: 1, events: 0, idempotency: 1 });
	});

	it("answers 409 concurrent_idempotent_requests while the first request is still in flight", async () => {
		const t = await seedTenant();
		const body = email(t, { attachments: [{ filename: "a.txt", content: btoa("a") }] });
		let release: () => void = () => {};
		const gate = new Promise<void>((resolve) => {
			release = resolve;
		});
		const realPut = env.ATTACHMENTS.put.bind(env.ATTACHMENTS);
		vi.spyOn(env.ATTACHMENTS, "put").mockImplementation(async (...args) => {
			await gate;
			return realPut(...args);
		});
		const slow = call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("slow") });
		await vi.waitUntil(async () => (await counts(t.tenantId)).idempotency === 1);
		const concurrent = await call<ErrorBody>("POST", "/emails", { key: t.key, body, headers: key("slow") });
		expect(concurrent.status).toBe(409);
		expect(concurrent.body.name).toBe("concurrent_idempotent_requests");
		release();
		const first = await slow;
		expect(first.status).toBe(200);
		const replay = await call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("slow") });
		expect(replay.body.id).toBe(first.body.id);
		expect((await counts(t.tenantId)).emails).toBe(1);
	});

	it("accepts one email for concurrent plain sends with the same key, the others answered with its id", async () => {
		const t = await seedTenant();
		const body = email(t);
		const all = await Promise.all(
			Array.from({ length: 5 }, () => call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("race") })),
		);
		expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
		expect(new Set(all.map((r) => r.body.id)).size).toBe(1);
		expect(all.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(4);
		expect(await counts(t.tenantId)).toEqual({ emails: 1, events: 0, idempotency: 1 });
	});

	it("writes once more when a guard aborted the write but neither the key nor a suppression explains it", async () => {
		const t = await seedTenant();
		const body = email(t);
		// The write aborts as a guard does (a key or suppression that was gone by the time it was read back).
		guardAbortsOnBatches([1]);
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("vanished") });
		vi.restoreAllMocks();
		expect(res.status).toBe(200);
		expect(await counts(t.tenantId)).toEqual({ emails: 1, events: 0, idempotency: 1 });
		const replay = await call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("vanished") });
		expect(replay.body.id).toBe(res.body.id);
	});

	it("answers 409 concurrent_idempotent_requests and writes nothing when the guard aborts twice unexplained", async () => {
		const t = await seedTenant();
		// Batches: the write (aborts), the suppression read, the second write (aborts).
		guardAbortsOnBatches([1, 3]);
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t), headers: key("twice") });
		vi.restoreAllMocks();
		expect(res.status).toBe(409);
		expect(res.body.name).toBe("concurrent_idempotent_requests");
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("lets a retry take over a key whose first request crashed in flight", async () => {
		const t = await seedTenant();
		const body = email(t);
		const hash = await sha256Hex(canonicalJson(body));
		const longAgo = Date.now() - 5 * 60_000;
		await env.DB.prepare(
			"INSERT INTO idempotency_keys (tenant_id, endpoint, key, request_hash, state, owner, created_at, expires_at) VALUES (?, 'POST /emails', 'crashed', ?, 'in_flight', 'dead-request', ?, ?)",
		)
			.bind(t.tenantId, hash, longAgo, longAgo + 86_400_000)
			.run();
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("crashed") });
		expect(res.status).toBe(200);
		const again = await call<{ id: string }>("POST", "/emails", { key: t.key, body, headers: key("crashed") });
		expect(again.body.id).toBe(res.body.id);
	});

	it("forgets a key after 24 hours", async () => {
		const t = await seedTenant();
		const first = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t), headers: key("old") });
		await env.DB.prepare("UPDATE idempotency_keys SET expires_at = ? WHERE tenant_id = ?")
			.bind(Date.now() - 1, t.tenantId)
			.run();
		const later = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, { subject: "New" }), headers: key("old") });
		expect(later.status).toBe(200);
		expect(later.body.id).not.toBe(first.body.id);
		expect(later.headers.get("idempotent-replayed")).toBeNull();
	});

	it("scopes keys per tenant", async () => {
		const a = await seedTenant();
		const b = await seedTenant();
		const ra = await call<{ id: string }>("POST", "/emails", { key: a.key, body: email(a), headers: key("shared") });
		const rb = await call<{ id: string }>("POST", "/emails", { key: b.key, body: email(b), headers: key("shared") });
		expect(rb.status).toBe(200);
		expect(rb.body.id).not.toBe(ra.body.id);
	});

	it("scopes keys per endpoint", async () => {
		const t = await seedTenant();
		const single = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t), headers: key("same") });
		const batch = await call<{ data: { id: string }[] }>("POST", "/emails/batch", { key: t.key, body: [email(t)], headers: key("same") });
		expect(batch.status).toBe(200);
		expect(batch.body.data[0]?.id).not.toBe(single.body.id);
	});

	it("does not remember a request that was rejected after the claim (suppressed recipient)", async () => {
		const t = await seedTenant();
		await call("POST", "/suppressions", { key: t.key, body: { email: "gone@example.org" } });
		const rejected = await call("POST", "/emails", { key: t.key, body: email(t, { to: "gone@example.org" }), headers: key("sup") });
		expect(rejected.status).toBe(422);
		expect((await counts(t.tenantId)).idempotency).toBe(0);
		await call("DELETE", "/suppressions/gone@example.org", { key: t.key });
		const accepted = await call("POST", "/emails", { key: t.key, body: email(t, { to: "gone@example.org" }), headers: key("sup") });
		expect(accepted.status).toBe(200);
	});
});

describe("Idempotency-Key on POST /emails/batch", () => {
	it("replays the same ids for the same batch", async () => {
		const t = await seedTenant();
		const body = [email(t), email(t, { to: "other@example.org" })];
		const first = await call<{ data: { id: string }[] }>("POST", "/emails/batch", { key: t.key, body, headers: key("b1") });
		const again = await call<{ data: { id: string }[] }>("POST", "/emails/batch", { key: t.key, body, headers: key("b1") });
		expect(again.body).toEqual(first.body);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect((await counts(t.tenantId)).emails).toBe(2);
	});

	it("answers 409 for the same key with a different batch or validation mode", async () => {
		const t = await seedTenant();
		const body = [email(t)];
		await call("POST", "/emails/batch", { key: t.key, body, headers: key("b2") });
		const otherBody = await call<ErrorBody>("POST", "/emails/batch", { key: t.key, body: [email(t), email(t)], headers: key("b2") });
		expect(otherBody.body.name).toBe("invalid_idempotent_request");
		const otherMode = await call<ErrorBody>("POST", "/emails/batch", {
			key: t.key,
			body,
			headers: { ...key("b2"), "x-batch-validation": "permissive" },
		});
		expect(otherMode.status).toBe(409);
		expect(otherMode.body.name).toBe("invalid_idempotent_request");
		expect((await counts(t.tenantId)).emails).toBe(1);
	});
});

/** Makes the listed D1 batches (1-based) fail as an `abortUnless` guard does, without running them. */
function guardAbortsOnBatches(which: number[]) {
	const realBatch = env.DB.batch.bind(env.DB);
	let calls = 0;
	vi.spyOn(env.DB, "batch").mockImplementation(async (statements) => {
		calls += 1;
		if (which.includes(calls)) throw new Error("D1_ERROR: malformed JSON: SQLITE_ERROR");
		return realBatch(statements);
	});
}
