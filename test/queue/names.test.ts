import { describe, expect, it } from "vitest";
import { queueRole } from "../../src/queue/names";

describe("queueRole", () => {
	it.each([
		["mailroom-send", "send"],
		["mailroom-send-staging", "send"],
		["mailroom-send-dlq", "sendDeadLetter"],
		["mailroom-send-dlq-production", "sendDeadLetter"],
		["mailroom-send-bulk", "sendBulk"],
		["mailroom-send-bulk-staging", "sendBulk"],
		["mailroom-webhooks-dlq-qa-2", "webhooksDeadLetter"],
		["mailroom-email-events-staging", "emailEvents"],
	])("%s is consumed as %s", (queue, role) => {
		expect(queueRole(queue)).toBe(role);
	});

	it.each(["mailroom-sender", "mailroom-send-", "mailroom-send-Staging", "other-send", "mailroom"])("%s is no queue of ours", (queue) => {
		expect(queueRole(queue)).toBeNull();
	});
});
