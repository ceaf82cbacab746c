import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../../src/db/client";
import type { WebhookQueueMessage } from "../../src/services/webhook-fanout";
import {
	CLICK_WINDOW_MS,
	MACHINE_CLICK_MS,
	MAX_HITS_PER_MINUTE,
	OPEN_WINDOW_MS,
	recordTrackingHit,
	type TrackingHit,
} from "../../src/tracking/record";
import { signToken } from "../../src/tracking/token";
import { failNthBatch, seedTenant } from "../helpers/api";
import { SECRET } from "./helpers";
import { BROWSER, clickPath, engagementOf, hit, LINKS, openPath, sentTrackedEmail } from "./hits";

afterEach(() => {
	vi.restoreAllMocks();
});

const GIF_MAGIC = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61];
const deps = () => ({ db: getDb(env.DB), webhookQueue: env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage> });

async function bytesOf(response: Response): Promise<number[]> {
	return [...new Uint8Array(await response.arrayBuffer())];
}

/** A hit on one of the email's tracked links (or its pixel) at `at`, from a browser unless said otherwise. */
function click(emailId: string, at: number, linkIndex = 0, userAgent: string | null = BROWSER): TrackingHit {
	return { token: { kind: "click", emailId, linkIndex, url: LINKS[linkIndex] ?? "" }, at, userAgent, method: "GET" };
}
function open(emailId: string, at: number, userAgent: string | null = BROWSER): TrackingHit {
	return { token: { kind: "open", emailId }, at, userAgent, method: "GET" };
}

describe("GET /t/o/:token", () => {
	it("answers a 1×1 GIF that nothing may cache and records the open", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const res = await hit(await openPath(id), { userAgent: BROWSER });
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("image/gif");
		expect(res.headers.get("cache-control")).toContain("no-store");
		expect((await bytesOf(res)).slice(0, 6)).toEqual(GIF_MAGIC);
		expect(await engagementOf(id)).toEqual([
			{ type: "opened", provider: "mailroom", detail: { user_agent_class: "browser", machine: false } },
		]);
	});

	it.each([
		["a forged token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
		["garbage", "not-a-token!"],
	])("answers the same GIF for %s and records nothing", async (_, token) => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const res = await hit(`/t/o/${encodeURIComponent(token)}`);
		expect(res.status).toBe(200);
		expect((await bytesOf(res)).slice(0, 6)).toEqual(GIF_MAGIC);
		expect(await engagementOf(id)).toEqual([]);
	});

	it("still answers the GIF when D1 cannot record the open", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		vi.spyOn(env.DB, "prepare").mockImplementation(() => {
			throw new Error("D1 is unavailable");
		});
		const res = await hit(await openPath(id));
		vi.restoreAllMocks();
		expect(res.status).toBe(200);
		expect(await engagementOf(id)).toEqual([]);
	});
});

