/**
 * The exactly-once invariant under random faults: an email is never handed to provider B while provider A may have
 * accepted it, unless A answered a definite refusal; so no email is ever accepted twice, or once at each of two
 * providers. Seeded, so a failure replays exactly.
 *
 * Two fake providers keep the truth of what they accepted: Resend deduplicates by our `Idempotency-Key` (a repeat of
 * an accepted key is answered with the first id and is not a second send), Postmark does not. Faults are drawn per
 * request: definite refusals (503, 429, 4xx) accept nothing; 500/502, a lost connection and a timeout accept the
 * email or not at random before failing. Between consumer runs the outcome write fails, leases expire, the recover
 * and reconcile crons run at moving virtual times. Then faults stop and everything drains.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { reconcile } from "../../src/cron/reconcile";
import { providerFactory } from "../../src/providers/registry";
import { unlimitedPacer } from "../../src/services/pacing";
import { failNthBatch, seedTenant } from "../helpers/api";
import { runCron } from "../helpers/cron";
import { consume, depsWith, emailRow, json, seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

const SETTINGS = {
	PROVIDERS: "resend,postmark",
	RESEND_API_KEY: "re",
	RESEND_BASE_URL: "https://resend.test",
	POSTMARK_SERVER_TOKEN: "pm",
	POSTMARK_BASE_URL: "https://postmark.test",
	MAX_ATTEMPTS: "8",
};
const envWith = () => Object.assign(Object.create(null), env, SETTINGS) as Env;

/** mulberry32: small, seeded, good enough to draw faults. */
function prng(seed: number) {
	let a = seed;
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

type Fault = "ok" | "503" | "429" | "4xx" | "500" | "502" | "lost" | "hang";
const FAULTS: [Fault, number][] = [
	["ok", 0.4],
	["503", 0.1],
	["429", 0.05],
	["4xx", 0.04],
	["500", 0.11],
	["502", 0.05],
	["lost", 0.15],
	["hang", 0.1],
];

/** The fake providers and what each accepted, per email id. */
function fakeProviders(random: () => number) {
	const accepted = { resend: new Map<string, string>(), postmark: new Map<string, string[]>() };
	let faults = true;
	const draw = (): Fault => {
		if (!faults) return "ok";
		let x = random();
		for (const [fault, p] of FAULTS) {
			x -= p;
			if (x < 0) return fault;
		}
		return "ok";
	};
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const url = new URL(String(input instanceof Request ? input.url : input));
		const body = typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : {};
		if (init?.method === "GET") return lookup(url);
		const resend = url.host === "resend.test";
		const id = resend
			? String(new Headers(init?.headers).get("idempotency-key"))
			: String((body.Metadata as { mailroom_id: string } | undefined)?.mailroom_id);
		const fault = draw();
		const accept = () => {
			if (resend) {
				const first = accepted.resend.get(id) ?? `re_${id}`;
				accepted.resend.set(id, first);
				return json(200, { id: first });
			}
			const pm = `pm_${id}_${(accepted.postmark.get(id) ?? []).length}`;
			accepted.postmark.set(id, [...(accepted.postmark.get(id) ?? []), pm]);
			return json(200, { MessageID: pm, ErrorCode: 0, Message: "OK" });
		};
		// Resend answers a key it already accepted with the first answer, whatever else is going on.
		if (resend && accepted.resend.has(id) && (fault === "ok" || fault === "503" || fault === "429" || fault === "4xx")) return accept();
		const maybe = () => random() < 0.5 && accept();
		switch (fault) {
			case "ok":
				return accept();
			case "503":
				return json(503, resend ? { name: "service_unavailable" } : { ErrorCode: 0, Message: "busy" });
			case "429":
				return json(429, resend ? { name: "rate_limit_exceeded" } : { ErrorCode: 0, Message: "slow" });
			case "4xx":
				return json(422, resend ? { name: "validation_error", message: "bad" } : { ErrorCode: 300, Message: "Invalid email request" });
			case "500":
			case "502":
				maybe();
				return json(Number(fault), resend ? { name: "internal_server_error" } : { ErrorCode: 0, Message: "oops" });
			case "lost":
				maybe();
				throw new TypeError("Network connection lost.");
			case "hang":
				maybe();
				return new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
		}
	});
	function lookup(url: URL): Response {
		if (url.host === "resend.test") {
			const pm = url.pathname.split("/").pop() ?? "";
			const found = [...accepted.resend.values()].includes(pm);
			return found
				? json(200, { object: "email", id: pm, last_event: "sent", created_at: new Date().toISOString() })
				: json(404, { name: "not_found", message: "no such email" });
		}
		if (url.pathname === "/messages/outbound") {
			const sends = accepted.postmark.get(url.searchParams.get("metadata_mailroom_id") ?? "") ?? [];
			return json(200, { TotalCount: sends.length, Messages: sends.map((MessageID) => ({ MessageID })) });
		}
		const pm = url.pathname.split("/")[3] ?? "";
		return json(200, { MessageID: pm, Status: "Sent", ReceivedAt: new Date().toISOString(), MessageEvents: [] });
	}
	return {
		accepted,
		stopFaults: () => {
			faults = false;
		},
	};
}

