/**
 * The sandbox provider (DESIGN §6): offline, no credentials, and it drives the same event pipeline as real
 * webhooks. What happens is chosen by a recipient's local part (the first one of to, cc, bcc that names a
 * behaviour; anything else is delivered):
 *
 * `delivered@` sent, delivered · `bounced@` hard bounce · `complained@` delivered, complaint ·
 * `delayed@` delivery_delayed, delivered · `rejected@` permanent rejection · `flaky@` transient failure on the
 * first two attempts, then delivered · `slow@` answers after 2 s, then delivered.
 */
import { parseMailbox } from "../lib/address";
import { err, ok } from "../lib/result";
import type { ProviderEvent } from "../services/events";
import type { EmailProvider, OutboundEmail, SendContext, SendOutcome } from "./types";

const BEHAVIOURS = ["delivered", "bounced", "complained", "delayed", "rejected", "flaky", "slow"] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

export const SANDBOX_SLOW_MS = 2000;

function behaviourOf(email: OutboundEmail): { behaviour: Behaviour; recipient: string } {
	for (const mailbox of [...email.to, ...email.cc, ...email.bcc]) {
		const address = parseMailbox(mailbox)?.address.toLowerCase() ?? mailbox.toLowerCase();
		const local = address.slice(0, address.indexOf("@"));
		if ((BEHAVIOURS as readonly string[]).includes(local)) return { behaviour: local as Behaviour, recipient: address };
	}
	const first = email.to[0] ?? "";
	return { behaviour: "delivered", recipient: parseMailbox(first)?.address.toLowerCase() ?? first };
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
		return ok({ providerMessageId: `sandbox_${email.id}` });
	}

	/** The webhooks a real provider would send later, recorded right after the send is. */
	simulatedEvents(email: OutboundEmail, providerMessageId: string, now: number): ProviderEvent[] {
		const { behaviour, recipient } = behaviourOf(email);
		const base = {
			emailId: email.id,
			tenantId: email.tenantId,
			provider: this.name,
			recipient,
			detail: { provider_message_id: providerMessageId },
		};
		// Milliseconds apart so the event log keeps the order a real provider would report.
		const at = (i: number) => now + 1 + i;
		switch (behaviour) {
			case "bounced":
				return [{ ...base, type: "bounced", bounce: "hard", at: at(0) }];
			case "complained":
				return [
					{ ...base, type: "delivered", at: at(0) },
					{ ...base, type: "complained", at: at(1) },
				];
			case "delayed":
				return [
					{ ...base, type: "delivery_delayed", at: at(0) },
					{ ...base, type: "delivered", at: at(1) },
				];
			case "rejected":
				return [];
			default:
				return [{ ...base, type: "delivered", at: at(0) }];
		}
	}
}
