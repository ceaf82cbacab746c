/**
 * The consumer of `mailroom-webhooks`: delivers one signed event to one tenant endpoint per message (docs/architecture.md, "Tenant webhooks").
 *
 * Two D1 round trips per batch: read the deliveries with their endpoint and email; record every attempt and
 * outcome. A 2xx is delivered. Anything else (non-2xx, redirect, timeout, network error) is retried on the
 * Standard Webhooks schedule, no sooner than `Retry-After`, until WEBHOOK_MAX_ATTEMPTS, then `failed`; every attempt
 * is visible in `GET /webhooks/:id/deliveries`. A 410 Gone disables the endpoint. Deliveries are at least once:
 * receivers deduplicate on `webhook-id`, which is the same on every retry.
 */
import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { getConfig } from "../config";
import { chunk, type Db, getDb, runBatch, type Statement } from "../db/client";
import {
	type EmailRow,
	emails,
	type WebhookDeliveryRow,
	type WebhookRow,
	webhookAttempts,
	webhookDeliveries,
	webhooks,
} from "../db/schema";
import { mapWithConcurrency } from "../lib/concurrency";
import { errorFields, log } from "../lib/log";
import { iso } from "../lib/time";
import { type UrlPolicy, urlProblem } from "../lib/url-policy";
import { retryAfterSeconds } from "../providers/http";
import { signatureHeaders, signingSecrets, signWithAll } from "../webhooks/outbound/sign";

/** Delay before attempt n+1 after attempt n failed: immediately-ish, 5 min, 30 min, 2 h, 5 h, 10 h, 12 h. */
export const WEBHOOK_RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 43_200] as const;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_SCHEDULE_SECONDS.length + 1;
export const WEBHOOK_TIMEOUT_MS = 15_000;

const Message = z.object({ v: z.literal(1), id: z.string().min(1) });

export type WebhookConsumerDeps = { db: Db; fetch: typeof fetch; now: () => number; timeoutMs: number; urlPolicy: UrlPolicy };

export function webhookConsumerDeps(env: Env): WebhookConsumerDeps {
	return {
		db: getDb(env.DB),
		fetch: (input, init) => fetch(input, init),
		now: Date.now,
		timeoutMs: WEBHOOK_TIMEOUT_MS,
		urlPolicy: { allowInsecure: getConfig(env).allowHttpWebhooks },
	};
}

type Loaded = { delivery: WebhookDeliveryRow; webhook: WebhookRow; email: EmailRow | null };
type Attempt = { ok: boolean; statusCode: number | null; error: string | null; durationMs: number; retryAfter?: number; gone: boolean };