describe("exactly once under random faults", () => {
	it.each([1, 2, 3])("never lets two providers (or Postmark twice) accept one email (seed %i)", async (seed) => {
		const random = prng(seed);
		const tenants = await Promise.all([
			seedTenant({ providers: ["resend", "postmark"] }),
			seedTenant({ providers: ["postmark", "resend"] }),
			seedTenant({ providers: ["postmark"] }),
		]);
		const emails: { id: string; tenantId: string }[] = [];
		/** Emails arrive in waves, so sends (and their faults) happen throughout the run. */
		const accept = async (n: number) => {
			for (let i = 0; i < n; i++) {
				const t = tenants[emails.length % 3] as (typeof tenants)[number];
				emails.push({ id: await seedEmail(t, { to: `u${seed}-${emails.length}@example.org` }), tenantId: t.tenantId });
			}
		};
		const t0 = tenants[0] as (typeof tenants)[number];
		const fakes = fakeProviders(random);
		vi.spyOn(env.SEND_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue(undefined as never);
		const deps = () => depsWith(SETTINGS, { random }, 20);
		let clock = Date.now();
		const reconcileAt = async () => {
			clock += 70_000;
			await reconcile(envWith(), clock, { providers: providerFactory(envWith()), pacer: unlimitedPacer });
		};
		const expireAll = () => env.DB.prepare("UPDATE emails SET lease_until = 0 WHERE status = 'sending'").run();

		for (let round = 0; round < 40; round++) {
			if (round % 5 === 0 && round < 25) await accept(8);
			if (round === 25) fakes.stopFaults();
			const faulty = round < 25;
			const unrecorded = faulty && random() < 0.3 ? failNthBatch(2, "D1 down while recording") : null;
			await consume(t0, emails, deps());
			unrecorded?.mockRestore();
			if (!faulty || random() < 0.3) {
				await expireAll();
				if (random() < 0.5) await runCron("* * * * *", Date.now());
			}
			if (!faulty || random() < 0.4) await reconcileAt();
		}
		// What no lookup can settle (uncertain at Resend without its id) ends visibly a day later.
		clock += 25 * 3_600_000;
		await reconcile(envWith(), clock, { providers: providerFactory(envWith()), pacer: unlimitedPacer });

		for (const { id } of emails) {
			const row = await emailRow(id);
			const atResend = fakes.accepted.resend.has(id) ? 1 : 0;
			const atPostmark = fakes.accepted.postmark.get(id)?.length ?? 0;
			const context = { id, row, atResend, atPostmark };
			expect(atResend + atPostmark, JSON.stringify(context)).toBeLessThanOrEqual(1);
			expect(["sent", "failed"], JSON.stringify(context)).toContain(row.status);
			if (row.status === "sent") {
				expect(atResend + atPostmark, JSON.stringify(context)).toBe(1);
				expect(row.provider, JSON.stringify(context)).toBe(atResend ? "resend" : "postmark");
			}
			if (row.status === "failed" && !String(row.last_error).startsWith("unresolved_at_provider")) {
				expect(atResend + atPostmark, JSON.stringify(context)).toBe(0);
			}
		}
	});
});
