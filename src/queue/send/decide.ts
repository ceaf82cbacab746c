/**
 * Step 5, decide: a provider's outcome (or a failure before the call) becomes the attempt's decision. Pure.
 *
 * - permanent, for this email → `failed` (with the recipients to suppress), no failover;
 * - transient, rate limited, or permanent for the provider (credentials, quota) → another attempt: at once at the
 *   next provider in the tenant's order, or after a backoff when it stays with (or wraps around to) a provider;
 * - uncertain (it may have been sent) → at a provider that deduplicates by our id, another attempt there, pinned;
 *   elsewhere `uncertain`, for the reconciler. Never another provider.
 * A pinned email never moves to another provider, whatever the error. Attempts are capped by MAX_ATTEMPTS: the last
 * failed one ends `failed` with a dead letter, or `uncertain` when the email may have been sent.
 */
import { type ProviderName, stillDeduplicates } from "../../providers/registry";
import type { ProviderError } from "../../providers/types";
import { backoffSeconds } from "../backoff";
import type { Attempt, Decision, SendConsumerDeps } from "./types";

type DecideDeps = Pick<SendConsumerDeps, "config" | "providers" | "random" | "now">;

export function decideOnError(a: Attempt, provider: ProviderName, error: ProviderError, deps: DecideDeps): Decision {
	switch (error.kind) {
		case "permanent":
			if (error.scope === "message") {
				return { kind: "failed", reason: error.message, provider, error, ...(error.suppress ? { suppress: error.suppress } : {}) };
			}
			return retryOrFail(a, provider, nextProvider(a, provider, deps), error, deps);
		case "transient":
		case "rate_limited":
			return retryOrFail(a, provider, nextProvider(a, provider, deps), error, deps);
		case "uncertain": {
			// The send may have happened: only the same provider may be asked again, and only while it cannot send twice.
			const safe = deps.providers(provider)?.supportsIdempotency === true && stillDeduplicates(provider, a.row, deps.now());
			if (!safe) return { kind: "uncertain", provider, error };
			return retryOrFail(a, provider, provider, error, deps, provider);
		}
	}
}

/**
 * Another attempt, unless attempts are used up. Moving forward to a later provider in the order happens at once;
 * staying with a provider or wrapping around to an earlier one waits the backoff (and at least its Retry-After).
 */
export function retryOrFail(
	a: Attempt,
	provider: ProviderName | null,
	next: ProviderName | null,
	error: ProviderError,
	deps: DecideDeps,
	pin?: ProviderName,
): Decision {
	const pinned = pin ?? a.pinned;
	if (a.row.attempts >= deps.config.maxAttempts) return exhausted(a, deps, error, pinned);
	const movesForward = provider !== null && next !== null && next !== provider && a.order.indexOf(next) > a.order.indexOf(provider);
	const delaySeconds = movesForward
		? 0
		: backoffSeconds(
				a.row.attempts,
				{ baseSeconds: deps.config.retryBaseSeconds, maxSeconds: deps.config.retryMaxSeconds, random: deps.random },
				"retryAfterSeconds" in error ? error.retryAfterSeconds : undefined,
			);
	return { kind: "retry", provider, next, delaySeconds, error, ...(pin ? { pin } : {}) };
}

/** Attempts used up: `uncertain` if it may have been sent somewhere (pinned), else `failed` with a dead letter. */
export function exhausted(a: Attempt, deps: Pick<DecideDeps, "config">, error?: ProviderError, pinned = a.pinned): Decision {
	const cause = error ? `: ${error.message}` : "";
	const reason = `gave up after ${Math.min(a.row.attempts, deps.config.maxAttempts)} attempts${cause}`;
	if (pinned) {
		return { kind: "uncertain", provider: pinned, error: { kind: "uncertain", message: `${reason}; it may have been sent at ${pinned}` } };
	}
	const provider = a.provider?.name ?? null;
	return { kind: "failed", reason, provider, deadLetter: "max_attempts", ...(error ? { error } : {}) };
}

/** The next configured provider after `provider` in the tenant's order, wrapping around; the pinned one if pinned. */
function nextProvider(a: Attempt, provider: ProviderName, deps: DecideDeps): ProviderName | null {
	if (a.pinned) return a.pinned;
	const index = a.order.indexOf(provider);
	for (let step = 1; step <= a.order.length; step++) {
		const name = a.order[(index + step) % a.order.length] as ProviderName;
		if (deps.providers(name)) return name;
	}
	return deps.providers(provider) ? provider : null;
}