export async function consumeWebhookBatch(batch: MessageBatch<unknown>, deps: WebhookConsumerDeps): Promise<void> {
	const byId = new Map<string, Message<unknown>>();
	for (const message of batch.messages) {
		const parsed = Message.safeParse(message.body);
		if (!parsed.success) {
			log.error("webhook_message_malformed", { messageId: message.id });
			message.ack();
		} else if (byId.has(parsed.data.id)) message.ack();
		else byId.set(parsed.data.id, message);
	}
	if (byId.size === 0) return;

	// Plain queries, not a batch: drizzle maps joined rows inside a D1 batch by column name, and these three tables
	// share names (id, tenant_id, …). With a consumer batch size of 50 this is one query.
	const loaded = new Map<string, Loaded>();
	for (const ids of chunk([...byId.keys()], 99)) {
		const rows = await deps.db
			.select({ delivery: webhookDeliveries, webhook: webhooks, email: emails })
			.from(webhookDeliveries)
			.innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
			.leftJoin(emails, eq(emails.id, webhookDeliveries.emailId))
			.where(inArray(webhookDeliveries.id, ids));
		for (const row of rows) loaded.set(row.delivery.id, row);
	}

	const now = deps.now();
	const statements: Statement[] = [];
	const work: { message: Message<unknown>; item: Loaded }[] = [];
	for (const [id, message] of byId) {
		const item = loaded.get(id);
		if (item?.delivery.status !== "pending") {
			message.ack(); // delivered, failed or canceled already (a duplicate message), or gone
			continue;
		}
		if (item.webhook.deletedAt !== null || item.webhook.disabledAt !== null || item.email === null) {
			statements.push(deps.db.update(webhookDeliveries).set({ status: "canceled", updatedAt: now }).where(eq(webhookDeliveries.id, id)));
			message.ack();
			continue;
		}
		work.push({ message, item });
	}

	const attempts = await mapWithConcurrency(work, 6, ({ item }) => deliver(item, deps));
	const decisions = work.map(({ item }, i) => {
		const attempt = attempts[i] as Attempt;
		const number = item.delivery.attempts + 1;
		const status = attempt.ok
			? ("delivered" as const)
			: attempt.gone || number >= WEBHOOK_MAX_ATTEMPTS
				? ("failed" as const)
				: ("pending" as const);
		const scheduled = WEBHOOK_RETRY_SCHEDULE_SECONDS[number - 1] ?? 43_200;
		const delaySeconds = Math.min(43_200, Math.max(scheduled, attempt.retryAfter ?? 0));
		statements.push(
			deps.db.insert(webhookAttempts).values({
				deliveryId: item.delivery.id,
				attempt: number,
				at: now,
				statusCode: attempt.statusCode,
				error: attempt.error,
				durationMs: attempt.durationMs,
			}),
			deps.db
				.update(webhookDeliveries)
				.set({
					status,
					attempts: number,
					lastStatusCode: attempt.statusCode,
					lastError: attempt.error,
					updatedAt: now,
					...(attempt.ok ? { deliveredAt: now } : {}),
					...(status === "pending" ? { nextAttemptAt: now + delaySeconds * 1000 } : {}),
				})
				.where(eq(webhookDeliveries.id, item.delivery.id)),
		);
		if (attempt.gone) statements.push(deps.db.update(webhooks).set({ disabledAt: now }).where(eq(webhooks.id, item.webhook.id)));
		return { status, delaySeconds };
	});

	if (statements.length > 0) {
		try {
			await runBatch(deps.db, statements);
		} catch (err) {
			// Not recorded: offer every message again; receivers deduplicate a repeated webhook-id.
			log.error("webhook_outcomes_not_recorded", errorFields(err));
			for (const { message } of work) message.retry({ delaySeconds: 30 });
			return;
		}
	}
	work.forEach(({ message, item }, i) => {
		const decision = decisions[i] as { status: string; delaySeconds: number };
		if (decision.status === "pending") message.retry({ delaySeconds: decision.delaySeconds });
		else message.ack();
		if (decision.status === "failed")
			log.warn("webhook_delivery_failed", { deliveryId: item.delivery.id, endpoint: item.webhook.endpoint });
	});
}

async function deliver(item: Loaded, deps: WebhookConsumerDeps): Promise<Attempt> {
	const body = JSON.stringify(webhookPayload(item));
	const now = deps.now();
	const timestamp = Math.floor(now / 1000);
	// Signed when sent, not when queued: a delivery pending across a rotation carries the new and the previous signature.
	const signature = await signWithAll(signingSecrets(item.webhook, now), item.delivery.id, timestamp, body);
	const started = Date.now();
	// Checked again at every delivery: the policy (or ALLOW_HTTP_WEBHOOKS) may have changed since the endpoint was added.
	const refused = urlProblem(item.webhook.endpoint, deps.urlPolicy);
	if (refused) return { ok: false, statusCode: null, error: `endpoint ${refused} (URL policy)`, durationMs: 0, gone: false };
	try {
		const response = await deps.fetch(item.webhook.endpoint, {
			method: "POST",
			headers: {
				"content-type": "application/json",
				"user-agent": "Mailroom-Webhooks/1",
				...signatureHeaders(item.delivery.id, timestamp, signature),
			},
			body,
			// A redirect is a failure (Standard Webhooks): it is not followed.
			redirect: "manual",
			signal: AbortSignal.timeout(deps.timeoutMs),
		});
		await response.body?.cancel();
		const ok = response.status >= 200 && response.status < 300;
		const retryAfter = retryAfterSeconds(response.headers);
		return {
			ok,
			statusCode: response.status,
			error: ok ? null : `endpoint answered ${response.status}`,
			durationMs: Date.now() - started,
			gone: response.status === 410,
			...(retryAfter !== undefined ? { retryAfter } : {}),
		};
	} catch (err) {
		const timeout = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
		return {
			ok: false,
			statusCode: null,
			error: timeout ? `no answer within ${deps.timeoutMs} ms` : `network error: ${err instanceof Error ? err.message : String(err)}`,
			durationMs: Date.now() - started,
			gone: false,
		};
	}
}

