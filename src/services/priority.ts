/** An email's priority lane, chosen once at accept (README, "Priority lanes"). */
import { EMAIL_PRIORITIES, type EmailPriority } from "../db/schema";
import { PRIORITY_TAG } from "../schemas/email";

export type PriorityDefaults = {
	/** The sending API key's `priority`; null when it has none. */
	keyPriority: EmailPriority | null;
	/** Emails in the request (1 for `POST /emails`). */
	requestSize: number;
	/** BULK_BATCH_THRESHOLD: a larger request is bulk unless something above says otherwise. */
	bulkBatchThreshold: number;
};

/**
 * The first that applies: the email's `priority` field; its `priority` tag (for clients that can only send Resend's
 * fields); the API key's default; `bulk` for a request of more than BULK_BATCH_THRESHOLD emails; else `normal`.
 * Values were validated by the request schema (src/schemas/email.ts), so a tag here is a valid priority.
 *
 * @example
 * choosePriority({ tags: [{ name: "priority", value: "high" }] }, { keyPriority: null, requestSize: 1, bulkBatchThreshold: 10 }); // "high"
 */
export function choosePriority(
	email: { priority?: EmailPriority | undefined; tags?: readonly { name: string; value: string }[] | undefined },
	defaults: PriorityDefaults,
): EmailPriority {
	if (email.priority) return email.priority;
	const tag = email.tags?.find((t) => t.name === PRIORITY_TAG)?.value;
	if (tag !== undefined && isPriority(tag)) return tag;
	if (defaults.keyPriority) return defaults.keyPriority;
	return defaults.requestSize > defaults.bulkBatchThreshold ? "bulk" : "normal";
}

function isPriority(value: string): value is EmailPriority {
	return (EMAIL_PRIORITIES as readonly string[]).includes(value);
}
