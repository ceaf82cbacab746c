/**
 * HTTP plumbing shared by the adapters: a call with a timeout that tells a definite failure (nothing was sent)
 * from an uncertain one (the request left, no answer), and the standard classification of HTTP statuses.
 */
import { decodeBase64 } from "../lib/webcrypto";
import type { ProviderError } from "./types";

export type HttpCall = { ok: true; response: Response } | { ok: false; error: ProviderError };

/**
 * `fetch` with a timeout. Without an answer the outcome is `uncertain`: the request may have been processed. That
 * holds for network errors too: workerd reports a refused connection and one lost after the request was sent with
 * the same "Network connection lost.", so neither proves nothing was sent (chaos testing sent emails twice when a
 * reset counted as a definite failure and failed over). Uncertain outcomes still count against the provider's
 * circuit, so an unreachable provider is soon skipped for new emails.
 */
export async function callProvider(url: string, init: RequestInit, timeoutMs: number, fetcher: typeof fetch = fetch): Promise<HttpCall> {
	try {
		const response = await fetcher(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
		return { ok: true, response };
	} catch (e) {
		const name = e instanceof Error ? e.name : "";
		if (name === "TimeoutError" || name === "AbortError") {
			return { ok: false, error: { kind: "uncertain", message: `no answer within ${timeoutMs} ms` } };
		}
		return { ok: false, error: { kind: "uncertain", message: `network error: ${e instanceof Error ? e.message : String(e)}` } };
	}
}

/** Seconds from `Retry-After` (delta seconds or HTTP date), else from an epoch-seconds reset header. */
export function retryAfterSeconds(headers: Headers, now: number = Date.now(), resetHeader?: string): number | undefined {
	const retryAfter = headers.get("retry-after");
	if (retryAfter !== null) {
		const seconds = Number(retryAfter);
		if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
		const date = Date.parse(retryAfter);
		if (Number.isFinite(date)) return Math.max(0, Math.ceil((date - now) / 1000));
	}
	if (resetHeader) {
		const reset = Number(headers.get(resetHeader));
		if (Number.isFinite(reset) && reset > 0) return Math.max(0, Math.ceil(reset - now / 1000));
	}
	return undefined;
}

/**
 * The default reading of a non-2xx status: 429 rate limited; 503 (the service refuses work) and 408 (the request
 * never arrived whole) transient; any other 5xx uncertain, because a 500, 502 or 504 can come from a gateway after
 * the provider accepted the email; 401/403 a provider-level permanent error (credentials); other 4xx a permanent
 * error of this email.
 */
export function classifyStatus(status: number, message: string, headers: Headers, resetHeader?: string): ProviderError {
	const retry = retryAfterSeconds(headers, Date.now(), resetHeader);
	const withRetry = retry === undefined ? {} : { retryAfterSeconds: retry };
	if (status === 429) return { kind: "rate_limited", message, status, ...withRetry };
	if (status === 408 || status === 503) return { kind: "transient", message, status, ...withRetry };
	if (status >= 500) return { kind: "uncertain", message, status, ...withRetry };
	if (status === 401 || status === 403) return { kind: "permanent", message, status, scope: "provider" };
	return { kind: "permanent", message, status, scope: "message" };
}

/** How much of a provider's error body is kept: enough for its error JSON, bounded for the event that stores it. */
export const ERROR_BODY_MAX = 4_000;

/** The response body as text, cut to a length safe to store in an event. */
export async function bodySnippet(response: Response, max = ERROR_BODY_MAX): Promise<string> {
	try {
		const text = await response.text();
		return text.length > max ? `${text.slice(0, max)}…` : text;
	} catch {
		return "";
	}
}

/** JSON.parse that answers `undefined` for text that is not JSON (error bodies are often HTML or empty). */
export function parseJsonOrUndefined(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/**
 * A failed status lookup, as the reconciler sees it: reading again is harmless, so a timeout is merely transient,
 * and a permanent answer concerns the lookup (credentials, add-on missing), not the email.
 */
export function lookupError(error: ProviderError): ProviderError {
	if (error.kind === "uncertain") return { ...error, kind: "transient" };
	return error.kind === "permanent" ? { ...error, scope: "provider" } : error;
}

/** The user and password of an `Authorization: Basic …` header (credentials in a webhook URL); null otherwise. */
export function basicCredentials(authorization: string | null): { user: string; password: string } | null {
	const encoded = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
	const bytes = encoded === undefined ? null : decodeBase64(encoded);
	if (bytes === null) return null;
	const decoded = new TextDecoder().decode(bytes);
	const colon = decoded.indexOf(":");
	return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
