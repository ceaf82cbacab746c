/**
 * What every provider module must do, run against each adapter with answers shaped as its own API writes them
 * (test/providers/<name>/contract.test.ts gives those). A new provider passes this suite before anything else.
 *
 * Send: an accepted email gives the provider's id; a 429 carries the provider's own retry time; a 503 is transient
 * (nothing was sent); a 500 and a 504 are uncertain (a gateway may answer after the provider accepted); bad
 * credentials are a provider-level permanent error (failover, not failure); garbage bodies are classified, never
 * thrown, and a garbled 2xx is never a definite failure; no answer is uncertain, whether the connection was refused before the request left or lost after it (the
 * Workers runtime reports both alike, so neither proves nothing was sent).
 * Webhooks: every provider event the adapter maps, signed as the provider signs it, verifies and becomes the
 * mapped event about the email; the same request with wrong credentials is refused with 401.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ProviderEventType } from "../../src/lifecycle/provider-events";
import type { InboundRequest, OutboundEmail, ProviderModule, ProviderSettings, SendOutcome } from "../../src/providers/types";
import { outboundEmail } from "../helpers/providers";

export type ProviderContract = {
	module: ProviderModule;
	/** Settings the adapter is built with: its credentials and a base URL (nothing is really called). */
	settings: ProviderSettings;
	email?: OutboundEmail;
	answers: {
		accepted: () => Response;
		/** The provider id the accepted answer carries. */
		acceptedId: string;
		/** A 429 (or the provider's own "slow down") saying when to retry, in its own way. */
		rateLimited: () => Response;
		retryAfterSeconds: number;
		status: (status: 500 | 503 | 504) => Response;
		authFailure: () => Response;
		/** Answers that are not what the API documents: HTML, empty, truncated JSON. */
		garbage: Record<string, () => Response>;
	};
	/** Credentials for the provider's webhooks (keys may be generated), and how it would sign a request. */
	webhook?: () => Promise<ContractWebhook>;
};

export type ContractWebhook = {
	settings: ProviderSettings;
	/** A request signed as the provider signs it, carrying the provider event `event` about the email. */
	request(event: string, about: { emailId: string; providerMessageId: string; now: number }): Promise<InboundRequest>;
};

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9fc0";

export function describeProviderContract(contract: ProviderContract): void {
	const { module, answers } = contract;
	const email = contract.email ?? outboundEmail({ id: EMAIL_ID });
	const adapter = (timeoutMs = 2_000) => module.create(contract.settings, { timeoutMs });
	const answer = (response: () => Response) => vi.spyOn(globalThis, "fetch").mockImplementation(async () => response());
	const send = (timeoutMs?: number): Promise<SendOutcome> => adapter(timeoutMs).send(email, { attempt: 1 });

	describe(`${module.title}: the provider contract`, () => {
		afterEach(() => vi.restoreAllMocks());

		it("sends an accepted email and returns the provider's id", async () => {
			const spy = answer(answers.accepted);
			expect(await send()).toMatchObject({ ok: true, value: { providerMessageId: answers.acceptedId } });
			expect(spy).toHaveBeenCalledTimes(1);
		});

		it("reads a rate limit with the provider's own retry time", async () => {
			answer(answers.rateLimited);
			const outcome = await send();
			expect(outcome).toMatchObject({ ok: false, error: { kind: "rate_limited" } });
			// Providers that send a reset time (epoch seconds) may land a second either side of a clock tick.
			const seconds = !outcome.ok && "retryAfterSeconds" in outcome.error ? outcome.error.retryAfterSeconds : undefined;
			expect(Math.abs((seconds ?? -99) - answers.retryAfterSeconds)).toBeLessThanOrEqual(1);
		});

		it("treats a 503 as transient: nothing was sent", async () => {
			answer(() => answers.status(503));
			expect(await send()).toMatchObject({ ok: false, error: { kind: "transient" } });
		});

		it.each([500, 504] as const)("treats a %i as uncertain: it may have been sent", async (status) => {
			answer(() => answers.status(status));
			expect(await send()).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		});

		it("treats bad credentials as a provider-level permanent error (fail over, do not fail the email)", async () => {
			answer(answers.authFailure);
			expect(await send()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider" } });
		});

		it.each(Object.entries(answers.garbage))("classifies a garbage answer (%s) without throwing", async (_name, response) => {
			const status = response().status;
			answer(response);
			const outcome = await send();
			// A 2xx may have been accepted whatever its body says: sent (the provider's word) or uncertain, never a
			// definite failure that would allow a second provider.
			if (status >= 200 && status < 300) {
				if (!outcome.ok) expect(outcome.error.kind).toBe("uncertain");
			} else {
				expect(outcome.ok).toBe(false);
				if (!outcome.ok) expect(["uncertain", "transient", "permanent", "rate_limited"]).toContain(outcome.error.kind);
			}
		});

		it("treats a connection refused before the request left as uncertain (the runtime cannot tell it from a lost one)", async () => {
			vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
			expect(await send()).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		});

		it("treats no answer within its timeout, after the request left, as uncertain", async () => {
			vi.spyOn(globalThis, "fetch").mockImplementation(
				(_input, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
			);
			expect(await send(40)).toMatchObject({ ok: false, error: { kind: "uncertain" } });
		});

		const setup = contract.webhook;
		const inbound = module.webhook;
		if (setup && inbound) {
			const mapped = [...inbound.events.entries()] as [string, ProviderEventType][];
			let cached: Promise<ContractWebhook> | undefined;
			const hook = () => {
				cached ??= setup();
				return cached;
			};

			it.each(mapped)("verifies and maps its %s webhook to %s", async (event, type) => {
				const webhook = await hook();
				const now = Date.now();
				const request = await webhook.request(event, { emailId: EMAIL_ID, providerMessageId: answers.acceptedId, now });
				expect(await inbound.verify(request, webhook.settings)).toEqual({ ok: true, value: undefined });
				const parsed = inbound.parse(request);
				if (!parsed.ok) throw new Error(parsed.error.message);
				const found = parsed.value.events.find((e) => e.type === type);
				expect(found, JSON.stringify(parsed.value)).toBeDefined();
				expect(found?.emailId === EMAIL_ID || found?.providerMessageId === answers.acceptedId).toBe(true);
			});

			it("refuses its webhook with wrong credentials, with 401", async () => {
				const webhook = await hook();
				const [event] = mapped[0] ?? ["", "sent"];
				const request = await webhook.request(event, { emailId: EMAIL_ID, providerMessageId: answers.acceptedId, now: Date.now() });
				const wrong = Object.fromEntries(Object.keys(webhook.settings).map((key) => [key, wrongValue(webhook.settings[key] ?? "")]));
				expect(await inbound.verify(request, wrong)).toMatchObject({ ok: false, error: { status: 401 } });
			});
		}
	});
}

/** Another value of the same form: a different secret, key or password. */
function wrongValue(value: string): string {
	if (value.startsWith("whsec_")) return "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
	if (value.startsWith("MFkw"))
		return "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
	return `${value}-wrong`;
}
