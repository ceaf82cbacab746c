import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { QUEUE_NAMES, UNPROCESSED_RETRY_SECONDS } from "../../src/queue";

const message = (id: string, body: unknown) => ({ id, timestamp: new Date(), attempts: 1, body });

describe("queue consumers before delivery exists", () => {
	it.each(Object.values(QUEUE_NAMES))("%s retries every message later and acks none", async (queue) => {
		const batch = createMessageBatch(queue, [
			message("q1", { v: 1, id: "e1", tenantId: "t1" }),
			message("q2", { v: 1, id: "e2", tenantId: "t1" }),
		]);
		const retryAll = vi.spyOn(batch, "retryAll");
		const ctx = createExecutionContext();
		await worker.queue(batch, env, ctx);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual([]);
		expect(result.ackAll).toBe(false);
		expect(retryAll).toHaveBeenCalledWith({ delaySeconds: UNPROCESSED_RETRY_SECONDS });
	});

	it("keeps a malformed send message instead of dropping it", async () => {
		const batch = createMessageBatch(QUEUE_NAMES.send, [message("bad", { hello: "world" })]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env, ctx);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual([]);
		expect(result.retryBatch.retry).toBe(true);
	});

	it("throws for a queue it does not know, so the platform retries the batch", async () => {
		const batch = createMessageBatch("some-other-queue", [message("x", {})]);
		await expect(worker.queue(batch, env, createExecutionContext())).rejects.toThrow("No consumer for queue some-other-queue");
	});
});
