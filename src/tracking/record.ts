/**
 * Records a hit on a tracking pixel or link (src/routes/tracking.ts runs this after answering, with `waitUntil`) as an
 * `opened` or `clicked` event of provider `mailroom`, through the one event path (src/lifecycle/provider-events.ts):
 * deduplicated, forward-only `last_event`, fanned out to tenant webhooks as `email.opened` / `email.clicked`.
 *
 * - Dedupe windows: one event per email (opens) or per email and link (clicks) and per window — OPEN_WINDOW_MS,
 *   CLICK_WINDOW_MS, counted in fixed buckets of epoch time — kept apart for machine and human hits, so a scanner's
 *   click never hides the person's that follows. The bucket is part of the event's key (email_events is keyed by
 *   email and key), so D1 keeps one.
 * - Machine hits are flagged, never dropped (`detail.machine`, `detail.machine_reason`): a machine's user agent
 *   (src/tracking/user-agent.ts), a click sooner than MACHINE_CLICK_MS after the email was sent, another link of the
 *   same email clicked within MANY_LINKS_MS (seen in this isolate), or a HEAD request (browsers never send one to a
 *   link). `/analytics` counts unique human opens without them.
 * - Nothing is recorded for an email Mailroom does not have, or past retention (its body purged).
 * - Floods: this isolate remembers the emails it looked up (EMAIL_MEMORY_MS) and the dedupe keys it recorded, so
 *   repeated hits cost no D1 round trip at all, and records at most MAX_HITS_PER_MINUTE per email. A counter in the
 *   RateLimiter Durable Object would bound floods across isolates too, but each hit would then pay a Durable Object
 *   call to save a D1 call; D1's dedupe keys already cap what is stored at one event per link and window.
 * Stored per hit: the user agent's class and, for clicks, the link and its index; never the IP address or the user
 * agent string (README "Tracking", privacy).
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { emails } from "../db/schema";
import { recordProviderEvents } from "../lifecycle/provider-events";
import { enqueueDeliveries, type WebhookQueueMessage } from "../services/webhook-fanout";
import type { TrackingToken } from "./token";
import { classifyUserAgent, isMachineClass, type UserAgentClass } from "./user-agent";

/** The provider name of the events Mailroom's own tracking records. */
export const TRACKING_PROVIDER = "mailroom";
/** Opens of one email within an hour are one (mail clients fetch images again each time a message is shown). */
export const OPEN_WINDOW_MS = 3_600_000;
/** Clicks on one link within ten minutes are one (double clicks, reloads, a second device). */
export const CLICK_WINDOW_MS = 600_000;
/**
 * A click this soon after sending is a security scanner's: delivery itself takes a few seconds, and a person then
 * has to notice, open and click. Kept short because a person waiting for a sign-in link clicks fast.
 */
export const MACHINE_CLICK_MS = 10_000;
/** Two different links of one email clicked this close together were not clicked by a person. */
export const MANY_LINKS_MS = 1_000;
export const MAX_HITS_PER_MINUTE = 30;
const EMAIL_MEMORY_MS = 60_000;
/** Bounds on what one isolate remembers (oldest forgotten first). */
const MEMORY_ENTRIES = 5_000;

export type TrackingHit = {
	token: TrackingToken;
	/** When the request came in (epoch ms). */
	at: number;
	userAgent: string | null;
	method: string;
};

export type TrackingDeps = { db: Db; webhookQueue: Queue<WebhookQueueMessage> };

export type HitOutcome = "recorded" | "duplicate" | "throttled" | "unknown_email" | "past_retention";

type EmailFacts = { tenantId: string; sentAt: number | null; purged: boolean };

/** What this isolate remembers between hits: a bounded map whose entries expire. */
class Memory<T> {
	private readonly entries = new Map<string, { value: T; until: number }>();
	get(key: string, now: number): T | undefined {
		const hit = this.entries.get(key);
		if (hit === undefined || hit.until <= now) return undefined;
		return hit.value;
	}
	set(key: string, value: T, until: number): void {
		this.entries.delete(key);
		this.entries.set(key, { value, until });
		if (this.entries.size > MEMORY_ENTRIES) {
			const oldest = this.entries.keys().next().value;
			if (oldest !== undefined) this.entries.delete(oldest);
		}
	}
}

