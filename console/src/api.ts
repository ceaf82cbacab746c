/**
 * The console's only way to the API: same-origin fetches with the signed-in token, errors turned into
 * `ApiProblem`s that say in words what went wrong. The API's error shape is `{statusCode, name, message}`.
 */

export type ErrorBody = { statusCode: number; name: string; message: string };

/** A failed API call: the HTTP status (0 when the network failed), the API's error name and its message. */
export class ApiProblem extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly requestId: string | null = null,
		readonly retryAfterSeconds: number | null = null,
	) {
		super(message);
		this.name = "ApiProblem";
	}

	/** The key or token no longer opens anything: the session is over. */
	get endsSession(): boolean {
		return this.code === "invalid_api_key" || this.code === "missing_api_key";
	}
}

export type Query = Record<string, string | number | undefined | null>;

export type RequestOptions = {
	query?: Query;
	body?: unknown;
	headers?: Record<string, string>;
	/** Read the answer as text (Prometheus metrics, raw MIME) instead of JSON. */
	text?: boolean;
};

export function withQuery(path: string, query: Query = {}): string {
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(query)) {
		if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
	}
	const qs = params.toString();
	return qs ? `${path}?${qs}` : path;
}

function isErrorBody(value: unknown): value is ErrorBody {
	return typeof value === "object" && value !== null && typeof (value as ErrorBody).message === "string";
}

/**
 * One request with `token` as the bearer. Resolves with the parsed answer; rejects with an `ApiProblem` for any
 * non-2xx answer or network failure.
 */
export async function apiRequest<T>(token: string, method: string, path: string, options: RequestOptions = {}): Promise<T> {
	const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...options.headers };
	let body: string | undefined;
	if (options.body !== undefined) {
		headers["content-type"] = "application/json";
		body = JSON.stringify(options.body);
	}
	let res: Response;
	try {
		res = await fetch(withQuery(path, options.query), { method, headers, body, cache: "no-store" });
	} catch (err) {
		throw new ApiProblem(0, "network_error", err instanceof Error ? err.message : String(err));
	}
	const text = await res.text();
	if (!res.ok) {
		let parsed: unknown;
		try {
			parsed = JSON.parse(text);
		} catch {
			parsed = undefined;
		}
		const retryAfter = Number(res.headers.get("retry-after"));
		throw new ApiProblem(
			res.status,
			isErrorBody(parsed) ? String(parsed.name) : "http_error",
			isErrorBody(parsed) ? parsed.message : `HTTP ${res.status} ${res.statusText}`.trim(),
			res.headers.get("x-request-id"),
			Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
		);
	}
	if (options.text) return text as T;
	return (text ? JSON.parse(text) : null) as T;
}

/** What went wrong, in a sentence a person can act on. Never raw JSON. */
export function describeProblem(problem: unknown): string {
	if (!(problem instanceof ApiProblem)) return problem instanceof Error ? problem.message : String(problem);
	const detail = problem.message.replace(/\.$/, "");
	switch (problem.code) {
		case "network_error":
			return `Mailroom could not be reached (${detail}). Check that the service is running and try again.`;
		case "restricted_api_key":
			return "This API key can only send emails (sending access). Sign in with a full-access key to see this page.";
		case "invalid_api_key":
			return "The key is not valid: it may be mistyped, or it was revoked.";
		case "missing_api_key":
			return "No key was sent. Sign in again.";
		case "rate_limit_exceeded":
			return `Too many requests right now${problem.retryAfterSeconds ? `; try again in ${problem.retryAfterSeconds} s` : ""}.`;
		case "daily_quota_exceeded":
			return `Today's sending quota is used up${problem.retryAfterSeconds ? `; it resets in ${formatWait(problem.retryAfterSeconds)}` : ""}.`;
		case "not_found":
			return `Not found: ${detail}.`;
		case "payload_too_large":
			return `The request is too large: ${detail}.`;
		case "internal_server_error":
			return `Mailroom had an internal error${problem.requestId ? ` (request ${problem.requestId})` : ""}. Try again; if it keeps happening, the Worker's logs say why.`;
		default:
			if (problem.status === 409) return `Not possible right now: ${detail}.`;
			if (problem.status >= 500) return `Mailroom answered ${problem.status}: ${detail}.`;
			return `The request was refused: ${detail}.`;
	}
}

function formatWait(seconds: number): string {
	if (seconds < 90) return `${seconds} s`;
	if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
	return `${Math.round(seconds / 3600)} h`;
}
