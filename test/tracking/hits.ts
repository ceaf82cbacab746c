/** Tracked emails seeded as sent, and requests to the tracking endpoints that wait for what they record afterwards. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { signToken } from "../../src/tracking/token";
import type { Seeded } from "../helpers/api";
import { seedEmail, timeline } from "../helpers/send";
import { SECRET } from "./helpers";

export const LINKS = ["https://acme.example.com/orders/42", "https://acme.example.com/help"];
export const BROWSER =
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

/** An email accepted with open and click tracking and sent `sentAgoMs` ago (a minute: read by a person, not on arrival). */
export async function sentTrackedEmail(t: Seeded, sentAgoMs = 60_000): Promise<string> {
	const html = `<body>${LINKS.map((l) => `<a href="${l}">${l}</a>`).join(" ")}</body>`;
	const id = await seedEmail(t, { html, tracking: { open: true, click: true } });
	await env.DB.prepare("UPDATE emails SET status = 'sent', last_event = 'sent', sent_at = ? WHERE id = ?")
		.bind(Date.now() - sentAgoMs, id)
		.run();
	return id;
}

export async function openPath(emailId: string): Promise<string> {
	return `/t/o/${await signToken(SECRET, { kind: "open", emailId })}`;
}

export async function clickPath(emailId: string, linkIndex = 0): Promise<string> {
	return `/t/c/${await signToken(SECRET, { kind: "click", emailId, linkIndex, url: LINKS[linkIndex] ?? "" })}`;
}

/** One request to the Worker; resolves once what it does after answering (`waitUntil`) is done. */
export async function hit(path: string, options: { userAgent?: string; method?: string } = {}): Promise<Response> {
	const ctx = createExecutionContext();
	const headers: Record<string, string> = options.userAgent === undefined ? {} : { "user-agent": options.userAgent };
	const request = new Request(`http://mailroom.test${path}`, { method: options.method ?? "GET", headers, redirect: "manual" });
	const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, env, ctx);
	await waitOnExecutionContext(ctx);
	return response;
}

export type StoredEvent = { type: string; provider: string | null; detail: Record<string, unknown> | null };

/** The email's engagement events (opened, clicked) from its history, oldest first. */
export async function engagementOf(emailId: string): Promise<StoredEvent[]> {
	return (await timeline(emailId))
		.filter((e) => e.type === "opened" || e.type === "clicked")
		.map(({ type, provider, detail }) => ({ type, provider, detail }));
}
