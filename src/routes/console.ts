/**
 * `/console`: the web console. Its files are static assets (wrangler.jsonc `assets`, built from console/ by
 * scripts/build-console.mjs) that the platform serves before the Worker runs; a console path without a file is a
 * deep link into the single-page app (`/console/emails/<id>`), answered here with the app shell so a reload or a
 * shared link opens the same page.
 */
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";

/** The URL of the API reference's script, copied from @scalar/api-reference by the console build. */
export const SCALAR_SCRIPT_URL = "/docs/assets/scalar-api-reference.js";

export const consoleRoutes = new Hono<AppEnv>();

// In Hono `/console/*` also matches `/console`, which gets the trailing slash the shell's relative URLs need.
consoleRoutes.get("/console/*", async (c) => {
	if (c.req.path === "/console") return c.redirect("/console/", 308);
	// A path with a file extension is a missing file (say, a chunk of an older build), not a page.
	if (/\.[A-Za-z0-9]+$/.test(c.req.path)) throw new ApiError("not_found", "File not found");
	const shell = await c.env.ASSETS.fetch(new URL("/console/", c.req.url));
	if (!shell.ok) throw new ApiError("not_found", "The console is not built: run `npm run build:console` (npm run dev does it)");
	return new Response(shell.body, { status: 200, headers: shell.headers });
});
