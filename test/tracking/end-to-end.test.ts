/**
 * Tracking end to end with the sandbox provider, inside the Workers runtime: accept with tracking on → the send
 * consumer rewrites the html the provider gets → the recipient's client fetches the pixel and follows the link through
 * the Worker → the events list, `/analytics`, `/emails/metrics` and the tenant's signed webhooks.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type NamedProvider, providerFactory } from "../../src/providers/registry";
import type { OutboundEmail } from "../../src/providers/types";
import { call, type Seeded, seedTenant } from "../helpers/api";
import { consume, depsWith, seedEmail } from "../helpers/send";
import { consumeDeliveries, createWebhook, deliveriesOf, fakeEndpoint, holdWebhookQueue } from "../helpers/webhooks";
import { linksOf } from "./helpers";
import { BROWSER, hit } from "./hits";

afterEach(() => {
	vi.restoreAllMocks();
});

const TARGET = "https://acme.example.com/orders/42?a=1&b=2";
const HTML = '<html><body><p>Your order shipped.</p><a href="https://acme.example.com/orders/42?a=1&amp;b=2">See it</a></body></html>';

/** Sends `id` through the sandbox with the real consumer; returns what the sandbox was given. */
async function sendThroughSandbox(t: Seeded, id: string): Promise<OutboundEmail> {
	const real = providerFactory(env);
	const given: OutboundEmail[] = [];
	const providers = (name: Parameters<typeof real>[0]): NamedProvider | null => {
		const provider = real(name);
		if (!provider) return null;
		return {
			name: provider.name,
			supportsIdempotency: provider.supportsIdempotency,
			send: (email, context) => {
				given.push(email);
				return provider.send(email, context);
			},
		};
	};
	expect((await consume(t, [id], depsWith({}, { providers }))).acked).toBe(1);
	const [email] = given;
	if (!email) throw new Error("the sandbox was not called");
	// The recipient reads it a minute later (a click on arrival would be a scanner's).
	await env.DB.prepare("UPDATE emails SET sent_at = sent_at - 60000 WHERE id = ?").bind(id).run();
	return email;
}

/** The pixel's and the first link's paths on this Worker, from the html the provider sent. */
async function trackingPaths(email: OutboundEmail): Promise<{ pixel: string; link: string }> {
	const { hrefs, images } = await linksOf(email.html ?? "");
	return { pixel: new URL(images.at(-1) ?? "").pathname, link: new URL(hrefs[0] ?? "").pathname };
}

function range(): string {
	const day = 86_400_000;
	const from = new Date(Math.floor(Date.now() / day) * day).toISOString();
	const to = new Date(Math.floor(Date.now() / day) * day + day).toISOString();
	return `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&group_by=day`;
}

describe("tracking with the sandbox provider", () => {
	it("records an open and a click in the events, /analytics, /emails/metrics and the tenant's webhooks", async () => {
		const t = await seedTenant();
		const webhook = await createWebhook(t, ["email.opened", "email.clicked"]);
		const queued = holdWebhookQueue();
		const id = await seedEmail(t, { html: HTML, text: "Your order shipped.", tracking: { open: true, click: true } });
		const sent = await sendThroughSandbox(t, id);
		expect(sent.text).toBe("Your order shipped.");
		const { pixel, link } = await trackingPaths(sent);

		expect((await hit(pixel, { userAgent: BROWSER })).status).toBe(200);
		const followed = await hit(link, { userAgent: BROWSER });
		expect(followed.status).toBe(302);
		expect(followed.headers.get("location")).toBe(TARGET);

		const events = await call<{ data: { type: string; provider: string | null; detail: Record<string, unknown> | null }[] }>(
			"GET",
			`/emails/${id}/events`,
			{ key: t.key },
		);
		const engagement = events.body.data.filter((e) => e.type === "opened" || e.type === "clicked");
		expect(engagement).toEqual([
			{ type: "opened", at: expect.any(String), provider: "mailroom", detail: { user_agent_class: "browser", machine: false } },
			{
				type: "clicked",
				at: expect.any(String),
				provider: "mailroom",
				detail: { link: TARGET, link_index: 0, user_agent_class: "browser", machine: false },
			},
		]);
		const email = await call<{ last_event: string }>("GET", `/emails/${id}`, { key: t.key });
		expect(email.body.last_event).toBe("clicked");

		const analytics = await call<{ data: { counts: Record<string, number> }[] }>("GET", `/analytics?${range()}`, { key: t.key });
		expect(analytics.body.data[0]?.counts).toMatchObject({ opened: 1, clicked: 1, unique_human_opens: 1 });
		const metrics = await call<{ totals: Record<string, number> }>("GET", `/emails/metrics?email_id=${id}`, { key: t.key });
		expect(metrics.body.totals).toMatchObject({ opened: 1, unique_opened: 1, unique_human_opened: 1, clicked: 1 });

		const deliveries = await deliveriesOf(webhook.id);
		expect(deliveries.map((d) => d.event_type)).toEqual(["email.opened", "email.clicked"]);
		expect(queued.mock.calls.flatMap((c) => [...c[0]].map((m) => (m.body as { id: string }).id)).sort()).toEqual(
			deliveries.map((d) => d.id).sort(),
		);
		const endpoint = fakeEndpoint(new Response(null, { status: 204 }));
		await consumeDeliveries(
			deliveries.map((d) => d.id),
			{ fetch: endpoint.fetch },
		);
		const payloads = endpoint.received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
		expect(payloads.map((p) => p.type)).toEqual(["email.opened", "email.clicked"]);
		expect(payloads[0]?.data.open).toEqual({
			timestamp: expect.any(String),
			userAgent: "",
			ipAddress: "",
			user_agent_class: "browser",
			machine: false,
		});
		expect(payloads[1]?.data).toMatchObject({
			email_id: id,
			click: { link: TARGET, timestamp: expect.any(String), userAgent: "", ipAddress: "", user_agent_class: "browser", machine: false },
		});
	});

	it("counts an Apple Mail Privacy Protection open but not as a unique human open", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t, { html: HTML, tracking: { open: true } });
		const { pixel } = await trackingPaths(await sendThroughSandbox(t, id));
		await hit(pixel, { userAgent: "Mozilla/5.0" });
		const analytics = await call<{ data: { counts: Record<string, number> }[] }>("GET", `/analytics?${range()}`, { key: t.key });
		expect(analytics.body.data[0]?.counts).toMatchObject({ opened: 1, unique_human_opens: 0 });
		const metrics = await call<{ totals: Record<string, number> }>("GET", `/emails/metrics?email_id=${id}`, { key: t.key });
		expect(metrics.body.totals).toMatchObject({ opened: 1, unique_opened: 1, unique_human_opened: 0 });
	});

	it("sends the html as written through a provider that tracks itself, and passes the settings on", async () => {
		const t = await seedTenant({ providers: ["sendgrid"] });
		const id = await seedEmail(t, { html: HTML, tracking: { open: true, click: true } });
		const requests: unknown[] = [];
		vi.spyOn(globalThis, "fetch").mockImplementation(async (_input, init) => {
			requests.push(JSON.parse(String(init?.body)));
			return new Response(null, { status: 202, headers: { "x-message-id": "sg-1" } });
		});
		expect((await consume(t, [id], depsWith())).acked).toBe(1);
		expect(requests[0]).toMatchObject({
			content: expect.arrayContaining([{ type: "text/html", value: HTML }]),
			tracking_settings: { open_tracking: { enable: true }, click_tracking: { enable: true } },
		});
	});
});
