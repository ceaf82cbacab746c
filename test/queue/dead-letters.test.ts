import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { call, seedTenant } from "../helpers/api";
import { consume, depsWith, emailRow, eventTypes, fakeProvider, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

type Letter = { id: string; email_id: string | null; reason: string; replayed_at: string | null };

async function runDlq(messages: { id: string; body: unknown }[]) {
	const batch = createMessageBatch(
		"mailroom-send-dlq",
		messages.map((m) => ({ ...m, timestamp: new Date(), attempts: 1 })),
	);
	const ctx = createExecutionContext();
	await worker.queue(batch, env, ctx);
	return getQueueResult(batch, ctx);
}

describe("dead-letter queue consumer", () => {
	it("records the dead letter, fails the waiting email, and acks", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		const result = await runDlq([{ id: "d1", body: { v: 1, id, tenantId: t.tenantId } }]);
		expect(result.ackAll).toBe(true);
		expect(await emailRow(id)).toMatchObject({ status: "failed", last_error: "queue retries exhausted" });
		expect(await eventTypes(id)).toEqual(["queued", "failed"]);
		const letters = await call<{ data: Letter[] }>("GET", "/dead-letters", { key: t.key });
		expect(letters.body.data).toEqual([expect.objectContaining({ email_id: id, reason: "queue_retries_exhausted" })]);
	});

	it("leaves an email that was already sent untouched", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		await consume(t, [id], depsWith());
		await runDlq([{ id: "d2", body: { v: 1, id, tenantId: t.tenantId } }]);
		expect((await emailRow(id)).status).toBe("delivered");
	});

	it("keeps a malformed message as a dead letter with its payload", async () => {
		const result = await runDlq([{ id: "d3", body: { nonsense: true } }]);
		expect(result.ackAll).toBe(true);
		const row = await env.DB.prepare("SELECT reason, payload FROM dead_letters WHERE reason = 'malformed_message' ORDER BY id DESC").first<{
			payload: string;
		}>();
		expect(JSON.parse(row?.payload ?? "null")).toEqual({ nonsense: true });
	});

	it("retries the batch when the dead letter cannot be recorded", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		vi.spyOn(env.DB, "batch").mockRejectedValue(new Error("D1 down"));
		const batch = createMessageBatch("mailroom-send-dlq", [
			{ id: "d4", timestamp: new Date(), attempts: 1, body: { v: 1, id, tenantId: t.tenantId } },
		]);
		await expect(worker.queue(batch, env, createExecutionContext())).rejects.toThrow("D1 down");
	});
});

describe("/dead-letters replay", () => {
	async function deadLettered() {
		const t = await seedTenant();
		const id = await seedEmail(t);
		fakeProvider(json(503, { message: "down" }));
		await consume(
			t,
			[id],
			depsWith({ PROVIDERS: "resend", RESEND_API_KEY: "re", RESEND_BASE_URL: "https://resend.test", MAX_ATTEMPTS: "1" }),
		);
		vi.restoreAllMocks();
		const letters = await call<{ data: Letter[] }>("GET", "/dead-letters", { key: t.key });
		const letter = letters.body.data[0];
		if (!letter) throw new Error("no dead letter");
		return { t, id, letter };
	}

	it("queues the email again from a fresh attempt count, with the provider asked for", async () => {
		const { t, id, letter } = await deadLettered();
		const send = vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		const res = await call("POST", `/dead-letters/${letter.id}/replay`, { key: t.key, body: { provider: "sandbox" } });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ object: "email", id });
		expect(await emailRow(id)).toMatchObject({ status: "queued", attempts: 0, provider: "sandbox" });
		expect(send).toHaveBeenCalledWith({ v: 1, id, tenantId: t.tenantId });
		await consume(t, [id], depsWith());
		expect((await emailRow(id)).status).toBe("delivered");
		const again = await call<{ name: string }>("POST", `/dead-letters/${letter.id}/replay`, { key: t.key });
		expect(again.status).toBe(409);
	});

	it("answers 404 for another tenant's dead letter and 422 for an unknown provider", async () => {
		const { t, letter } = await deadLettered();
		const other = await seedTenant();
		expect((await call("POST", `/dead-letters/${letter.id}/replay`, { key: other.key })).status).toBe(404);
		expect((await call("GET", "/dead-letters", { key: other.key })).body).toMatchObject({ data: [] });
		const bad = await call<{ name: string }>("POST", `/dead-letters/${letter.id}/replay`, { key: t.key, body: { provider: "pigeon" } });
		expect(bad.status).toBe(422);
		expect((await emailRow(letter.email_id ?? "")).status).toBe("failed");
	});
});
