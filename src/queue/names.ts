/**
 * The queues this Worker consumes, by role. An environment's queues carry its suffix (`mailroom-send-staging`,
 * `mailroom-send-dlq-production`: `npm run envs`, wrangler.jsonc), so a batch's queue name is matched to the longest
 * base name it equals or extends with `-<environment>`. No imports: the operator scripts' tests read it too.
 */
export const QUEUE_NAMES = {
	send: "mailroom-send",
	/** The bulk lane (./lanes.ts): same consumer as `send`, its own queue and settings. */
	sendBulk: "mailroom-send-bulk",
	sendDeadLetter: "mailroom-send-dlq",
	webhooks: "mailroom-webhooks",
	webhooksDeadLetter: "mailroom-webhooks-dlq",
	/** Cloudflare Email Sending's delivery events (a Queues event subscription, see the README). */
	emailEvents: "mailroom-email-events",
} as const;

export type QueueRole = keyof typeof QUEUE_NAMES;

const LONGEST_FIRST = (Object.entries(QUEUE_NAMES) as [QueueRole, string][]).sort((a, b) => b[1].length - a[1].length);

/** The role of a queue by its name in any environment, or null for a queue this Worker does not consume. */
export function queueRole(queue: string): QueueRole | null {
	for (const [role, base] of LONGEST_FIRST) {
		if (queue === base || (queue.startsWith(`${base}-`) && /^[a-z0-9][a-z0-9-]*$/.test(queue.slice(base.length + 1)))) {
			return role;
		}
	}
	return null;
}
