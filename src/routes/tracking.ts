/**
 * The public endpoints of Mailroom's own open and click tracking (README "Tracking"): `GET /t/o/:token`, the open
 * pixel, and `GET /t/c/:token`, a tracked link. No API key, no tenant rate limit: the signed token is the only
 * credential (src/tracking/token.ts).
 *
 * Both answer at once, from the token alone, without waiting for D1; the hit is recorded afterwards (`waitUntil`,
 * src/tracking/record.ts). Recording right here rather than through a queue costs one D1 write per new event and
 * no queue operation; a hit lost to a D1 failure is logged, as engagement counts are estimates anyway. Whatever the
 * token:
 * - the pixel is a 1×1 transparent GIF that caches nowhere, even for a forged token (a broken image in an email is
 *   worse than a pixel that counts nothing);
 * - a link redirects (302) only to the URL signed inside its token; a forged, altered or truncated token gets a
 *   small HTML page saying so (404), never a redirect and never a 5xx.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { getDb } from "../db/client";
import { errorFields, log } from "../lib/log";
import type { WebhookQueueMessage } from "../services/webhook-fanout";
import { recordTrackingHit } from "../tracking/record";
import { type TrackingToken, verifyToken } from "../tracking/token";
import { createRouter } from "./router";

export const trackingRoutes = createRouter();

const tags = ["Tracking"];
const TokenParam = z.object({ token: z.string().openapi({ param: { name: "token", in: "path" } }) });

/** The classic 43-byte transparent 1×1 GIF. */
const PIXEL = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (c) => c.charCodeAt(0));

/** Nothing keeps a copy, so every open and click reaches the Worker; no referrer leaves for the target site. */
const NO_STORE = {
	"cache-control": "no-store, no-cache, must-revalidate, private, max-age=0",
	pragma: "no-cache",
	expires: "0",
	"referrer-policy": "no-referrer",
	"x-robots-tag": "noindex, nofollow",
};

const INVALID_LINK_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Link not valid</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222">
<h1 style="font-size:1.4rem">This link is not valid</h1>
<p>It was changed or cut short on its way here, so it cannot be followed. Open the link from the original email again, or ask its sender for a new one.</p>
</body></html>
`;

trackingRoutes.openapi(
	createRoute({
		method: "get",
		path: "/t/o/{token}",
		summary: "Open tracking pixel: a 1×1 GIF, whatever the token; a valid one records an `opened` event",
		tags,
		security: [],
		request: { params: TokenParam },
		responses: {
			200: { description: "A transparent 1×1 GIF", content: { "image/gif": { schema: { type: "string", format: "binary" } } } },
		},
	}),
	async (c) => {
		const at = Date.now();
		const token = await verifyToken(getConfig(c.env).trackingSecret, c.req.valid("param").token, "open");
		if (token) recordAfterwards(c, token, at);
		return new Response(PIXEL, {
			status: 200,
			headers: { "content-type": "image/gif", "content-length": String(PIXEL.byteLength), ...NO_STORE },
		});
	},
);

trackingRoutes.openapi(
	createRoute({
		method: "get",
		path: "/t/c/{token}",
		summary: "Tracked link: redirects to the URL signed in the token and records a `clicked` event",
		tags,
		security: [],
		request: { params: TokenParam },
		responses: {
			302: { description: "To the link's original URL" },
			404: {
				description: "The token is not valid: a page saying so, no redirect",
				content: { "text/html": { schema: { type: "string" } } },
			},
		},
	}),
	async (c) => {
		const at = Date.now();
		const token = await verifyToken(getConfig(c.env).trackingSecret, c.req.valid("param").token, "click");
		if (!token) {
			return new Response(INVALID_LINK_PAGE, {
				status: 404,
				headers: {
					"content-type": "text/html; charset=utf-8",
					"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
					"x-content-type-options": "nosniff",
					...NO_STORE,
				},
			});
		}
		recordAfterwards(c, token, at);
		return new Response(null, { status: 302, headers: { location: token.url, ...NO_STORE } });
	},
);

function recordAfterwards(c: Context<AppEnv>, token: TrackingToken, at: number): void {
	const deps = { db: getDb(c.env.DB), webhookQueue: c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage> };
	const hit = { token, at, userAgent: c.req.header("user-agent") ?? null, method: c.req.method };
	c.executionCtx.waitUntil(
		recordTrackingHit(deps, hit).catch((e) =>
			log.error("tracking_hit_not_recorded", { kind: token.kind, emailId: token.emailId, ...errorFields(e) }),
		),
	);
}
