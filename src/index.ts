/** The Worker's entry: wires the HTTP app, the queue consumers and the crons; exports the Durable Object. */
import { createApp } from "./app";
import { handleScheduled } from "./cron";
import { handleQueue } from "./queue";

export { RateLimiter } from "./durable-objects/rate-limiter";

const app = createApp();

export default {
	fetch: app.fetch,
	queue: handleQueue,
	scheduled: handleScheduled,
} satisfies ExportedHandler<Env>;
