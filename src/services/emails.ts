/** Changes to an accepted email after the fact: cancel and reschedule (Resend's `POST /cancel`, `PATCH`). */
import { QUEUE_MAX_DELAY_SECONDS } from "../config";
import type { Db } from "../db/client";
import { getEmail } from "../db/emails";
import type { EmailRow } from "../db/schema";
import { ApiError } from "../errors";
import { errorFields, log } from "../lib/log";
import { cancelEmail as cancelTransition, rescheduleEmail as rescheduleTransition } from "../lifecycle/tenant-actions";
import { enqueueOne, type SendQueues } from "../queue/lanes";
import { parseSchedule } from "./accept";
import { enqueueDeliveries, type WebhookQueueMessage } from "./webhook-fanout";

type Deps = {
	db: Db;
	sendQueues: SendQueues;
	webhookQueue: Queue<WebhookQueueMessage>;
	tenantId: string;
	now: number;
};

/** Cancels an email that is still `scheduled`, or `queued` and not yet claimed by the consumer (nor pinned). */
export async function cancelEmail(deps: Deps, id: string): Promise<EmailRow> {
	const done = await cancelTransition(deps.db, deps.tenantId, id, deps.now);
	if (done) {
		await enqueueDeliveries(deps.webhookQueue, done.deliveryIds);
		return done.row;
	}
	const current = await getEmail(deps.db, deps.tenantId, id);
	if (current?.pinnedProvider && (current.status === "queued" || current.status === "scheduled")) {
		throw new ApiError(
			"invalid_state",
			`Email cannot be canceled: an earlier attempt may have reached ${current.pinnedProvider}, so it is being settled there rather than taken back`,
		);
	}
	throw whyNot(current, "canceled", "it is already");
}

/**
 * Moves a scheduled email to a new time. A queue message already sent for the old time stays in the queue;
 * the consumer only claims a scheduled row once its (current) `scheduled_at` has come.
 */
export async function rescheduleEmail(deps: Deps, id: string, scheduledAtInput: string): Promise<EmailRow> {
	const at = parseSchedule(scheduledAtInput, deps.now);
	if (at instanceof ApiError) throw at;
	if (at <= deps.now) throw new ApiError("validation_error", "scheduled_at must be in the future");
	// A message is sent below when the new time is within the queue's delay limit; else the release cron will.
	const done = await rescheduleTransition(deps.db, deps.tenantId, id, {
		scheduledAt: at,
		nextAttemptAt: Math.ceil((at - deps.now) / 1000) <= QUEUE_MAX_DELAY_SECONDS ? at : null,
		now: deps.now,
	});
	if (!done) throw whyNot(await getEmail(deps.db, deps.tenantId, id), "rescheduled", "it is");
	const { row } = done;
	await enqueueDeliveries(deps.webhookQueue, done.deliveryIds);
	const delaySeconds = Math.ceil((at - deps.now) / 1000);
	if (delaySeconds <= QUEUE_MAX_DELAY_SECONDS) {
		await enqueueOne(deps.sendQueues, { id: row.id, tenantId: row.tenantId, priority: row.priority, delaySeconds }).catch((err) =>
			log.warn("enqueue_failed", { ids: [row.id], ...errorFields(err) }),
		);
	}
	return row;
}

function whyNot(current: EmailRow | undefined | null, verb: string, state: string): ApiError {
	if (!current) return new ApiError("not_found", "Email not found");
	return new ApiError("invalid_state", `Email cannot be ${verb}: ${state} ${current.status}`);
}