describe("GET /t/c/:token", () => {
	it("redirects to the link's own URL and records the click with its link", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const res = await hit(await clickPath(id, 1), { userAgent: BROWSER });
		expect(res.status).toBe(302);
		expect(res.headers.get("location")).toBe(LINKS[1]);
		expect(res.headers.get("cache-control")).toContain("no-store");
		expect(await engagementOf(id)).toEqual([
			{
				type: "clicked",
				provider: "mailroom",
				detail: { link: LINKS[1], link_index: 1, user_agent_class: "browser", machine: false },
			},
		]);
	});

	it.each([
		["altered", (token: string) => `${token.slice(0, 30)}${token[30] === "A" ? "B" : "A"}${token.slice(31)}`],
		["truncated", (token: string) => token.slice(0, -5)],
		["an open pixel's", async (_: string, id: string) => (await openPath(id)).slice("/t/o/".length)],
	])("answers an %s token with a page and no redirect, and records nothing", async (_, change) => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const token = (await clickPath(id)).slice("/t/c/".length);
		const res = await hit(`/t/c/${await change(token, id)}`);
		expect(res.status).toBe(404);
		expect(res.headers.get("location")).toBeNull();
		expect(res.headers.get("content-type")).toContain("text/html");
		expect(await res.text()).toContain("This link is not valid");
		expect(await engagementOf(id)).toEqual([]);
	});

	it("redirects to where the email's link pointed, whatever the request adds", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const res = await hit(`${await clickPath(id)}?url=https://evil.example/`);
		expect(res.headers.get("location")).toBe(LINKS[0]);
	});

	it("still redirects when D1 cannot record the click", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const path = await clickPath(id);
		vi.spyOn(env.DB, "prepare").mockImplementation(() => {
			throw new Error("D1 is unavailable");
		});
		const res = await hit(path);
		expect(res.status).toBe(302);
		expect(res.headers.get("location")).toBe(LINKS[0]);
	});

	it("records a HEAD request as a machine's (browsers never send one to a link)", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const res = await hit(await clickPath(id), { method: "HEAD", userAgent: BROWSER });
		expect(res.status).toBe(302);
		expect((await engagementOf(id))[0]?.detail).toMatchObject({ machine: true, machine_reason: "head_request" });
	});
});

describe("what is recorded", () => {
	it("records nothing for an email Mailroom does not have, though the link still works", async () => {
		const unknown = "0193b1e2-7c4a-7d2e-9f3b-000000000001";
		const token = await signToken(SECRET, { kind: "click", emailId: unknown, linkIndex: 0, url: LINKS[0] ?? "" });
		const res = await hit(`/t/c/${token}`);
		expect(res.headers.get("location")).toBe(LINKS[0]);
		const { n } =
			(await env.DB.prepare("SELECT count(*) AS n FROM email_events WHERE email_id = ?").bind(unknown).first<{ n: number }>()) ?? {};
		expect(n).toBe(0);
		expect(await recordTrackingHit(deps(), click(unknown, Date.now()))).toBe("unknown_email");
	});

	it("records nothing for an email past retention (its body purged), though the link still works", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		await env.DB.prepare("UPDATE emails SET html = NULL, text_body = NULL WHERE id = ?").bind(id).run();
		const res = await hit(await clickPath(id));
		expect(res.headers.get("location")).toBe(LINKS[0]);
		expect(await engagementOf(id)).toEqual([]);
	});

	it("moves last_event to the engagement, not the status", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		await hit(await clickPath(id), { userAgent: BROWSER });
		const row = await env.DB.prepare("SELECT status, last_event FROM emails WHERE id = ?").bind(id).first();
		expect(row).toEqual({ status: "sent", last_event: "clicked" });
	});
});

describe("dedupe windows", () => {
	it("records opens of one email within a window once, and again in the next window", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const start = (Math.floor(Date.now() / OPEN_WINDOW_MS) + 1) * OPEN_WINDOW_MS;
		expect(await recordTrackingHit(deps(), open(id, start))).toBe("recorded");
		expect(await recordTrackingHit(deps(), open(id, start + OPEN_WINDOW_MS - 1))).toBe("duplicate");
		expect(await recordTrackingHit(deps(), open(id, start + OPEN_WINDOW_MS))).toBe("recorded");
		expect((await engagementOf(id)).map((e) => e.type)).toEqual(["opened", "opened"]);
	});

	it("records clicks on each link within a window once", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const start = (Math.floor(Date.now() / CLICK_WINDOW_MS) + 1) * CLICK_WINDOW_MS;
		await recordTrackingHit(deps(), click(id, start, 0));
		await recordTrackingHit(deps(), click(id, start + 5_000, 0));
		await recordTrackingHit(deps(), click(id, start + 10_000, 1));
		expect((await engagementOf(id)).map((e) => e.detail?.link_index)).toEqual([0, 1]);
	});

	it("keeps a machine's click from hiding the person's that follows", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const start = (Math.floor(Date.now() / CLICK_WINDOW_MS) + 1) * CLICK_WINDOW_MS;
		await recordTrackingHit(deps(), click(id, start, 0, "Mozilla/5.0 (compatible; Barracuda Sentinel)"));
		await recordTrackingHit(deps(), click(id, start + 60_000, 0));
		expect((await engagementOf(id)).map((e) => e.detail?.machine)).toEqual([true, false]);
	});

	it(`records at most ${MAX_HITS_PER_MINUTE} hits of one email a minute`, async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const start = (Math.floor(Date.now() / 60_000) + 1) * 60_000;
		const outcomes: string[] = [];
		// Different windows' worth of hits within one minute: only the per-minute bound stops them.
		for (let i = 0; i <= MAX_HITS_PER_MINUTE; i++) {
			const token = { kind: "click" as const, emailId: id, linkIndex: i, url: `https://acme.example.com/${i}` };
			outcomes.push(await recordTrackingHit(deps(), { token, at: start + i, userAgent: BROWSER, method: "GET" }));
		}
		expect(outcomes.filter((o) => o === "recorded")).toHaveLength(MAX_HITS_PER_MINUTE);
		expect(outcomes.at(-1)).toBe("throttled");
	});
});

