import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ApiError, ERROR_NAMES } from "../errors";
import { isUuid } from "../lib/ids";
import { validationHook } from "../schemas/validation";

/** Every resource router validates with the same hook, so all errors share one shape. */
export function createRouter(): OpenAPIHono<AppEnv> {
	return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}

export const ErrorResponse = z.object({ statusCode: z.number().int(), name: z.enum(ERROR_NAMES), message: z.string() }).openapi("Error");

const error = (description: string) => ({ description, content: { "application/json": { schema: ErrorResponse } } });

/** The error responses every authenticated route can give, for the OpenAPI document. */
export const commonErrors = {
	400: error("Malformed request or invalid idempotency key"),
	401: error("Missing or restricted API key"),
	403: error("Invalid API key"),
	404: error("Not found (including another tenant's resources)"),
	422: error("Validation failed"),
	429: error("Rate limit or daily quota exceeded"),
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T, description?: string) => ({
	required: true,
	...(description ? { description } : {}),
	content: { "application/json": { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
	description,
	content: { "application/json": { schema } },
});

/** Resend's cursors: `after` or `before` (never both), each an id of the listed kind (UUIDs); 422 otherwise. */
export function checkCursors(query: { after?: string | undefined; before?: string | undefined }, what: string): void {
	if (query.after !== undefined && query.before !== undefined) {
		throw new ApiError("invalid_parameter", "Use either `after` or `before`, not both");
	}
	for (const cursor of [query.after, query.before]) {
		if (cursor !== undefined && !isUuid(cursor)) throw new ApiError("invalid_parameter", `Cursors must be ${what} ids`);
	}
}
