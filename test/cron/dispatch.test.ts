import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CRONS } from "../../src/cron";
import worker from "../../src/index";

describe("scheduled", () => {
	it.each(Object.values(CRONS))("runs the jobs of %s without error", async (cron) => {
		const ctx = createExecutionContext();
		await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron }), env, ctx);
		await waitOnExecutionContext(ctx);
	});

	it("throws for a cron expression it does not know", async () => {
		const controller = createScheduledController({ scheduledTime: new Date(), cron: "0 0 1 1 *" });
		await expect(worker.scheduled(controller, env, createExecutionContext())).rejects.toThrow("Unknown cron expression");
	});
});
