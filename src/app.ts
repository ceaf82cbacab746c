/**
 * The Hono app: middleware order, error rendering, one router per resource, and the OpenAPI document.
 * Order: request id → body limit → (admin token | API key → tenant rate limit) → route validation → handler.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./context";
import { ApiError, type ErrorName } from "./errors";
import { errorFields, log } from "./lib/log";
import { authenticate } from "./middleware/auth";
import { bodyLimit } from "./middleware/body-limit";
import { rateLimit } from "./middleware/rate-limit";
import { requestId } from "./middleware/request-id";
import { adminRoutes } from "./routes/admin";
import { analyticsRoutes } from "./routes/analytics";
import { apiKeyRoutes } from "./routes/api-keys";
import { attachmentRoutes } from "./routes/attachments";
import { consoleRoutes, SCALAR_SCRIPT_URL } from "./routes/console";
import { deadLetterRoutes } from "./routes/dead-letters";
import { domainRoutes } from "./routes/domains";
import { emailMetricsRoutes } from "./routes/email-metrics";
import { emailRoutes } from "./routes/emails";
import { healthRoutes } from "./routes/health";
import { metricsRoutes } from "./routes/metrics";
import { notOfferedRoutes } from "./routes/not-offered";
import { providerWebhookRoutes } from "./routes/provider-webhooks";
import { statsRoutes } from "./routes/stats";
import { suppressionRoutes } from "./routes/suppressions";
import { templateRoutes } from "./routes/templates";
import { trackingRoutes } from "./routes/tracking";
import { usageRoutes } from "./routes/usage";
import { webhookEventRoutes } from "./routes/webhook-events";
import { webhookRoutes } from "./routes/webhooks";
import { validationHook } from "./schemas/validation";

/** Resources served with a tenant's API key. In Hono `/emails/*` also matches `/emails` itself. */
const TENANT_RESOURCES = [
	"/emails/*",
	"/templates/*",
	"/domains/*",
	"/api-keys/*",
	"/suppressions/*",
	"/dead-letters/*",
	"/webhooks/*",
	"/stats",
	"/analytics",
	"/usage",
];
/** Every path prefix with routes, each answering 405 to methods it does not have. */
const ROUTED_PATHS = [...TENANT_RESOURCES, "/attachments/*", "/admin/*", "/health/*", "/provider-webhooks/*", "/metrics", "/t/*"];

export function createApp(): OpenAPIHono<AppEnv> {
	const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
	app.use("*", requestId);
	app.use("*", bodyLimit);
	for (const path of TENANT_RESOURCES) app.use(path, authenticate, rateLimit);

	app.route("/", healthRoutes);
	app.route("/", adminRoutes);
	// Before /emails/{id} and /domains/{id}: `/emails/metrics` and `/emails/receiving` are not email ids.
	app.route("/", notOfferedRoutes);
	app.route("/", emailMetricsRoutes);
	app.route("/", emailRoutes);
	app.route("/", attachmentRoutes);
	app.route("/", templateRoutes);
	app.route("/", domainRoutes);
	app.route("/", apiKeyRoutes);
	app.route("/", suppressionRoutes);
	app.route("/", deadLetterRoutes);
	app.route("/", webhookRoutes);
	app.route("/", webhookEventRoutes);
	app.route("/", statsRoutes);
	app.route("/", analyticsRoutes);
	app.route("/", usageRoutes);
	app.route("/", metricsRoutes);
	app.route("/", providerWebhookRoutes);
	// Public, outside authentication and rate limits: the signed token is the credential.
	app.route("/", trackingRoutes);
	app.route("/", consoleRoutes);

	// Reached only when no route above matched the method: the path exists, the method does not.
	for (const path of ROUTED_PATHS) {
		app.all(path, (c) => {
			throw new ApiError("method_not_allowed", `Method ${c.req.method} is not allowed on ${c.req.path}`);
		});
	}

	app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "http", scheme: "bearer" });
	app.doc31("/openapi.json", (c) => ({
		openapi: "3.1.0",
		info: {
			title: "Mailroom",
			version: "1.0.0",
			description: "Resend-compatible transactional email API. Authenticate with `Authorization: Bearer <api key>`.",
		},
		servers: [{ url: new URL(c.req.url).origin }],
		security: [{ apiKey: [] }],
	}));
	// Offline: Scalar's script is served by this Worker (never a CDN), with no web fonts, telemetry or AI agent.
	app.get(
		"/docs",
		Scalar({
			url: "/openapi.json",
			pageTitle: "Mailroom API",
			cdn: SCALAR_SCRIPT_URL,
			withDefaultFonts: false,
			telemetry: false,
			agent: { disabled: true },
			showDeveloperTools: "never",
			// Without an icon link the browser asks for /favicon.ico, which does not exist.
			favicon: "/console/favicon.svg",
		}),
	);

	app.notFound(() => {
		throw new ApiError("not_found", "Route not found");
	});
	app.onError(renderError);
	return app;
}

function renderError(err: Error, c: Context<AppEnv>): Response {
	if (err instanceof ApiError) return c.json(err.toBody(), err.status, err.headers);
	if (err instanceof HTTPException) {
		const name: ErrorName = err.status === 404 ? "not_found" : err.status === 405 ? "method_not_allowed" : "validation_error";
		const status = err.status >= 400 && err.status < 500 ? err.status : 400;
		const message = status === 415 ? "Content-Type must be application/json" : err.message || "Invalid request";
		return c.json({ statusCode: status, name, message }, status);
	}
	log.error("unhandled_error", { requestId: c.get("requestId"), method: c.req.method, path: c.req.path, ...errorFields(err) });
	return c.json({ statusCode: 500, name: "internal_server_error", message: "An unexpected error occurred." }, 500);
}
