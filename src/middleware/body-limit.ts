import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";

/** Rejects request bodies over `MAX_REQUEST_BYTES` (default 40 MB, Resend's) with 413 before anything is parsed. */
export const bodyLimit: MiddlewareHandler<AppEnv> = (c, next) => {
	// Bodyless reads skip it, so /health answers even when the configuration is broken.
	if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") return next();
	const maxSize = getConfig(c.env).maxRequestBytes;
	return honoBodyLimit({
		maxSize,
		onError: () => {
			throw new ApiError("payload_too_large", `Request body is larger than ${maxSize} bytes`);
		},
	})(c, next);
};
