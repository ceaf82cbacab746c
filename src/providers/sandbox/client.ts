/**
 * The sandbox provider (docs/architecture.md, "Sandbox"): offline, no credentials, and it drives the same event pipeline as real
 * webhooks. What happens is chosen by a recipient's local part (the first one of to, cc, bcc that names a
 * behaviour; anything else is delivered):
 *
 * `delivered@` sent, delivered · `bounced@` hard bounce · `complained@` delivered, complaint ·
 * `delayed@` delivery_delayed, delivered · `rejected@` permanent rejection · `flaky@` transient failure on the
 * first two attempts, then delivered · `slow@` answers after 2 s, then delivered.
 *
 * Lookup is offline and agrees with the simulation: an email is found iff it has a provider message id (the
 * sandbox never leaves a send uncertain) and its behaviour is not `rejected` (a rejected send never existed);
 * its events are the follow-ups its send reported, dated from `sentAt`.
 */
import { parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import type { ProviderEventType } from "../../lifecycle/provider-events";
import type {
	EmailProvider,
	FollowUpEvent,
	LookupEvent,
	LookupQuery,
	LookupResult,
	OutboundEmail,
	ProviderError,
	SendContext,
	SendOutcome,
} from "../types";

export const BEHAVIOURS = ["delivered", "bounced", "complained", "delayed", "rejected", "flaky", "slow"] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

export const SANDBOX_SLOW_MS = 2000;

function behaviourOf(email: OutboundEmail): { behaviour: Behaviour; recipient: string } {
	const first = email.to[0] ?? "";
	const addresses = [...email.to, ...email.cc, ...email.bcc].map(
		(mailbox) => parseMailbox(mailbox)?.address.toLowerCase() ?? mailbox.toLowerCase(),
	);
	return behaviourOfAddresses(addresses, parseMailbox(first)?.address.toLowerCase() ?? first);
}

/** The first address (lower-cased, bare) whose local part names a behaviour; else `fallback` is delivered. */
function behaviourOfAddresses(addresses: string[], fallback: string): { behaviour: Behaviour; recipient: string } {
	for (const address of addresses) {
		const local = address.slice(0, address.indexOf("@"));
		if ((BEHAVIOURS as readonly string[]).includes(local)) return { behaviour: local as Behaviour, recipient: address };
	}
	return { behaviour: "delivered", recipient: fallback };
}

type SimulatedEvent = { type: ProviderEventType; bounce?: "hard"; offset: number };

/** What a real provider would report for a behaviour, in order; `offset` keeps them milliseconds apart. */
function eventsOfBehaviour(behaviour: Behaviour): SimulatedEvent[] {
	switch (behaviour) {
		case "bounced":
			return [{ type: "bounced", bounce: "hard", offset: 0 }];
		case "complained":
			return [
				{ type: "delivered", offset: 0 },
				{ type: "complained", offset: 1 },
			];
		case "delayed":
			return [
				{ type: "delivery_delayed", offset: 0 },
				{ type: "delivered", offset: 1 },
			];
		case "rejected":
			return [];
		default:
			return [{ type: "delivered", offset: 0 }];
	}
}

export type SandboxOptions = { sleep?: (ms: number) => Promise<void> };

export class SandboxProvider implements EmailProvider {
	readonly name = "sandbox" as const;
	readonly supportsIdempotency = true;
	private readonly sleep: (ms: number) => Promise<void>;

	constructor(options: SandboxOptions = {}) {
		this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
	}

	async send(email: OutboundEmail, context: SendContext): Promise<SendOutcome> {
		const { behaviour } = behaviourOf(email);
		if (behaviour === "rejected") {
			return err({ kind: "permanent", scope: "message", status: 422, code: "sandbox_rejected", message: "Sandbox: recipient rejected" });
		}
		if (behaviour === "flaky" && context.attempt <= 2) {
			return err({ kind: "transient", status: 503, message: `Sandbox: flaky failure on attempt ${context.attempt}` });
		}
		if (behaviour === "slow") await this.sleep(SANDBOX_SLOW_MS);
		const providerMessageId = `sandbox_${email.id}`;
		return ok({ providerMessageId, followUps: this.followUps(email, providerMessageId) });
	}

	/** The webhooks a real provider would send later, recorded right after the `sent` they follow. */
	private followUps(email: OutboundEmail, providerMessageId: string): FollowUpEvent[] {
		const { behaviour, recipient } = behaviourOf(email);
		// Milliseconds apart so the event log keeps the order a real provider would report.
		return eventsOfBehaviour(behaviour).map(({ offset, ...event }) => ({
			...event,
			afterMs: 1 + offset,
			recipient,
			detail: { provider_message_id: providerMessageId },
		}));
	}

	async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
		const { providerMessageId } = query;
		if (providerMessageId === null) return ok({ found: false });
		const { behaviour, recipient } = behaviourOfAddresses(query.recipients, query.recipients[0] ?? "");
		if (behaviour === "rejected") return ok({ found: false });
		const sentAt = query.sentAt ?? Date.now();
		const events: LookupEvent[] = eventsOfBehaviour(behaviour).map(({ offset, ...event }) => ({
			...event,
			at: sentAt + 1 + offset,
			...(recipient !== "" && { recipient }),
			detail: { provider_message_id: providerMessageId },
		}));
		return ok({ found: true, providerMessageId, events });
	}
}
