/**
 * Cron dispatch on `controller.cron` (the expressions of wrangler.jsonc). An unknown expression throws, so a
 * misconfigured trigger shows up as a failed invocation instead of silently doing nothing.
 */
import { log } from "../lib/log";

export const CRONS = {
	/** Recover lost or stuck sends; release far-future schedules. */
	everyMinute: "* * * * *",
	/** Reconcile delivery status by polling providers. */
	everyFiveMinutes: "*/5 * * * *",
	/** Retention purge. */
	daily: "0 3 * * *",
} as const;

export type CronJob = (env: Env, scheduledTime: number) => Promise<Record<string, number>>;

/**
 * The jobs per expression. The maintenance jobs arrive with the pipeline that needs them; until then an
 * expression runs no job, which is safe: D1 keeps every accepted email and nothing expires unseen.
 */
export const CRON_JOBS: Record<string, CronJob[]> = {
	[CRONS.everyMinute]: [],
	[CRONS.everyFiveMinutes]: [],
	[CRONS.daily]: [],
};

export async function handleScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
	const jobs = CRON_JOBS[controller.cron];
	if (jobs === undefined) throw new Error(`Unknown cron expression ${JSON.stringify(controller.cron)}`);
	for (const job of jobs) {
		const counts = await job(env, controller.scheduledTime);
		log.info("cron_job_done", { cron: controller.cron, job: job.name, ...counts });
	}
}
