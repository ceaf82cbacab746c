/**
 * The provider contract for transports that are not HTTP requests — SMTP over sockets, a Workers binding — with the
 * same classes of checks as ./provider-contract.ts (which stays the suite of HTTP adapters, its answers being
 * `Response`s): each transport's fixture says how its own wire answers, and the suite holds every adapter to the
 * same outcome classes.
 *
 * Send: an accepted email gives the provider's id, once; a rate limit is `rate_limited` (with the provider's retry
 * time where it gives one); answers that say nothing was sent are `transient`; answers that do not say whether it
 * was are `uncertain`; bad credentials are a provider-level permanent error (failover); a refusal of the message
 * is permanent for the email; garbage is classified, never thrown — definite only if it came before the message
 * left, never a definite failure after. No answer: before the message left, definite where the transport can tell
 * (SMTP before the end of data; a binding call has no "before" and its fixture says so); after, `uncertain`.
 * Events: every event type the transport maps becomes the mapped event about the message; an unreadable event is
 * an error, not an event.
 */
import { describe, expect, it } from "vitest";
import type { ProviderEventType } from "../../src/lifecycle/provider-events";
import type { EmailProvider, InboundEvent, OutboundEmail, ProviderModule, SendOutcome } from "../../src/providers/types";
import { outboundEmail } from "../helpers/providers";

export type TransportContract<A> = {
	module: ProviderModule;
	/**
	 * The module's adapter with its transport answering `answer`; `accepted()` counts the messages the transport took
	 * (the provider's side of "sent"); `done()` releases what the adapter holds (pooled connections).
	 */
	adapter(answer: A, timeoutMs: number): { provider: EmailProvider; accepted: () => number; done?: () => Promise<void> };
	email?: OutboundEmail;
	answers: {
		accepted: A;
		/** The provider id the accepted answer gives. */
		acceptedId: string | RegExp;
		rateLimited: A;
		retryAfterSeconds?: number;
		/** Answers that say nothing was sent, by name. */
		transient: Record<string, A>;
		/** Answers after which the message may have been sent, by name. */
		uncertain: Record<string, A>;
		authFailure: A;
		/** The provider refuses this message for good (content, recipients). */
		refused: A;
		/** Answers that are not what the protocol documents; `left`: whether the message had left when it came. */
		garbage: Record<string, { answer: A; left: boolean }>;
		/** No answer before the message left; `{ none: why }` where the transport has no such moment. */
		noAnswerBefore: A | { none: string };
		/** No answer after the message left (the fixture makes it arrive later than the adapter waits). */
		noAnswerAfter: A;
	};
	events?: {
		types: ReadonlyMap<string, ProviderEventType>;
		/** The transport's event of `type` about `providerMessageId`, parsed by the adapter's code. */
		parse(type: string, about: { providerMessageId: string; now: number }): InboundEvent | null | { error: string };
		/** Something arriving on the event channel that is not an event. */
		garbage: unknown[];
		parseRaw(body: unknown): InboundEvent | null | { error: string };
	};
};

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9fc1";
const SHORT_TIMEOUT_MS = 60;

export function describeTransportContract<A>(contract: TransportContract<A>): void {
	const { module, answers } = contract;
	const email = contract.email ?? outboundEmail({ id: EMAIL_ID });
	const send = async (answer: A, timeoutMs = 2_000): Promise<{ outcome: SendOutcome; calls: number }> => {
		const { provider, accepted, done } = contract.adapter(answer, timeoutMs);
		const outcome = await provider.send(email, { attempt: 1 });
		await done?.();
		return { outcome, calls: accepted() };
	};

	describe(`${module.title}: the transport contract`, () => {
		it("sends an accepted email once and returns the provider's id", async () => {
			const { outcome, calls } = await send(answers.accepted);
			expect(outcome.ok).toBe(true);
			if (outcome.ok) expect(outcome.value.providerMessageId).toMatch(answers.acceptedId);
			expect(calls).toBe(1);
		});

		it("reads a rate limit as rate_limited, with the provider's retry time where it gives one", async () => {
			const { outcome } = await send(answers.rateLimited);
			expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited" } });
			if (answers.retryAfterSeconds !== undefined && !outcome.ok && "retryAfterSeconds" in outcome.error) {
				expect(Math.abs((outcome.error.retryAfterSeconds ?? -99) - answers.retryAfterSeconds)).toBeLessThanOrEqual(1);
			}
		});

		it.each(Object.entries(answers.transient))("treats %s as transient: nothing was sent", async (_name, answer) => {
			const { outcome, calls } = await send(answer);
			expect(outcome).toMatchObject({ ok: false, error: { kind: "transient" } });
			expect(calls).toBe(0);
		});

		it.each(Object.entries(answers.uncertain))("treats %s as uncertain: it may have been sent", async (_name, answer) => {
			expect((await send(answer)).outcome).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		});

		it("treats bad credentials as a provider-level permanent error (fail over, do not fail the email)", async () => {
			expect((await send(answers.authFailure)).outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
		});

		it("treats a refusal of the message as permanent for this email", async () => {
			expect((await send(answers.refused)).outcome).toMatchObject({ ok: false, error: { kind: "permanent", scope: "message" } });
		});

		it.each(Object.entries(answers.garbage))("classifies a garbage answer (%s) without throwing", async (_name, { answer, left }) => {
			const { outcome } = await send(answer);
			if (left) {
				// It may have been accepted whatever the answer looks like: sent or uncertain, never a definite failure.
				if (!outcome.ok) expect(outcome.error.kind).toBe("uncertain");
			} else {
				expect(outcome.ok).toBe(false);
				if (!outcome.ok) expect(["transient", "permanent", "rate_limited"]).toContain(outcome.error.kind);
			}
		});

		const before = answers.noAnswerBefore;
		// A transport without such a moment says why in its fixture (`{ none }`), and has no check here.
		if (!(typeof before === "object" && before !== null && "none" in before)) {
			it("treats no answer before the message left as definite: nothing was sent", async () => {
				const { outcome, calls } = await send(before as A, SHORT_TIMEOUT_MS);
				expect(outcome).toMatchObject({ ok: false, error: { kind: "transient" } });
				expect(calls).toBe(0);
			});
		}

		it("treats no answer after the message left, within its timeout, as uncertain", async () => {
			expect((await send(answers.noAnswerAfter, SHORT_TIMEOUT_MS)).outcome).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		});

		const events = contract.events;
		if (events) {
			it.each([...events.types.entries()])("maps its %s event to %s about the message", (type, mapped) => {
				const event = events.parse(type, { providerMessageId: "contract-message-1", now: Date.now() });
				expect(event).not.toBeNull();
				expect(event).not.toHaveProperty("error");
				expect(event).toMatchObject({ type: mapped, providerMessageId: "contract-message-1" });
			});

			it.each(events.garbage.map((g) => [JSON.stringify(g).slice(0, 60), g] as const))("refuses %s as an event", (_name, body) => {
				expect(events.parseRaw(body)).toHaveProperty("error");
			});
		}
	});
}
