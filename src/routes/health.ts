/** `/health` (liveness, no I/O) and `/health/ready` (D1 reachable, providers configured). No auth. */
import { createRoute, z } from "@hono/zod-openapi";
import { getConfig } from "../config";
import { errorFields, log } from "../lib/log";
import { providerReadiness } from "../providers/registry";
import { limiterPacer } from "../services/pacing";
import { createRouter, jsonResponse } from "./router";

export const healthRoutes = createRouter();

const Readiness = z
	.object({
		status: z.enum(["ready", "not_ready"]),
		checks: z.object({
			d1: z.object({ ok: z.boolean(), error: z.string().optional() }),
			providers: z.record(
				z.string(),
				z.object({ ready: z.boolean(), missing: z.array(z.string()), circuit: z.enum(["closed", "open", "half_open"]).optional() }),
			),
		}),
	})
	.openapi("Readiness");

healthRoutes.openapi(
	createRoute({
		method: "get",
		path: "/health",
		summary: "Liveness",
		tags: ["Health"],
		responses: { 200: jsonResponse(z.object({ status: z.literal("ok") }), "The Worker is up") },
	}),
	(c) => c.json({ status: "ok" as const }, 200),
);

healthRoutes.openapi(
	createRoute({
		method: "get",
		path: "/health/ready",
		summary: "Readiness: D1 answers and at least one configured provider can send",
		tags: ["Health"],
		responses: { 200: jsonResponse(Readiness, "Ready"), 503: jsonResponse(Readiness, "Not ready") },
	}),
	async (c) => {
		let d1: { ok: boolean; error?: string } = { ok: true };
		try {
			await c.env.DB.prepare("SELECT 1").first();
		} catch (err) {
			log.error("health_d1_failed", errorFields(err));
			d1 = { ok: false, error: err instanceof Error ? err.message : String(err) };
		}
		const config = getConfig(c.env);
		const pacer = limiterPacer(c.env.RATE_LIMITER, config);
		const readiness = providerReadiness(c.env, config.providers);
		const providers: Record<string, { ready: boolean; missing: string[]; circuit?: "closed" | "open" | "half_open" }> = {};
		await Promise.all(
			Object.entries(readiness).map(async ([name, r]) => {
				const circuit = r.ready
					? await pacer
							.status(name)
							.then((s) => s.circuit)
							.catch(() => undefined)
					: undefined;
				providers[name] = circuit ? { ...r, circuit } : r;
			}),
		);
		// Ready when D1 answers and some configured provider can take sends now (its circuit is not open).
		const ready = d1.ok && Object.values(providers).some((p) => p.ready && p.circuit !== "open");
		const body = { status: ready ? ("ready" as const) : ("not_ready" as const), checks: { d1, providers } };
		return ready ? c.json(body, 200) : c.json(body, 503);
	},
);
