/**
 * Cron dispatch on `controller.cron` (the expressions of wrangler.jsonc). An unknown expression throws, so a
 * misconfigured trigger shows up as a failed invocation instead of silently doing nothing.
 */
import { errorFields, log } from "../lib/log";
import { verifyPendingDomains } from "./domains";
import { reconcile } from "./reconcile";
import { recover } from "./recover";
import { release } from "./release";
import { retention } from "./retention";

export const CRONS = {
	/** Recover lost or stuck sends; release far-future schedules. */
	everyMinute: "* * * * *",
	/** Reconcile delivery status by polling providers; look again for pending domains' TXT records. */
	everyFiveMinutes: "*/5 * * * *",
	/** Retention purge. */
	daily: "0 3 * * *",
} as const;

export type CronJob = (env: Env, now: number) => Promise<Record<string, number>>;

/** The jobs per expression, run in order; each is small and bounded (see its file). */
export const CRON_JOBS: Record<string, CronJob[]> = {
	[CRONS.everyMinute]: [recover, release],
	[CRONS.everyFiveMinutes]: [reconcile, verifyPendingDomains],
	[CRONS.daily]: [retention],
};

export async function handleScheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
	const jobs = CRON_JOBS[controller.cron];
	if (jobs === undefined) throw new Error(`Unknown cron expression ${JSON.stringify(controller.cron)}`);
	// Each job runs even if an earlier one failed; the invocation still fails (and shows) if any did.
	const failures: unknown[] = [];
	for (const job of jobs) {
		try {
			const counts = await job(env, controller.scheduledTime);
			log.info("cron_job_done", { cron: controller.cron, job: job.name, ...counts });
		} catch (err) {
			log.error("cron_job_failed", { cron: controller.cron, job: job.name, ...errorFields(err) });
			failures.push(err);
		}
	}
	if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cron job(s) failed for ${controller.cron}`);
}
