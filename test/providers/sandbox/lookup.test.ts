import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { SandboxProvider } from "../../../src/providers/sandbox/client";
import type { LookupEvent, LookupQuery } from "../../../src/providers/types";
import { outboundEmail } from "../../helpers/providers";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f14";
const PROVIDER_MESSAGE_ID = `sandbox_${EMAIL_ID}`;
const SENT_AT = Date.parse("2026-11-20T09:00:00Z");

function lookUp(query: Partial<LookupQuery>) {
	return new SandboxProvider().lookup({
		emailId: EMAIL_ID,
		providerMessageId: PROVIDER_MESSAGE_ID,
		recipients: ["ann@example.com"],
		sentAt: SENT_AT,
		...query,
	});
}

function event(type: LookupEvent["type"], recipient: string, offset: number, extra: Partial<LookupEvent> = {}): LookupEvent {
	return { type, at: SENT_AT + 1 + offset, recipient, detail: { provider_message_id: PROVIDER_MESSAGE_ID }, ...extra };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Sandbox lookup", () => {
	it("finds nothing for an email without a provider message id (the sandbox never leaves a send uncertain)", async () => {
		expect(await lookUp({ providerMessageId: null })).toEqual(ok({ found: false }));
	});

	it.each([
		["delivered@", ["delivered@example.com"], [event("delivered", "delivered@example.com", 0)]],
		["bounced@", ["bounced@example.com"], [event("bounced", "bounced@example.com", 0, { bounce: "hard" })]],
		[
			"complained@",
			["complained@example.com"],
			[event("delivered", "complained@example.com", 0), event("complained", "complained@example.com", 1)],
		],
		[
			"delayed@",
			["delayed@example.com"],
			[event("delivery_delayed", "delayed@example.com", 0), event("delivered", "delayed@example.com", 1)],
		],
		["flaky@", ["flaky@example.com"], [event("delivered", "flaky@example.com", 0)]],
		["slow@", ["slow@example.com"], [event("delivered", "slow@example.com", 0)]],
		["any other address", ["ann@example.com", "bob@example.com"], [event("delivered", "ann@example.com", 0)]],
		[
			"the first behaviour address among all recipients",
			["ann@example.com", "bounced@example.com"],
			[event("bounced", "bounced@example.com", 0, { bounce: "hard" })],
		],
	] as [string, string[], LookupEvent[]][])("reports what the simulation records for %s", async (_label, recipients, events) => {
		expect(await lookUp({ recipients })).toEqual(ok({ found: true, providerMessageId: PROVIDER_MESSAGE_ID, events }));
	});

	it("finds nothing for rejected@ (the send was refused, so it never existed)", async () => {
		expect(await lookUp({ recipients: ["rejected@example.com"] })).toEqual(ok({ found: false }));
	});

	it("dates events from now when sentAt is unknown", async () => {
		vi.spyOn(Date, "now").mockReturnValue(1_800_000_000_000);
		expect(await lookUp({ sentAt: null })).toEqual(
			ok({
				found: true,
				providerMessageId: PROVIDER_MESSAGE_ID,
				events: [{ ...event("delivered", "ann@example.com", 0), at: 1_800_000_000_001 }],
			}),
		);
	});

	it.each(["delivered", "bounced", "complained", "delayed", "flaky"])(
		"agrees with the follow-ups its send reported for %s@",
		async (local) => {
			const sandbox = new SandboxProvider();
			const email = outboundEmail({ id: EMAIL_ID, to: ["Ann <ann@example.com>"], cc: [`Test <${local}@example.com>`], bcc: [] });
			const sent = await sandbox.send(email, { attempt: 3 });
			if (!sent.ok) throw new Error("the sandbox refused a deliverable email");
			const result = await sandbox.lookup({
				emailId: EMAIL_ID,
				providerMessageId: sent.value.providerMessageId,
				recipients: ["ann@example.com", `${local}@example.com`],
				sentAt: SENT_AT,
			});
			expect(result).toEqual(
				ok({
					found: true,
					providerMessageId: PROVIDER_MESSAGE_ID,
					events: (sent.value.followUps ?? []).map(({ type, bounce, afterMs, recipient, detail }) => ({
						type,
						...(bounce && { bounce }),
						at: SENT_AT + afterMs,
						recipient,
						detail,
					})),
				}),
			);
		},
	);
});
