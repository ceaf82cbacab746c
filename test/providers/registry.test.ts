import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { getConfig } from "../../src/config";
import { PROVIDERS, providerFactory, providerReadiness, webhookOf } from "../../src/providers/registry";
import { resendInbound } from "../../src/providers/resend/webhook";

/** Every provider's settings present, so each module builds its adapter. */
const everything = Object.assign(
	Object.create(null),
	env,
	Object.fromEntries(PROVIDERS.flatMap((p) => p.requiredSettings.map((s) => [s, "configured"]))),
) as Env;

describe("the provider registry", () => {
	it("finds a provider's webhook adapter by name", () => {
		expect(webhookOf("resend")).toBe(resendInbound);
	});

	it.each(["sandbox", "nope", "constructor", "__proto__", ""])("has no webhook adapter for %j", (name) => {
		expect(webhookOf(name)).toBeUndefined();
	});

	it.each(PROVIDERS.flatMap(({ name, webhook }) => (webhook ? webhook.settings.map((missing) => [name, missing, webhook] as const) : [])))(
		"the %s adapter refuses every request without its declared setting %s, naming it",
		async (_provider, missing, adapter) => {
			const others = Object.fromEntries(adapter.settings.filter((s) => s !== missing).map((s) => [s, "configured"]));
			const result = await adapter.verify({ rawBody: "{}", headers: new Headers(), now: Date.now() }, others);
			expect(result).toMatchObject({ ok: false, error: { status: 401 } });
			expect(result.ok ? "" : result.error.message).toContain(missing);
		},
	);

	it.each(PROVIDERS.map((p) => [p.name, p] as const))("builds %s's adapter, which agrees with its module", (name, module) => {
		const adapter = providerFactory(everything, getConfig(everything).providerTimeoutMs)(name);
		expect(adapter?.name).toBe(name);
		expect(adapter?.supportsIdempotency).toBe(module.deduplicatesById);
		// A provider either can be looked up or says why not and how Mailroom compensates.
		expect(adapter?.lookup !== undefined || (module.noLookup ?? "").length > 0).toBe(true);
	});

	it.each(PROVIDERS.filter((p) => p.requiredSettings.length > 0).map((p) => [p.name, p] as const))(
		"reports %s not ready while a required setting is missing, naming it",
		(name, module) => {
			const readiness = providerReadiness(env, [name]);
			const missing = module.requiredSettings.filter((s) => !(s in (env as unknown as Record<string, unknown>)));
			if (missing.length > 0) expect(readiness[name]).toEqual({ ready: false, missing: expect.arrayContaining(missing) });
			else expect(readiness[name]?.ready).toBe(true);
		},
	);

	it.each(PROVIDERS.map((p) => [p.name, p] as const))("has a README section for %s naming its settings and webhook URL", (name, module) => {
		const start = readme.indexOf(`### ${module.title}`);
		expect(start, `README section "### ${module.title}"`).toBeGreaterThan(0);
		const section = readme.slice(start, readme.indexOf("\n### ", start + 4) >>> 0 || undefined);
		for (const setting of module.requiredSettings) expect(section).toContain(setting);
		if (module.webhook) expect(section).toContain(`/provider-webhooks/${name}`);
	});
});
