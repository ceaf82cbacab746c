/** The Worker's entry: wires the HTTP app, the queue consumers and the crons; exports the Durable Object. */
import { createApp } from "./app";
import { handleScheduled } from "./cron";
import { benchMetricsEnabled, instrumented, type Phase, queuePhase } from "./lib/bench-metrics";
import { limiterFaultRate, withLimiterFaults } from "./lib/chaos-faults";
import { handleQueue } from "./queue";

export { RateLimiter } from "./durable-objects/rate-limiter";

const app = createApp();

/** Which phase of the pipeline a request belongs to, for the benchmark's counters. */
function phaseOf(request: Request): Phase {
	const { pathname } = new URL(request.url);
	if (request.method === "POST" && (pathname === "/emails" || pathname === "/emails/batch")) return "accept";
	if (pathname.startsWith("/provider-webhooks/")) return "webhook";
	return "other";
}

export default {
	fetch: (request, env, ctx) => app.fetch(request, benchMetricsEnabled(env) ? instrumented(env, phaseOf(request)) : env, ctx),
	queue: (batch, env, ctx) => {
		const measured = benchMetricsEnabled(env) ? instrumented(env, queuePhase(batch.queue)) : env;
		const faults = limiterFaultRate(env);
		return handleQueue(batch, faults > 0 ? withLimiterFaults(measured, faults) : measured, ctx);
	},
	scheduled: (controller, env, ctx) => handleScheduled(controller, benchMetricsEnabled(env) ? instrumented(env, "cron") : env, ctx),
} satisfies ExportedHandler<Env>;
