import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, email, seedTenant } from "../helpers/api";
import { verifiedDomain } from "../helpers/dns";
import { emailRow, seedEmail } from "../helpers/send";
import { publishedTemplate } from "../helpers/templates";

afterEach(() => {
	vi.restoreAllMocks();
});

const ORIGIN = "http://mailroom.test";

async function trackingOf(id: string): Promise<unknown> {
	const row = await emailRow(id);
	return row.tracking === null ? null : JSON.parse(String(row.tracking));
}

/** A tenant with the verified domain `name` whose tracking settings are `settings`. */
async function tenantWithDomain(name: string, settings: { open_tracking?: boolean; click_tracking?: boolean }) {
	const t = await seedTenant({ allowed_from_domains: [] });
	const domain = await verifiedDomain(t, name);
	const patched = await call("PATCH", `/domains/${domain.id}`, { key: t.key, body: settings });
	expect(patched.status).toBe(200);
	return t;
}

const unique = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}.example.com`;

describe("which emails are tracked", () => {
	it("tracks nothing by default", async () => {
		const t = await seedTenant();
		expect(await trackingOf(await seedEmail(t, { html: "<p>x</p>" }))).toBeNull();
	});

	it("follows the sending domain's open_tracking and click_tracking", async () => {
		const name = unique("track");
		const t = await tenantWithDomain(name, { open_tracking: true, click_tracking: false });
		const id = await seedEmail(t, { from: `Acme <news@${name}>`, html: "<p>x</p>" });
		expect(await trackingOf(id)).toEqual({ open: true, click: false, origin: ORIGIN });
	});

	it("follows the closest verified parent of a subdomain sender", async () => {
		const name = unique("parent");
		const t = await tenantWithDomain(name, { click_tracking: true });
		const id = await seedEmail(t, { from: `Acme <news@mail.${name}>`, html: "<p>x</p>" });
		expect(await trackingOf(id)).toEqual({ open: false, click: true, origin: ORIGIN });
	});

	it("lets the email's own tracking override each of the domain's settings", async () => {
		const name = unique("override");
		const t = await tenantWithDomain(name, { open_tracking: true, click_tracking: true });
		const id = await seedEmail(t, { from: `a@${name}`, html: "<p>x</p>", tracking: { open: false } });
		expect(await trackingOf(id)).toEqual({ open: false, click: true, origin: ORIGIN });
		const off = await seedEmail(t, { from: `a@${name}`, html: "<p>x</p>", tracking: { open: false, click: false } });
		expect(await trackingOf(off)).toBeNull();
	});

	it("tracks an email from an operator-allowed domain only when the email asks", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { html: "<p>x</p>", tracking: { click: true } });
		expect(await trackingOf(id)).toEqual({ open: false, click: true, origin: ORIGIN });
	});

	it("points tracking links at PUBLIC_URL when it is set", async () => {
		const t = await seedTenant();
		const withUrl = Object.assign(Object.create(null), env, { PUBLIC_URL: "https://track.example.net/" }) as Env;
		const { createApp } = await import("../../src/app");
		const send = vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
		const res = await createApp().request(
			"/emails",
			{
				method: "POST",
				headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
				body: JSON.stringify(email(t, { html: "<p>x</p>", tracking: { open: true } })),
			},
			withUrl,
			createExecutionContext(),
		);
		send.mockRestore();
		const { id } = (await res.json()) as { id: string };
		expect(await trackingOf(id)).toEqual({ open: true, click: false, origin: "https://track.example.net" });
	});

	it("refuses a tracking override that is not booleans with 422, storing nothing", async () => {
		const t = await seedTenant();
		const res = await call("POST", "/emails", { key: t.key, body: email(t, { html: "<p>x</p>", tracking: { open: "yes" } }) });
		expect(res.status).toBe(422);
		expect(res.body).toMatchObject({ statusCode: 422, name: "validation_error" });
		const { n } =
			(await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE tenant_id = ?").bind(t.tenantId).first<{ n: number }>()) ?? {};
		expect(n).toBe(0);
	});

	it("resolves a templated email's tracking with the template's from", async () => {
		const name = unique("tmpl");
		const t = await tenantWithDomain(name, { open_tracking: true });
		const template = await publishedTemplate(t, { from: `Acme <hi@${name}>`, subject: "Welcome", html: "<p>Hi</p>" });
		const id = await seedEmail(t, { from: undefined, subject: undefined, text: undefined, template: { id: template } });
		expect(await trackingOf(id)).toEqual({ open: true, click: false, origin: ORIGIN });
	});
});
