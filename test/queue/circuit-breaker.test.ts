import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { seedTenant } from "../helpers/api";
import { realPacer } from "../helpers/pacer";
import { consume, depsWith, emailRow, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

describe("provider circuit breaker", () => {
	const settings = {
		PROVIDERS: "resend,postmark",
		RESEND_API_KEY: "re",
		RESEND_BASE_URL: "https://resend.test",
		POSTMARK_SERVER_TOKEN: "pm",
		POSTMARK_BASE_URL: "https://postmark.test",
		CIRCUIT_FAILURE_THRESHOLD: "2",
		PROVIDER_RATES: JSON.stringify({ resend: { per_second: 1000, burst: 1000 }, postmark: { per_second: 1000, burst: 1000 } }),
	};

	it("opens after consecutive failures, sends through the next provider without calling the broken one, then closes", async () => {
		const t = await seedTenant();
		const hosts: string[] = [];
		let resendUp = false;
		vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
			const host = new URL(String(input instanceof Request ? input.url : input)).host;
			hosts.push(host);
			if (host === "resend.test") return resendUp ? json(200, { id: "re_ok" }) : json(503, { message: "down" });
			return json(200, { MessageID: "pm", ErrorCode: 0, Message: "OK" });
		});
		const { pacer } = realPacer(settings);
		const deps = depsWith(settings, { pacer });
		for (let i = 0; i < 2; i++) await consume(t, [await seedEmail(t)], deps);
		expect(hosts).toEqual(["resend.test", "resend.test"]);

		const next = await seedEmail(t);
		await consume(t, [next], deps);
		expect(hosts.at(-1)).toBe("postmark.test");
		expect(hosts.filter((h) => h === "resend.test")).toHaveLength(2);
		expect(await emailRow(next)).toMatchObject({ status: "sent", provider: "postmark", attempts: 1 });

		// After the cool-down a probe goes to Resend; its success closes the circuit.
		await env.RATE_LIMITER.getByName("provider:resend").reportProvider(
			"resend",
			{ rate: { per_second: 1000, burst: 1000 }, failureThreshold: 2, coolDownMs: 0 },
			{
				successes: 0,
				failures: 0,
				rateLimited: 0,
			},
		);
		resendUp = true;
		const probeDeps = depsWith(
			{ ...settings, CIRCUIT_COOLDOWN_SECONDS: "1" },
			{ pacer: realPacer({ ...settings, CIRCUIT_COOLDOWN_SECONDS: "1" }).pacer },
		);
		await new Promise((r) => setTimeout(r, 1100));
		const probe = await seedEmail(t);
		await consume(t, [probe], probeDeps);
		expect(await emailRow(probe)).toMatchObject({ status: "sent", provider: "resend" });
		const after = await env.RATE_LIMITER.getByName("provider:resend").providerStatus("resend", {
			rate: { per_second: 1000, burst: 1000 },
			failureThreshold: 2,
			coolDownMs: 1000,
		});
		expect(after.circuit).toBe("closed");
	});
});
