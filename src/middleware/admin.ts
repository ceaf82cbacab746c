import type { MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { constantTimeEqual } from "../lib/crypto";
import { bearerToken } from "./auth";

/** `/admin/*` takes `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time (docs/architecture.md, "Public API"). */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
	const token = bearerToken(c.req.header("authorization"));
	if (token === null) throw new ApiError("missing_api_key", "Missing admin token in the authorization header");
	if (!(await constantTimeEqual(token, getConfig(c.env).adminToken))) throw new ApiError("invalid_api_key", "Admin token is invalid");
	await next();
};
