/** Seeding emails without the live queue consumer picking them up, and running the send consumer directly. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { vi } from "vitest";
import { getDb } from "../../src/db/client";
import { type TimelineEvent, timelineOf } from "../../src/db/emails";
import { emailEvents, emails } from "../../src/db/schema";
import { consumeSendBatch, type SendConsumerDeps, sendConsumerDeps } from "../../src/queue/send";
import { type Pacer, unlimitedPacer } from "../../src/services/pacing";
import { call, email, type Seeded } from "./api";

/** Accepts an email through the API but keeps its queue message from the live consumer; returns its id. */
export async function seedEmail(t: Seeded, overrides: Record<string, unknown> = {}): Promise<string> {
	const send = vi.spyOn(env.SEND_QUEUE, "send").mockResolvedValue(undefined as never);
	try {
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t, overrides) });
		if (res.status !== 200) throw new Error(`seed email failed: ${res.status} ${JSON.stringify(res.body)}`);
		return res.body.id;
	} finally {
		send.mockRestore();
	}
}

/** Consumer dependencies for an environment with some settings replaced (providers, credentials, limits). */
export function depsWith(
	settings: Record<string, string> = {},
	extra: Partial<SendConsumerDeps> = {},
	timeoutMs?: number,
): SendConsumerDeps {
	const merged = Object.assign(
		Object.create(null),
		env,
		settings,
		timeoutMs === undefined ? {} : { PROVIDER_TIMEOUT_MS: String(timeoutMs) },
	) as Env;
	// Just under 1: full jitter then picks the top of its range, so delays are predictable in tests. Pacing is off
	// unless a test asks for the real limiter: its state (buckets, circuits) outlives a test within its file.
	return { ...sendConsumerDeps(merged), random: () => 0.9999, pacer: unlimitedPacer, ...extra };
}

let seq = 0;

/**
 * Runs the send consumer on queue messages for `ids` (of tenant `t`, or each with its own tenant); returns what it
 * acked and retried, with delays.
 */
export async function consume(t: Seeded, ids: (string | { id: string; tenantId: string })[], deps: SendConsumerDeps) {
	const batch = createMessageBatch(
		"mailroom-send",
		ids.map((item) => ({
			id: `m${++seq}`,
			timestamp: new Date(),
			attempts: 1,
			body: typeof item === "string" ? { v: 1, id: item, tenantId: t.tenantId } : { v: 1, ...item },
		})),
	);
	const retries = batch.messages.map((m) => vi.spyOn(m, "retry"));
	const ctx = createExecutionContext();
	await consumeSendBatch(batch, deps);
	const result = await getQueueResult(batch, ctx);
	return {
		acked: result.explicitAcks.length,
		retried: result.retryMessages.length,
		delays: retries.flatMap((r) => r.mock.calls.map((c) => (c[0] as { delaySeconds: number }).delaySeconds)),
	};
}

export async function emailRow(id: string): Promise<Record<string, unknown>> {
	const row = await env.DB.prepare("SELECT * FROM emails WHERE id = ?").bind(id).first<Record<string, unknown>>();
	if (!row) throw new Error(`no email ${id}`);
	return row;
}

/** The email's history as `GET /emails/:id/events` lists it (row-held events and `email_events` rows, merged). */
export async function timeline(id: string): Promise<TimelineEvent[]> {
	const db = getDb(env.DB);
	const row = await db.query.emails.findFirst({ where: eq(emails.id, id) });
	if (!row) throw new Error(`no email ${id}`);
	return timelineOf(row, await db.select().from(emailEvents).where(eq(emailEvents.emailId, id)));
}

export async function eventTypes(id: string): Promise<string[]> {
	return (await timeline(id)).map((e) => e.type);
}

/** A fetch spy answering provider calls in turn with `responses` (the last one repeats); records the requests. */
export function fakeProvider(...responses: (Response | Error | "hang")[]) {
	const requests: { url: string; init: RequestInit | undefined; body: unknown }[] = [];
	let i = 0;
	const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
		let body: unknown = init?.body;
		if (typeof body === "string") {
			try {
				body = JSON.parse(body);
			} catch {
				// keep the text
			}
		}
		requests.push({ url, init, body });
		const next = responses[Math.min(i++, responses.length - 1)];
		if (next === "hang") {
			return new Promise<Response>((_, reject) => {
				init?.signal?.addEventListener("abort", () => reject(init.signal?.reason ?? new DOMException("aborted", "TimeoutError")));
			});
		}
		if (next instanceof Error) throw next;
		return (next as Response).clone();
	});
	return { spy, requests };
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
	new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** A promise settled from outside: a provider answer held back until the test lets it go. */
export function gate<T>() {
	let resolve: (value: T) => void = () => {};
	const promise = new Promise<T>((r) => {
		resolve = r;
	});
	return { promise, resolve };
}

export function hostOf(input: RequestInfo | URL): string {
	return new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url).host;
}

/** A pacer granting everything, except that `open` providers report an open circuit and `failing` calls throw. */
export function stubPacer(options: { open?: string[]; failing?: ("tenant" | "provider")[] } = {}): Pacer {
	const down = () => Promise.reject(new Error("RateLimiter unavailable"));
	return {
		tenantPermits: (_t, _r, n) => (options.failing?.includes("tenant") ? down() : Promise.resolve({ granted: n, retryAfterMs: 0 })),
		providerPermits: (name, n) => {
			if (options.failing?.includes("provider")) return down();
			return Promise.resolve(
				options.open?.includes(name)
					? { granted: 0, retryAfterMs: 30_000, circuit: "open" }
					: { granted: n, retryAfterMs: 0, circuit: "closed" },
			);
		},
		report: async () => {},
		status: async () => ({ circuit: "closed", consecutiveFailures: 0, openedAt: null, ratePerSecond: 1000 }),
	};
}
