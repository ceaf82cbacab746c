import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";

const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Echoes a caller's `x-request-id` (if it is safe to log) or mints one, for correlating logs with responses. */
export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
	const given = c.req.header("x-request-id");
	const id = given && SAFE_ID.test(given) ? given : crypto.randomUUID();
	c.set("requestId", id);
	await next();
	c.res.headers.set("x-request-id", id);
};
