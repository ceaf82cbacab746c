import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handleQueue } from "../../../src/queue";
import { failNthBatch, seedTenant } from "../../helpers/api";
import { emailSendingEvent } from "../../helpers/cloudflare";
import { markSent } from "../../helpers/provider-webhooks";
import { emailRow, eventTypes, seedEmail } from "../../helpers/send";

afterEach(() => vi.restoreAllMocks());

let seq = 0;

/** Runs `mailroom-email-events` messages through the Worker's queue handler; what it acked. */
async function deliver(...bodies: unknown[]) {
	const batch = createMessageBatch(
		"mailroom-email-events",
		bodies.map((body) => ({ id: `e${++seq}`, timestamp: new Date(), attempts: 1, body })),
	);
	const ctx = createExecutionContext();
	await handleQueue(batch, env, ctx);
	return getQueueResult(batch, ctx);
}

async function sentViaCloudflare() {
	const t = await seedTenant();
	const id = await seedEmail(t, { to: "user@example.net" });
	const messageId = `<${crypto.randomUUID()}@example.com>`;
	await markSent(id, "cloudflare", messageId);
	return { t, id, messageId };
}

async function suppressed(tenantId: string): Promise<string[]> {
	const { results } = await env.DB.prepare("SELECT email FROM suppressions WHERE tenant_id = ?").bind(tenantId).all<{ email: string }>();
	return results.map((r) => r.email);
}

const event = (kind: string, messageId: string, payload: Record<string, unknown> = {}) =>
	emailSendingEvent(`cf.email.sending.message.${kind}`, messageId, payload);

describe("the Cloudflare Email Sending event consumer", () => {
	it("records a delivery against the email the binding's messageId names, and acks it", async () => {
		const { id, messageId } = await sentViaCloudflare();
		const result = await deliver(event("delivered", messageId));
		expect(result.ackAll).toBe(true);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "delivered" });
		// The event that moved the status is held on the row, keyed by Cloudflare's eventId.
		const held = JSON.parse(String((await emailRow(id)).status_event)) as Record<string, unknown>;
		expect(held).toMatchObject({ type: "delivered", provider: "cloudflare", key: `cloudflare:evt-delivered-${messageId}` });
	});

	it("records a redelivered event once (deduplicated by eventId)", async () => {
		const { id, messageId } = await sentViaCloudflare();
		await deliver(event("delivered", messageId));
		await deliver(event("delivered", messageId));
		expect((await eventTypes(id)).filter((t) => t === "delivered")).toHaveLength(1);
	});

	it("never moves an email back: a deferral after the delivery changes nothing", async () => {
		const { id, messageId } = await sentViaCloudflare();
		await deliver(event("delivered", messageId), event("deferred", messageId));
		expect(await emailRow(id)).toMatchObject({ status: "delivered" });
	});

	it("makes a hard bounce bounced and suppresses the recipient", async () => {
		const { t, id, messageId } = await sentViaCloudflare();
		await deliver(event("bounced", messageId));
		expect((await emailRow(id)).status).toBe("bounced");
		expect(await suppressed(t.tenantId)).toEqual(["user@example.net"]);
	});

	it("makes a bounce after exhausted soft retries failed, without suppressing", async () => {
		const { t, id, messageId } = await sentViaCloudflare();
		await deliver(event("bounced", messageId, { bounce: { type: "soft", reason: "452 mailbox full" } }));
		expect((await emailRow(id)).status).toBe("failed");
		expect(await suppressed(t.tenantId)).toEqual([]);
	});

	it("suppresses a recipient Cloudflare rejected as suppressed", async () => {
		const { t, id, messageId } = await sentViaCloudflare();
		await deliver(event("rejected", messageId, { rejection: { reason: "suppressed", party: "recipient" } }));
		expect((await emailRow(id)).status).toBe("bounced");
		expect(await suppressed(t.tenantId)).toEqual(["user@example.net"]);
	});

	it("records a complaint and suppresses the recipient", async () => {
		const { t, id, messageId } = await sentViaCloudflare();
		await deliver(event("complained", messageId));
		expect((await emailRow(id)).status).toBe("complained");
		expect(await suppressed(t.tenantId)).toEqual(["user@example.net"]);
	});

	it("keeps an event about a message it does not know for inspection, and acks it", async () => {
		const messageId = `<${crypto.randomUUID()}@example.com>`;
		const result = await deliver(event("delivered", messageId));
		expect(result.ackAll).toBe(true);
		const row = await env.DB.prepare("SELECT provider, event_type FROM unmatched_provider_events WHERE provider_message_id = ?")
			.bind(messageId)
			.first();
		expect(row).toEqual({ provider: "cloudflare", event_type: "delivered" });
	});

	it("acks a message that is not an Email Sending event without writing anything", async () => {
		const before = await env.DB.prepare("SELECT count(*) AS n FROM unmatched_provider_events").first<{ n: number }>();
		const result = await deliver(
			{ hello: "world" },
			{ type: "cf.email.sending.message.opened", payload: { eventId: "x", messageId: "y" } },
		);
		expect(result.ackAll).toBe(true);
		const after = await env.DB.prepare("SELECT count(*) AS n FROM unmatched_provider_events").first<{ n: number }>();
		expect(after?.n).toBe(before?.n);
	});

	it("lets the queue redeliver the batch when D1 fails, acking nothing", async () => {
		const { id, messageId } = await sentViaCloudflare();
		failNthBatch(2);
		await expect(deliver(event("delivered", messageId))).rejects.toThrow("D1 is unavailable");
		expect((await emailRow(id)).status).toBe("sent");
	});
});
