/** Retry delays for provider attempts: exponential backoff with full jitter, bounded by the queue's limit. */
import { QUEUE_MAX_DELAY_SECONDS } from "../config";

export type BackoffOptions = { baseSeconds: number; maxSeconds: number; random?: () => number };

/**
 * The delay before attempt `attempt + 1`: uniformly random in [0, min(max, base · 2^(attempt−1))] ("full jitter",
 * so many emails failing together do not retry together), but never sooner than the provider asked.
 *
 * @example backoffSeconds(3, { baseSeconds: 30, maxSeconds: 3600 }) // somewhere in 0..120
 */
export function backoffSeconds(attempt: number, options: BackoffOptions, retryAfterSeconds?: number): number {
	const ceiling = Math.min(options.maxSeconds, options.baseSeconds * 2 ** Math.max(0, attempt - 1));
	const jittered = Math.floor((options.random ?? Math.random)() * (ceiling + 1));
	return Math.min(QUEUE_MAX_DELAY_SECONDS, Math.max(jittered, retryAfterSeconds ?? 0));
}