/** Resend's envelope: `{ type, created_at, data: { email_id, from, to, subject, tags, … } }`. */
export function webhookPayload({ delivery, email }: Loaded): Record<string, unknown> {
	const detail = delivery.eventDetail ?? {};
	const data: Record<string, unknown> = {
		email_id: delivery.emailId,
		created_at: email ? iso(email.createdAt) : null,
		from: email?.from ?? null,
		to: email?.to ?? [],
		subject: email?.subject ?? null,
		tags: Object.fromEntries((email?.tags ?? []).map((t) => [t.name, t.value])),
	};
	switch (delivery.eventType) {
		case "email.bounced":
			data.bounce = {
				type: detail.bounce_type === "soft" ? "Transient" : "Permanent",
				message: detail.message ?? detail.reason ?? null,
				recipient: detail.recipient ?? null,
			};
			break;
		case "email.opened":
			data.open = { timestamp: iso(delivery.eventAt), ...engagementOf(detail) };
			break;
		case "email.clicked":
			data.click = { link: detail.link ?? null, timestamp: iso(delivery.eventAt), ...engagementOf(detail) };
			break;
		case "email.failed":
			data.failed = { reason: detail.reason ?? detail.error ?? null };
			break;
		case "email.scheduled":
			data.scheduled_at = detail.scheduled_at ?? (email?.scheduledAt ? iso(email.scheduledAt) : null);
			break;
	}
	return { type: delivery.eventType, created_at: iso(delivery.eventAt), data };
}

/**
 * Who opened or clicked, in Resend's fields: `userAgent` and `ipAddress` are always empty strings, since Mailroom
 * keeps neither (README "Tracking", privacy); its own tracking adds the user agent's class and the machine flag.
 */
function engagementOf(detail: Record<string, unknown>): Record<string, unknown> {
	return {
		userAgent: "",
		ipAddress: "",
		...(typeof detail.user_agent_class === "string" && { user_agent_class: detail.user_agent_class }),
		...(typeof detail.machine === "boolean" && { machine: detail.machine }),
		...(typeof detail.machine_reason === "string" && { machine_reason: detail.machine_reason }),
	};
}

/**
 * `mailroom-webhooks-dlq`: webhook messages the queue gave up on (the consumer kept throwing). Their deliveries are
 * marked `failed` with the reason, so the tenant sees them in the delivery log; then the messages are acked.
 */
export async function consumeWebhookDeadLetters(batch: MessageBatch<unknown>, db: Db, now: number = Date.now()): Promise<void> {
	const ids = batch.messages.flatMap((m) => {
		const parsed = Message.safeParse(m.body);
		return parsed.success ? [parsed.data.id] : [];
	});
	const statements = chunk(ids, 99).map((part) =>
		db
			.update(webhookDeliveries)
			.set({ status: "failed", lastError: "webhook queue retries exhausted", updatedAt: now })
			.where(and(inArray(webhookDeliveries.id, part), eq(webhookDeliveries.status, "pending"))),
	);
	if (statements.length > 0) await runBatch(db, statements);
	batch.ackAll();
	log.warn("webhook_dead_letters_recorded", { count: batch.messages.length });
}
