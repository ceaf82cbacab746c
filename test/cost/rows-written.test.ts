/**
 * What one email costs in D1 writes, end to end: accepted, claimed and sent by the consumer, delivered by a signed
 * provider webhook. D1 bills rows written, and every index entry a statement changes counts as a row: this pins the
 * schema's cost (docs/architecture.md, "Cost") so an index or an event row added without thought is seen here.
 */
import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { benchSnapshot, instrumented, type Phase } from "../../src/lib/bench-metrics";
import { consumeSendBatch, sendConsumerDeps } from "../../src/queue/send";
import { unlimitedPacer } from "../../src/services/pacing";
import { email, seedTenant } from "../helpers/api";
import { resendWebhook } from "../helpers/provider-webhooks";
import { json } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const app = createApp();
const RESEND = { RESEND_API_KEY: "re_test", RESEND_BASE_URL: "https://resend.test", PROVIDERS: "resend" };
const measured = (phase: Phase) => instrumented(Object.assign(Object.create(null), env, RESEND) as Env, phase);

async function rowsWritten<T>(phase: Phase, work: () => Promise<T>): Promise<{ rows: number; value: T }> {
	const before = benchSnapshot()[phase]?.rows_written ?? 0;
	const value = await work();
	return { rows: (benchSnapshot()[phase]?.rows_written ?? 0) - before, value };
}

async function fetchAs(phase: Phase, path: string, init: RequestInit): Promise<Response> {
	const ctx = createExecutionContext();
	const res = await app.fetch(new Request(`http://mailroom.test${path}`, init), measured(phase), ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

const sendTo = (t: { key: string }, body: unknown) =>
	fetchAs("accept", Array.isArray(body) ? "/emails/batch" : "/emails", {
		method: "POST",
		headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
		body: JSON.stringify(body),
	});

function resendEvent(type: string, resendId: string, emailId: string) {
	return resendWebhook({
		type,
		created_at: new Date().toISOString(),
		data: { email_id: resendId, to: ["user@example.org"], tags: { mailroom_id: emailId } },
	});
}

async function postResend(hook: { rawBody: string; headers: Record<string, string> }): Promise<Response> {
	return fetchAs("webhook", "/provider-webhooks/resend", { method: "POST", headers: hook.headers, body: hook.rawBody });
}

describe("rows written per delivered email", () => {
	it("is 6 end to end: accept 3, claim 1, sent 1, the delivered webhook 1", async () => {
		const t = await seedTenant();
		vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		// The row, its (tenant_id, id) entry and its entry in the open set; its `queued` event is the row itself.
		const accept = await rowsWritten("accept", () => sendTo(t, email(t)));
		expect(accept.value.status).toBe(200);
		const { id } = (await accept.value.json()) as { id: string };
		expect(accept.rows).toBe(3);

		// The claim and the sent outcome each rewrite the row only: no status index, no event row.
		vi.spyOn(globalThis, "fetch").mockResolvedValue(json(200, { id: "re_cost_1" }));
		const consume = await rowsWritten("consume", async () => {
			const batch = createMessageBatch("mailroom-send", [
				{ id: "m1", timestamp: new Date(), attempts: 1, body: { v: 1, id, tenantId: t.tenantId } },
			]);
			await consumeSendBatch(batch, { ...sendConsumerDeps(measured("consume")), pacer: unlimitedPacer });
		});
		vi.restoreAllMocks();
		expect(consume.rows).toBe(2);

		// Resend's own `email.sent` report repeats what the send's answer said: nothing is written.
		const report = await rowsWritten("webhook", () => postResend(resendEvent("email.sent", "re_cost_1", id)));
		expect(report.value.status).toBe(200);
		expect(report.rows).toBe(0);

		// `delivered` is held on the row (status_event), which leaves the open set: the row, and nothing else.
		const delivered = await rowsWritten("webhook", () => postResend(resendEvent("email.delivered", "re_cost_1", id)));
		expect(delivered.value.status).toBe(200);
		expect(delivered.rows).toBe(1);
		expect(accept.rows + consume.rows + report.rows + delivered.rows).toBe(6);

		// A replay of it writes nothing.
		const hook = resendEvent("email.delivered", "re_cost_1", id);
		await postResend(hook);
		const replay = await rowsWritten("webhook", () => postResend(hook));
		expect(replay.rows).toBe(0);
	});

	it("is 3 per email accepted in a batch of 100", async () => {
		const t = await seedTenant();
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const batch = Array.from({ length: 100 }, (_, i) => email(t, { to: `user${i}@example.org` }));
		const accept = await rowsWritten("accept", () => sendTo(t, batch));
		expect(accept.value.status).toBe(200);
		expect(accept.rows).toBe(300);
	});
});
