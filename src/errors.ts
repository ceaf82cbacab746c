/**
 * The closed set of API error names (Resend's, plus Mailroom's: `invalid_state` for an action the resource's current
 * state forbids, `service_unavailable` when a dependency it will not guess around is down, `feature_not_offered` for
 * a Resend resource Mailroom does not have) and their statuses.
 * Every error response is `{ statusCode, name, message }`; `onError` in app.ts renders any ApiError.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const ERROR_NAMES = [
	"validation_error",
	"missing_required_field",
	"invalid_from_address",
	"invalid_attachment",
	"invalid_parameter",
	"invalid_idempotency_key",
	"invalid_idempotent_request",
	"concurrent_idempotent_requests",
	"invalid_state",
	"missing_api_key",
	"invalid_api_key",
	"restricted_api_key",
	"not_found",
	"feature_not_offered",
	"method_not_allowed",
	"payload_too_large",
	"rate_limit_exceeded",
	"daily_quota_exceeded",
	"internal_server_error",
	"service_unavailable",
] as const;
export type ErrorName = (typeof ERROR_NAMES)[number];

/** The status a name answers with by default; a few names are also used with another status (see ApiError). */
export function statusOf(name: ErrorName): ContentfulStatusCode {
	switch (name) {
		case "validation_error":
		case "missing_required_field":
		case "invalid_from_address":
		case "invalid_attachment":
		case "invalid_parameter":
			return 422;
		case "invalid_idempotency_key":
			return 400;
		case "invalid_idempotent_request":
		case "concurrent_idempotent_requests":
		case "invalid_state":
			return 409;
		case "missing_api_key":
		case "restricted_api_key":
			return 401;
		case "invalid_api_key":
			return 403;
		case "not_found":
		// 404, not 501: the resource does not exist on this server, which is no server fault and nothing to retry.
		// A 5xx would count against Mailroom's error rate, and clients and proxies retry or re-route 5xx answers.
		case "feature_not_offered":
			return 404;
		case "method_not_allowed":
			return 405;
		case "payload_too_large":
			return 413;
		case "rate_limit_exceeded":
		case "daily_quota_exceeded":
			return 429;
		case "internal_server_error":
			return 500;
		case "service_unavailable":
			return 503;
	}
}

export type ErrorBody = { statusCode: number; name: ErrorName; message: string };

/**
 * An expected API failure. Thrown from routes and middleware, rendered once by `onError`.
 *
 * @example
 * throw new ApiError("not_found", "Email not found");
 * throw new ApiError("validation_error", "Malformed JSON in request body", 400);
 */
export class ApiError extends Error {
	readonly status: ContentfulStatusCode;
	readonly headers: Record<string, string>;

	constructor(
		readonly errorName: ErrorName,
		message: string,
		status?: ContentfulStatusCode,
		headers: Record<string, string> = {},
	) {
		super(message);
		this.name = "ApiError";
		this.status = status ?? statusOf(errorName);
		this.headers = headers;
	}

	toBody(): ErrorBody {
		return { statusCode: this.status, name: this.errorName, message: this.message };
	}
}
