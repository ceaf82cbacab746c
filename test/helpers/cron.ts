import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";

/** Runs the Worker's scheduled handler for `cron` as if it were `at` (epoch ms). */
export async function runCron(cron: string, at: number): Promise<void> {
	const ctx = createExecutionContext();
	await worker.scheduled(createScheduledController({ scheduledTime: new Date(at), cron }), env, ctx);
	await waitOnExecutionContext(ctx);
}
