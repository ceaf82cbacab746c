import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import readme from "../../README.md?raw";
import { getDb } from "../../src/db/client";
import { getEmail } from "../../src/db/emails";
import { ok } from "../../src/lib/result";
import { createMailgunProvider } from "../../src/providers/mailgun/client";
import { createPostmarkProvider } from "../../src/providers/postmark/client";
import { PROVIDERS } from "../../src/providers/registry";
import { createSendGridProvider } from "../../src/providers/sendgrid/client";
import { toSendEmailRequest } from "../../src/providers/ses/client";
import type { OutboundEmail } from "../../src/providers/types";
import { buildOutboundEmail } from "../../src/services/outbound";
import { trackedContent } from "../../src/tracking/outbound";
import { seedTenant } from "../helpers/api";
import { answer, CONTEXT, outboundEmail, prism, sentRequest } from "../helpers/providers";
import { seedEmail } from "../helpers/send";
import { linksOf, ORIGIN, SECRET, targetOf } from "./helpers";

afterEach(() => {
	vi.restoreAllMocks();
});

const HTML = '<body><p>Hi</p><a href="https://acme.example.com/x">x</a></body>';
const ROW = { id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f30", html: HTML, tracking: { open: true, click: false, origin: ORIGIN } };
const TRACKED = outboundEmail({ html: HTML, tracking: { open: true, click: false } });

describe("who tracks, decided per attempt by the provider it uses", () => {
	it("every module says how its provider tracks, except the transports Mailroom tracks for", () => {
		const ownTracking = PROVIDERS.filter((p) => p.tracking === undefined).map((p) => p.name);
		expect(ownTracking.sort()).toEqual(["cloudflare", "sandbox", "smtp"]);
	});

	it("the README's Tracking section says how each provider tracks", () => {
		const section = readme.slice(readme.indexOf("\n## Tracking"), readme.indexOf("\n## Rate limits"));
		const rows = section.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| provider"));
		for (const provider of PROVIDERS)
			expect(
				rows.some((row) => row.split("|")[1]?.includes(provider.title)),
				provider.title,
			).toBe(true);
	});

	it.each(["sendgrid", "postmark", "mailgun", "ses"])("%s gets the email's settings and the html untouched", async (provider) => {
		expect(await trackedContent(ROW, { provider, secret: SECRET })).toEqual({ html: HTML, tracking: { open: true, click: false } });
	});

	it("a provider that takes settings per message is told to track nothing for an untracked email", async () => {
		expect(await trackedContent({ ...ROW, tracking: null }, { provider: "sendgrid", secret: SECRET })).toEqual({
			html: HTML,
			tracking: { open: false, click: false },
		});
	});

	it.each(["resend", "brevo", "mailtrap"])("%s (account-level tracking) gets the html untouched and no settings", async (provider) => {
		expect(await trackedContent(ROW, { provider, secret: SECRET })).toEqual({ html: HTML });
	});

	it.each(["sandbox", "smtp", "cloudflare"])("%s gets html that Mailroom rewrote, and no settings", async (provider) => {
		const content = await trackedContent({ ...ROW, tracking: { open: true, click: true, origin: ORIGIN } }, { provider, secret: SECRET });
		expect(content.tracking).toBeUndefined();
		const { hrefs, images } = await linksOf(content.html ?? "");
		expect(await targetOf(hrefs[0] ?? "")).toBe("https://acme.example.com/x");
		expect(images).toHaveLength(1);
	});

	it("an untracked email goes through SMTP as stored", async () => {
		expect(await trackedContent({ ...ROW, tracking: null }, { provider: "smtp", secret: SECRET })).toEqual({ html: HTML });
	});
});

describe("the outbound email", () => {
	async function built(overrides: Record<string, unknown>, provider: string): Promise<OutboundEmail> {
		const t = await seedTenant();
		const id = await seedEmail(t, overrides);
		const row = await getEmail(getDb(env.DB), t.tenantId, id);
		if (!row) throw new Error("no row");
		const source = { bucket: env.ATTACHMENTS, maxBytes: 1_000_000, timeoutMs: 1_000, policy: { allowInsecure: false } };
		const outbound = await buildOutboundEmail(row, source, { provider, secret: SECRET });
		if (!outbound.ok) throw new Error(outbound.error.message);
		return outbound.value;
	}

	it("keeps the text part, its links included, and the List-Unsubscribe header untouched", async () => {
		const text = "Track your order: https://acme.example.com/x";
		const headers = { "List-Unsubscribe": "<https://acme.example.com/unsubscribe>, <mailto:unsub@acme.example.com>" };
		const email = await built({ html: HTML, text, headers, tracking: { open: true, click: true } }, "smtp");
		expect(email.text).toBe(text);
		expect(email.headers).toEqual(headers);
		expect(email.html).not.toBe(HTML);
	});

	it("tracks nothing in an email without html: no pixel goes into its text", async () => {
		const email = await built({ text: "Plain https://acme.example.com/x", tracking: { open: true, click: true } }, "smtp");
		expect(email).toMatchObject({ html: null, text: "Plain https://acme.example.com/x" });
	});
});

describe("provider payloads", () => {
	it("SendGrid gets tracking_settings, html links only, which its spec accepts (Prism)", async () => {
		const mock = prism("prismSendGridUrl");
		const seen: unknown[] = [];
		const recording: typeof fetch = async (input, init) => {
			seen.push(JSON.parse(String(init?.body)));
			return mock.fetch(input, init);
		};
		const provider = createSendGridProvider({ apiKey: "SG.test", baseUrl: mock.baseUrl, timeoutMs: 5_000, fetch: recording });
		const outcome = await provider.send({ ...TRACKED, tracking: { open: true, click: true } }, CONTEXT);
		expect(outcome, mock.violations.join("\n")).toEqual(ok({ providerMessageId: `sendgrid:${TRACKED.id}` }));
		expect(seen[0]).toMatchObject({
			tracking_settings: { open_tracking: { enable: true }, click_tracking: { enable: true, enable_text: false } },
		});
	});

	it("Postmark gets TrackOpens and TrackLinks", async () => {
		const spy = answer(200, { MessageID: "pm-1", ErrorCode: 0, Message: "OK", To: "ann@example.com", SubmittedAt: "2026-01-01T00:00:00Z" });
		const provider = createPostmarkProvider({ serverToken: "pm", baseUrl: "https://api.postmark.test", timeoutMs: 5_000 });
		await provider.send(TRACKED, CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({ TrackOpens: true, TrackLinks: "None" });
		spy.mockClear();
		await provider.send({ ...TRACKED, tracking: { open: false, click: true } }, CONTEXT);
		expect(sentRequest(spy).body).toMatchObject({ TrackOpens: false, TrackLinks: "HtmlOnly" });
	});

	it("Mailgun gets o:tracking-opens and o:tracking-clicks", async () => {
		const spy = answer(200, { id: "<m1@mg.acme.example.com>", message: "Queued. Thank you." });
		const provider = createMailgunProvider({
			apiKey: "key",
			domain: "mg.acme.example.com",
			baseUrl: "https://api.mailgun.test",
			timeoutMs: 5_000,
		});
		await provider.send({ ...TRACKED, tracking: { open: false, click: true } }, CONTEXT);
		const form = spy.mock.calls[0]?.[1]?.body as FormData;
		expect([form.get("o:tracking-opens"), form.get("o:tracking-clicks")]).toEqual(["no", "htmlonly"]);
	});

	it("Amazon SES gets ConfigurationOverrides.Tracking", () => {
		expect(toSendEmailRequest({ ...TRACKED, tracking: { open: true, click: false } }, undefined).ConfigurationOverrides).toEqual({
			Tracking: { OpenTrackingEnabled: "ENABLED", ClickTrackingEnabled: "DISABLED" },
		});
	});

	it("no payload carries tracking fields when the email does not say (built without a provider decision)", () => {
		expect(toSendEmailRequest(outboundEmail(), undefined).ConfigurationOverrides).toBeUndefined();
	});
});
