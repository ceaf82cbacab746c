/**
 * Maps zod failures to the documented error shape. The first issue decides the error name:
 * a missing top-level field → `missing_required_field`; anything about `from` → `invalid_from_address`;
 * about `attachments` → `invalid_attachment`; query and path problems → `invalid_parameter`;
 * everything else → `validation_error`.
 */
import type { Hook } from "@hono/zod-openapi";
import type { z } from "zod";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";

type Target = "json" | "query" | "param" | "header" | "form" | "cookie";

export function zodToApiError(error: z.ZodError, input: unknown, target: Target = "json"): ApiError {
	const issue = error.issues[0];
	if (!issue) return new ApiError("validation_error", "Invalid request");
	const path = issue.path.map(String);
	const where = path.length > 0 ? path.join(".") : target === "json" ? "body" : target;
	const head = path[0];
	if (target === "header") return new ApiError("validation_error", `Invalid header ${where}: ${issue.message}`, 400);
	if (target !== "json") return new ApiError("invalid_parameter", `Invalid \`${where}\`: ${issue.message}`);
	if (path.length === 1 && head !== undefined && isObject(input) && !(head in input) && issue.code !== "custom") {
		return new ApiError("missing_required_field", `Missing \`${head}\` field.`);
	}
	if (head === "from") return new ApiError("invalid_from_address", `Invalid \`from\` field: ${issue.message}`);
	if (head === "attachments") return new ApiError("invalid_attachment", `Invalid \`${where}\`: ${issue.message}`);
	if (path.length === 0 && !isObject(input) && !Array.isArray(input)) {
		return new ApiError("validation_error", "The request body must be a JSON object", 422);
	}
	return new ApiError("validation_error", `Invalid \`${where}\`: ${issue.message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The `defaultHook` of every router: throw the mapped ApiError, rendered by `onError`. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
	if (!result.success) {
		throw zodToApiError(result.error as z.ZodError, (result as { data?: unknown }).data, result.target as Target);
	}
};