const known = new Memory<EmailFacts | null>();
const recorded = new Memory<true>();
const perMinute = new Memory<number>();
const recentClicks = new Memory<{ linkIndex: number; at: number }[]>();

export async function recordTrackingHit(deps: TrackingDeps, hit: TrackingHit): Promise<HitOutcome> {
	const { token, at } = hit;
	const facts = await emailFacts(deps.db, token.emailId, at);
	if (facts === null) return "unknown_email";
	if (facts.purged) return "past_retention";

	const userAgentClass = classifyUserAgent(hit.userAgent);
	const machineReason = machineReasonOf(hit, userAgentClass, facts);
	const machine = machineReason !== null;
	const window = token.kind === "open" ? OPEN_WINDOW_MS : CLICK_WINDOW_MS;
	const bucket = Math.floor(at / window);
	const link = token.kind === "click" ? `:${token.linkIndex}` : "";
	// Unique per email: `email_events` is keyed by (email_id, key), so the email's id need not be in it.
	const dedupeKey = `${TRACKING_PROVIDER}:${token.kind}${link}:${machine ? "m" : "h"}:${bucket}`;
	const remembered = `${token.emailId}:${dedupeKey}`;
	if (recorded.get(remembered, at)) return "duplicate";
	const minute = `${token.emailId}:${Math.floor(at / 60_000)}`;
	const count = perMinute.get(minute, at) ?? 0;
	if (count >= MAX_HITS_PER_MINUTE) return "throttled";
	perMinute.set(minute, count + 1, at + 60_000);

	const detail = {
		...(token.kind === "click" && { link: token.url, link_index: token.linkIndex }),
		user_agent_class: userAgentClass,
		machine,
		...(machineReason !== null && { machine_reason: machineReason }),
	};
	const deliveries = await recordProviderEvents(
		deps.db,
		[
			{
				emailId: token.emailId,
				tenantId: facts.tenantId,
				type: token.kind === "open" ? "opened" : "clicked",
				at,
				provider: TRACKING_PROVIDER,
				detail,
				dedupeKey,
			},
		],
		at,
	);
	// Remembered once written: a failed write leaves the next hit free to record it.
	recorded.set(remembered, true, (bucket + 1) * window);
	await enqueueDeliveries(deps.webhookQueue, deliveries);
	return "recorded";
}

/** Why this hit is a machine's, or null for a person's (as far as can be told). */
function machineReasonOf(hit: TrackingHit, userAgentClass: UserAgentClass, facts: EmailFacts): string | null {
	const { token, at } = hit;
	if (isMachineClass(userAgentClass)) return "user_agent";
	if (hit.method === "HEAD") return "head_request";
	if (token.kind !== "click") return null;
	const key = token.emailId;
	const clicks = (recentClicks.get(key, at) ?? []).filter((c) => at - c.at < MANY_LINKS_MS);
	recentClicks.set(key, [...clicks, { linkIndex: token.linkIndex, at }], at + MANY_LINKS_MS);
	if (facts.sentAt !== null && at - facts.sentAt < MACHINE_CLICK_MS) return "clicked_on_arrival";
	if (clicks.some((c) => c.linkIndex !== token.linkIndex)) return "many_links_at_once";
	return null;
}

/** The email's tenant, send time and whether its body was purged; remembered for a minute. Null when unknown. */
async function emailFacts(db: Db, emailId: string, now: number): Promise<EmailFacts | null> {
	const cached = known.get(emailId, now);
	if (cached !== undefined) return cached;
	const [row] = await db
		.select({ tenantId: emails.tenantId, sentAt: emails.sentAt, purged: sql<number>`${emails.html} IS NULL` })
		.from(emails)
		.where(eq(emails.id, emailId))
		.limit(1);
	const facts = row ? { tenantId: row.tenantId, sentAt: row.sentAt, purged: row.purged === 1 } : null;
	known.set(emailId, facts, now + EMAIL_MEMORY_MS);
	return facts;
}