describe("machine opens and clicks", () => {
	it.each([
		["Apple Mail Privacy Protection", "Mozilla/5.0", { user_agent_class: "apple_mail_proxy", machine: true, machine_reason: "user_agent" }],
		[
			"Gmail's image proxy (a person's open, cached)",
			"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
			{ user_agent_class: "gmail_proxy", machine: false },
		],
		[
			"Yahoo's image proxy",
			"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
			{ user_agent_class: "yahoo_proxy", machine: false },
		],
		["Outlook", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)", { user_agent_class: "mail_client", machine: false }],
		[
			"a security scanner",
			"Mozilla/5.0 (compatible; Mimecast URL Protect)",
			{ user_agent_class: "scanner", machine: true, machine_reason: "user_agent" },
		],
		["no user agent", null, { user_agent_class: "unknown", machine: false }],
	])("flags an open by %s", async (_, userAgent, detail) => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		await recordTrackingHit(deps(), open(id, Date.now(), userAgent));
		expect((await engagementOf(id))[0]?.detail).toEqual(detail);
	});

	it("does not take a phone called CUBOT for a bot", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const ua = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
		await recordTrackingHit(deps(), open(id, Date.now(), ua));
		expect((await engagementOf(id))[0]?.detail).toEqual({ user_agent_class: "browser", machine: false });
	});

	it(`flags a click within ${MACHINE_CLICK_MS / 1000} s of sending as a scanner's`, async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t, 2_000);
		await recordTrackingHit(deps(), click(id, Date.now()));
		expect((await engagementOf(id))[0]?.detail).toMatchObject({ machine: true, machine_reason: "clicked_on_arrival" });
	});

	it("flags clicks on several links of one email within a second", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const now = Date.now();
		await recordTrackingHit(deps(), click(id, now, 0));
		await recordTrackingHit(deps(), click(id, now + 300, 1));
		expect((await engagementOf(id)).map((e) => e.detail?.machine_reason ?? null)).toEqual([null, "many_links_at_once"]);
	});

	it("takes two links clicked seconds apart for a person's", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const now = Date.now();
		await recordTrackingHit(deps(), click(id, now, 0));
		await recordTrackingHit(deps(), click(id, now + 5_000, 1));
		expect((await engagementOf(id)).map((e) => e.detail?.machine)).toEqual([false, false]);
	});
});

describe("D1 failures", () => {
	it("records a hit again after its write failed", async () => {
		const t = await seedTenant();
		const id = await sentTrackedEmail(t);
		const now = Date.now();
		failNthBatch(1);
		await expect(recordTrackingHit(deps(), click(id, now, 0))).rejects.toThrow("D1 is unavailable");
		vi.restoreAllMocks();
		expect(await recordTrackingHit(deps(), click(id, now + 1, 0))).toBe("recorded");
		expect(await engagementOf(id)).toHaveLength(1);
	});
});
