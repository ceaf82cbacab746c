/**
 * The email lifecycle, written once: every status change Mailroom makes, where it may start, where it ends, and
 * why. The statement builders in this folder are the only code that writes `emails.status`, and each names the
 * transition it implements, so this table is the whole story (docs/architecture.md shows it, and a test checks
 * the doc against it).
 *
 * Guards, in short: a claim takes a row only from `queued` (or a due `scheduled`); every outcome of an attempt is
 * guarded by the claim's attempt token and `status = 'sending'`, so an attempt whose lease expired never
 * overwrites a newer one; provider events only move a status up its rank (STATUS_RANK), so late and replayed
 * events converge; `failed` and `canceled` are final except for a deliberate dead-letter replay.
 */
import type { EmailStatus } from "../db/schema";

export type Transition = {
	readonly from: readonly EmailStatus[];
	readonly to: readonly EmailStatus[];
	/** Who makes it. */
	readonly by: string;
	readonly why: string;
};

export const TRANSITIONS = {
	accept: {
		from: [],
		to: ["queued", "scheduled"],
		by: "API",
		why: "the row, its event and its queue message exist before the API answers",
	},
	cancel: {
		from: ["scheduled", "queued"],
		to: ["canceled"],
		by: "API",
		why: "only an email no consumer has claimed, and no attempt may have reached a provider (unpinned), can be taken back",
	},
	reschedule: {
		from: ["scheduled"],
		to: ["scheduled"],
		by: "API",
		why: "a new time; the consumer claims a scheduled row only once it is due",
	},
	claim: {
		from: ["queued", "scheduled"],
		to: ["sending"],
		by: "consumer",
		why: "new attempt token, lease and attempt count; the provider of the attempt is written before any call",
	},
	reassign: {
		from: ["sending"],
		to: ["sending"],
		by: "consumer",
		why: "before the call, to the next provider when the claimed one is unavailable and the email is not pinned",
	},
	markSent: { from: ["sending", "queued", "uncertain"], to: ["sent"], by: "consumer", why: "the provider accepted it and gave its id" },
	retry: {
		from: ["sending"],
		to: ["queued"],
		by: "consumer",
		why: "a definite failure (next provider at once) or an unknown outcome at a provider that deduplicates by our id (pinned there, after a backoff)",
	},
	giveBack: {
		from: ["sending"],
		to: ["queued"],
		by: "consumer",
		why: "no call was made (no permit, open circuits, limiter unavailable, lease too short for the call): no attempt is spent",
	},
	markUncertain: {
		from: ["sending"],
		to: ["uncertain"],
		by: "consumer",
		why: "no answer from a provider without idempotency, or attempts exhausted while the email may have been sent",
	},
	fail: {
		from: ["sending"],
		to: ["failed"],
		by: "consumer",
		why: "a permanent refusal, a suppressed recipient, or attempts exhausted after definite failures (dead letter)",
	},
	expireLease: {
		from: ["sending"],
		to: ["queued", "uncertain"],
		by: "consumer, recover cron",
		why: "the attempt's lease ran out: pinned and queued where the provider deduplicates and attempts remain, else uncertain",
	},
	providerEvent: {
		from: ["sending", "queued", "uncertain", "sent", "delivery_delayed", "delivered", "bounced"],
		to: ["sent", "delivery_delayed", "delivered", "bounced", "complained", "failed"],
		by: "provider webhooks, reconcile, sandbox",
		why: "forward only, by rank; engagement (opened, clicked) moves last_event only",
	},
	foundAtProvider: { from: ["uncertain"], to: ["sent"], by: "reconcile cron", why: "a lookup found it: it was sent once" },
	notSentAtProvider: {
		from: ["uncertain"],
		to: ["queued"],
		by: "reconcile cron",
		why: "two lookups one interval apart within this uncertain episode found no trace: it was never sent",
	},
	unresolved: {
		from: ["uncertain"],
		to: ["failed"],
		by: "reconcile cron",
		why: "still unknown UNRESOLVED_AFTER_SECONDS into the episode: failed (unresolved_at_provider) with a dead letter",
	},
	queueExhausted: {
		from: ["queued", "scheduled"],
		to: ["failed"],
		by: "dead-letter consumer",
		why: "the queue gave up on its message (max_retries): failed with a dead letter, never dropped",
	},
	replay: {
		from: ["failed"],
		to: ["queued"],
		by: "API",
		why: "a deliberate dead-letter replay: fresh attempt count, optionally another provider",
	},
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/**
 * Rank of each status: provider events may only move an email to a higher one (`failed` and `canceled` are
 * final). `sending` and `uncertain` share a rank: an event about the email proves it was sent, so it resolves both.
 */
export const STATUS_RANK: Record<EmailStatus, number> = {
	scheduled: 0,
	queued: 1,
	sending: 2,
	uncertain: 2,
	sent: 3,
	delivery_delayed: 4,
	delivered: 5,
	bounced: 6,
	complained: 7,
	failed: 9,
	canceled: 9,
};

/** Rank of `last_event` values: engagement sits between delivery and its failures. */
export const LAST_EVENT_RANK: Record<string, number> = {
	scheduled: 0,
	queued: 1,
	sending: 2,
	uncertain: 2,
	sent: 3,
	delivery_delayed: 4,
	delivered: 5,
	opened: 6,
	clicked: 7,
	bounced: 8,
	complained: 9,
	failed: 10,
	canceled: 10,
};

/** Statuses after which nothing more happens to an email (retention may purge its body and events). */
export const ENDED_STATUSES = ["delivered", "bounced", "complained", "failed", "canceled"] as const satisfies readonly EmailStatus[];

/** The table as Markdown, for docs/architecture.md (test/lifecycle/transitions.test.ts keeps the doc in step). */
export function transitionTableMarkdown(): string {
	const rows = Object.entries(TRANSITIONS).map(
		([name, t]) => `| \`${name}\` | ${t.from.length > 0 ? t.from.join(", ") : "—"} | ${t.to.join(", ")} | ${t.by} | ${t.why} |`,
	);
	return ["| transition | from | to | by | why |", "|---|---|---|---|---|", ...rows].join("\n");
}
