#!/usr/bin/env node
/**
 * Chaos run, pass/fail: a few thousand emails through a real `wrangler dev` while the providers misbehave, the queue
 * delivers messages twice and the dev server is restarted once mid-way; then, after crons and retries drain, checks
 * that every accepted email ended well and no recipient was sent an email twice. Also runs bench/fuzz.mjs and
 * forges and replays provider webhooks. Exit code 1 on any violation.
 *
 *   npm run chaos                 # full: 3,000 emails, 10,000 fuzz requests (about 5–8 minutes)
 *   npm run chaos -- --small      # CI: 300 emails, 1,000 fuzz requests (about 2–3 minutes)
 *   npm run chaos -- --emails 1000 --fuzz 0 --fault-timeout 0.02 --seed 7 --keep
 *
 * Options (defaults full / small): --emails 3000/300, --tenants 6/4, --fuzz 10000/1000 (0 skips it),
 * --fault-5xx 0.10 (500/502/503, a third of the 503s with Retry-After: 1), --fault-429 0.05 (half with
 * Retry-After: 1), --fault-timeout 0.01 capped by --max-timeouts 6/2, --fault-garbled 0.01, --fault-reset 0.02,
 * --fault-reset-after 0.01, --duplicates 3 (duplicate-delivery cron triggers while sending), --sweeps 3,
 * --drain-seconds 420/240 (a deadline; a drained run moves on at once), --latency-ms 5 (fake provider latency,
 * ± jitter), --slow-window-s 12 and --slow-ms 4500 (a window in which Postmark answers every send that late),
 * --stalled-attachments 0.1 (share of single sends with a `path` attachment, half of whose downloads stall mid-body),
 * --limiter-faults 0.05 (share of the consumer's RateLimiter RPCs that fail), --concurrency 8 (clients sending),
 * --circuit-threshold 50, --webhooks 8/4 (emails whose webhooks are
 * forged and replayed), --seed 1, --keep (keep the state directory and wrangler's log), --verbose, --project <dir>
 * (run another checkout of this project, e.g. one carrying a candidate fix; wrangler still comes from this one's
 * node_modules).
 *
 * Both `wrangler dev` processes serve a copy of the project taken when the run starts (src, migrations, config;
 * node_modules linked), so edits made to the working tree during a run are not hot-reloaded into it.
 *
 * Setup. One `wrangler dev` with `--persist-to` a temp directory, so it can be stopped and started on the same D1;
 * PROVIDERS=resend,postmark with both pointed at fakes in this process; provider rates 10,000/s (pacing is not under
 * test here), RETRY_BASE_SECONDS=1, RETRY_MAX_SECONDS=5, MAX_ATTEMPTS=8, CIRCUIT_FAILURE_THRESHOLD=50 so retries are
 * exercised rather than circuits. Leases are short so the lifecycle's lease rules are exercised: SEND_LEASE_SECONDS=20,
 * PROVIDER_TIMEOUT_MS=6000, ATTACHMENT_TIMEOUT_MS=3000; CHAOS_LIMITER_FAULT_RATE makes the consumer's RateLimiter
 * RPCs fail at --limiter-faults. Tenants take turns among four provider lists: the default (resend → postmark),
 * postmark only (no idempotency, no failover), resend only, and postmark → resend.
 *
 * Lifecycle scenario (docs/architecture.md, "Exactly once"): two providers; a slow window (when phase 3 starts, Postmark
 * answers every send after --slow-ms for --slow-window-s, so a consumer batch outlasts its 20 s lease and the lease
 * discipline must give rows back instead of calling); attachment URLs served by this process, half of them stalling
 * after their first bytes (such an email must end `failed` after its attempts, never sent, without holding up the
 * rest); and RateLimiter faults in the consumer (rows are given back, never stranded).
 *
 * Fake providers (this process, one HTTP server each):
 * - Resend `POST /emails` honours `Idempotency-Key` as Resend does: the same key and body answer the first id again
 *   and count as ONE accepted send; a different body → 409 `invalid_idempotent_request`. A send without a key, or
 *   with a key other than its `mailroom_id` tag, is a violation. `GET /emails/:id` answers `last_event: delivered`.
 * - Postmark `POST /email` has no idempotency: every accepted request is a send, recorded per
 *   `Metadata.mailroom_id`. The reconciler's lookups are answered: outbound search by `metadata_mailroom_id`,
 *   message details (Status Sent, a Delivered event) and bounces (none).
 * - Recipients `inactive…@` are refused for good (Postmark 422 ErrorCode 406, Resend 422 validation_error).
 * - Faults, drawn per request from a seeded PRNG: 5xx and 429 (not sent); `reset`: the socket is destroyed before
 *   the request is read (nothing sent); `reset-after`: the send is recorded, then the socket is destroyed (sent, no
 *   answer); `garbled`: the send is recorded and answered 200 with an HTML body (the Worker cannot read an id);
 *   `timeout`: the send is recorded and never answered (the socket is closed after 20 s), so the Worker's 15 s
 *   provider timeout fires. The Worker cannot tell `reset` from `reset-after` (workerd reports both as "Network
 *   connection lost"), so all but 5xx/429 are uncertain outcomes for it: Resend is asked again under the same key,
 *   Postmark is reconciled. Resets are injected only on a connection's first request (one drawn on a reused
 *   connection waits for the next fresh one): destroying a connection that carried earlier requests also lost
 *   responses already written on it. One answer in ten carries `Connection: close`, so fresh connections keep
 *   coming. Each timeout stalls the consumer's batch for 15 s (locally one consumer invocation runs at a time), so
 *   their number is capped.
 *
 * Run. Crons are triggered over `/cdn-cgi/handler/scheduled?cron=…&time=…`, often with a virtual `time`:
 * 1. Accept the first half: ~30% of the emails as singles with `Idempotency-Key` (5% sent twice: the replay must
 *    answer the same id; 8% scheduled 20–60 s ahead; 4% canceled right after), the rest in batches of 10 to N/10
 *    (at most 100), 30% of them permissive with one invalid item; 2% of recipients `inactive…`. Half-way, a
 *    duplicate-delivery trigger: the minute cron at now + 3 minutes, so every queued/scheduled row counts as more
 *    than 2 minutes late and is enqueued again while its message is still in the queue — the queue delivers those
 *    emails twice. (3 minutes, not more: rows keep the cron's time in `next_attempt_at`/`updated_at`, and a small
 *    offset keeps the reconciler's 15-minute sweep of `sent` emails out of the early run; a long drain's reconcile
 *    clock, +65 s a run, still reaches it, and step 4 asks for it anyway.) As a
 *    side effect every `sending` lease looks expired, so the lease-expiry path runs with sends still in flight
 *    (Resend rows are requeued, Postmark rows become `uncertain`), as in production when a batch outlives its lease.
 * 2. Another duplicate trigger, then a few idempotent single sends are fired and `wrangler dev` is stopped while
 *    they, the consumer and the queue are busy (local queue messages live in memory and are lost; D1 persists).
 *    It is started again on the same state and sends that got no answer are retried with their key until answered.
 *    Then "time passes" for the recover job: the minute cron at one time T (≥ now + 3 min and ≥ 2.5 min after any
 *    earlier virtual time), repeated at the same T while it re-enqueues its LIMIT of 200 rows (rows it re-enqueued
 *    carry T and are not picked again), as minutes of real crons would.
 * 3. Accept the second half, with a duplicate trigger half-way. Then the fuzz runs (its tenants use the sandbox
 *    provider, so the fakes' counts stay the chaos tenants' own) while the run drains: `GET /stats` per tenant every
 *    3 s; every 15 s the minute cron, at the real time, or "time passes" as above when the queued + scheduled count
 *    did not drop in the last 15 s; while anything is `uncertain`, the reconcile cron every 5 s at a time ≥ 65 s
 *    after its previous run (one UNCERTAIN_SETTLE interval, so "not found twice, an interval apart" can happen) and
 *    after the latest virtual minute time (the rows the recover made uncertain carry it). Drained when no chaos
 *    email is queued, sending, scheduled or uncertain, or at --drain-seconds.
 * 4. --sweeps 3 reconcile runs at now + 16 min: `sent` emails without a final event are looked up at both fakes
 *    (100 per run), which answer "delivered".
 *
 * Checks (each failure is a violation):
 * - every accepted id exists for its tenant; no tenant has rows the clients were never given an id for;
 * - every email is terminal (sent, delivered, bounced, complained, failed, canceled) or visibly pending: `queued` or
 *   `uncertain` whose last event gives a reason (an error, a reason or `not_found_at_provider`); never `sending` or
 *   `scheduled` after the drain;
 * - at most one accepted send per email id over both providers together, whatever happened to it (a Postmark send
 *   is redone only after two lookups found nothing); a Resend send always carries its id as the key;
 * - an email whose attachment stalls ends `failed` and no provider accepted it; one whose download works is sent;
 * - no `sent`/`delivered` email that no provider accepted; no canceled email that a provider accepted; at most one
 *   `sent` event per email from the consumer; a `sent` event's provider_message_id is one the provider issued;
 * - idempotent replays answer the original id; the restart's retried sends get exactly one id each;
 * - forged and replayed provider webhooks change nothing: Resend with a wrong secret (`email.bounced`) → 401;
 *   correctly signed but 10 minutes old → 401; Postmark with wrong basic auth → 401; a correctly signed
 *   `email.delivered` → 200, and the same request again → 200 with the events and status unchanged;
 * - the fuzz's own checks (bench/fuzz.mjs);
 * - no worker log line `cron_job_failed`, `send_outcomes_not_recorded`, `provider_threw`, `send_preparation_threw` or
 *   `send_message_malformed`.
 * Reported, not failed: emails `failed` although a provider accepted them (the Worker cannot know); a second `sent`
 * event added by the reconciler to an email the consumer had already recorded as sent (it also fans out a second
 * `email.sent` tenant webhook); warn-level worker log lines.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { findFreePort, PROJECT_ROOT, startDevServer } from "../scripts/lib/dev-server.mjs";
import { call, dice, listAll, must, parseArgs, pool, printFuzz, printTable, prng, runFuzz, snapshotProject } from "./fuzz.mjs";

const PRESETS = {
	full: { emails: 3000, tenants: 6, fuzz: 10_000, "max-timeouts": 6, "drain-seconds": 420, webhooks: 8 },
	small: { emails: 300, tenants: 4, fuzz: 1000, "max-timeouts": 2, "drain-seconds": 240, webhooks: 4 },
};
const cli = parseArgs({
	small: false,
	emails: 0,
	tenants: 0,
	fuzz: -1,
	"fault-5xx": 0.1,
	"fault-429": 0.05,
	"fault-timeout": 0.01,
	"max-timeouts": -1,
	"fault-garbled": 0.01,
	"fault-reset": 0.02,
	"fault-reset-after": 0.01,
	duplicates: 3,
	sweeps: 3,
	"drain-seconds": 0,
	"latency-ms": 5,
	"slow-window-s": 12,
	"slow-ms": 4500,
	"stalled-attachments": 0.1,
	"limiter-faults": 0.05,
	concurrency: 8,
	"circuit-threshold": 50,
	webhooks: -1,
	seed: 1,
	keep: false,
	verbose: false,
	project: "",
});
const preset = cli.small ? PRESETS.small : PRESETS.full;
const opts = { ...cli };
// 0 (counts) or -1 (the rest) means "the preset's value"; an explicit --fuzz 0 skips the fuzz.
for (const [k, v] of Object.entries(preset)) if (cli[k] === (["emails", "tenants", "drain-seconds"].includes(k) ? 0 : -1)) opts[k] = v;

const TERMINAL = new Set(["sent", "delivered", "bounced", "complained", "failed", "canceled"]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const elapsed = () => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(`[${elapsed().padStart(7)}] ${msg}`);

const violations = [];
function violate(kind, detail) {
	violations.push({ kind, detail });
	if (opts.verbose) say(`VIOLATION ${kind}: ${JSON.stringify(detail).slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Fake providers

function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		req.on("data", (c) => chunks.push(c));
		req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
		req.on("error", reject);
	});
}

function parseJson(text) {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/** Faults drawn per provider request from one seeded PRNG; timeouts are capped (each stalls a consumer batch 15 s). */
function faultPicker(seed) {
	const d = dice(prng(seed));
	let timeouts = 0;
	return () => {
		const shares = [
			["5xx", opts["fault-5xx"]],
			["429", opts["fault-429"]],
			["reset", opts["fault-reset"]],
			["garbled", opts["fault-garbled"]],
			["reset-after", opts["fault-reset-after"]],
			["timeout", opts["fault-timeout"]],
		];
		let r = d.random();
		for (const [name, share] of shares) {
			if (r < share) {
				if (name === "timeout") {
					if (timeouts >= opts["max-timeouts"]) return null;
					timeouts++;
				}
				return { name, d };
			}
			r -= share;
		}
		return null;
	};
}

function jitter(d) {
	return Math.max(0, opts["latency-ms"] + Math.floor((d.random() - 0.5) * opts["latency-ms"]));
}

/** Until when (epoch ms) a fake answers every send `--slow-ms` late; set by the run for Postmark. */
const slowUntil = { postmark: 0, resend: 0 };

/** A provider HTTP server: routing, auth, fault injection and counters; `handlers` do the provider's own work. */
async function startFake(name, seed, handle) {
	const stats = {
		requests: 0,
		send_requests: 0,
		accepted: 0,
		replays: 0,
		"5xx": 0,
		429: 0,
		"429 with Retry-After": 0,
		resets: 0,
		"resets after send": 0,
		"resets deferred to a fresh connection": 0,
		garbled: 0,
		timeouts: 0,
		"refused (inactive)": 0,
		"409 idempotency": 0,
		lookups: 0,
		"lookup 5xx": 0,
		"auth errors": 0,
		"slow answers": 0,
	};
	const accepted = new Map(); // mailroom id → provider ids accepted for it (one per accepted send)
	const history = new Map(); // mailroom id → what this provider saw and answered, for violation reports
	const pick = faultPicker(seed);
	const lookupFaults = dice(prng(seed + 17));
	const hung = new Set();
	const requestsOn = new WeakMap();
	const churn = dice(prng(seed + 29));
	/** Resets drawn on a reused connection, applied to the next send on a fresh one. */
	const owed = [];
	const server = createServer(async (req, res) => {
		stats.requests++;
		const isSend = req.method === "POST";
		// Requests seen on this connection: a reset is only injected on a connection's first request. Destroying a
		// socket that carried earlier requests (with unread bytes in it, which makes the kernel send RST) also loses
		// responses already written on it: the Worker saw "Network connection lost" for sends this fake had answered.
		const onSocket = (requestsOn.get(req.socket) ?? 0) + 1;
		requestsOn.set(req.socket, onSocket);
		let fault = isSend ? pick() : null;
		if ((fault?.name === "reset" || fault?.name === "reset-after") && onSocket > 1) {
			stats["resets deferred to a fresh connection"]++;
			owed.push(fault.name);
			fault = null;
		} else if (isSend && !fault && onSocket === 1 && owed.length > 0) {
			fault = { name: owed.shift(), d: churn };
		}
		if (fault?.name === "reset") {
			stats.resets++;
			req.socket.destroy();
			return;
		}
		const text = await readBody(req).catch(() => null);
		if (text === null) return;
		const slow = isSend && Date.now() < slowUntil[name];
		if (slow) stats["slow answers"]++;
		const reply = (status, body, headers = {}) => {
			// One answer in ten closes its connection (gracefully), so new connections keep coming for resets to hit.
			const close = churn.chance(0.1) ? { connection: "close" } : {};
			const send = () => {
				if (res.destroyed) return;
				res.writeHead(status, { "content-type": typeof body === "string" ? "text/html" : "application/json", ...close, ...headers });
				res.end(typeof body === "string" ? body : JSON.stringify(body));
			};
			setTimeout(send, (slow ? opts["slow-ms"] : 0) + jitter(fault?.d ?? lookupFaults));
		};
		const json = parseJson(text);
		const mailroomId = isSend ? handle.idOf(json) : undefined;
		const note = (what) => {
			if (mailroomId === undefined) return;
			const list = history.get(mailroomId) ?? [];
			list.push(`${elapsed().trim()} ${what}`);
			history.set(mailroomId, list);
		};
		const ctx = { req, text, json, mailroomId, url: new URL(req.url ?? "/", "http://fake"), stats, accepted, reply };
		if (!isSend) {
			stats.lookups++;
			if (lookupFaults.chance(opts["fault-5xx"] / 2)) {
				stats["lookup 5xx"]++;
				return reply(503, "<html>503 Service Unavailable</html>");
			}
			return handle.lookup(ctx);
		}
		stats.send_requests++;
		if (fault?.name === "5xx") {
			stats["5xx"]++;
			const status = fault.d.pick([500, 502, 503]);
			const retry = status === 503 && fault.d.chance(0.33) ? { "retry-after": "1" } : {};
			note(`${status} (injected)`);
			return reply(status, status === 502 ? "<html>502 Bad Gateway</html>" : handle.errorBody(status, "injected server error"), retry);
		}
		if (fault?.name === "429") {
			stats["429"]++;
			const withRetry = fault.d.chance(0.5);
			if (withRetry) stats["429 with Retry-After"]++;
			note("429 (injected)");
			return reply(429, handle.errorBody(429, "injected rate limit"), withRetry ? { "retry-after": "1" } : {});
		}
		// The provider's own processing: answers `{ status, body }` or records the send and answers an id.
		const outcome = handle.send(ctx);
		note(
			`${outcome.status}${outcome.sent ? ` ${outcome.replay ? "replayed" : "accepted"} ${outcome.body.id ?? outcome.body.MessageID}` : ""}${outcome.sent && fault ? `, then ${fault.name}` : ""}`,
		);
		if (!outcome.sent || !fault) return reply(outcome.status, outcome.body);
		if (fault.name === "garbled") {
			stats.garbled++;
			return reply(200, "<html><body>Accepted</body></html>");
		}
		if (fault.name === "reset-after") {
			stats["resets after send"]++;
			req.socket.destroy();
			return;
		}
		// timeout: recorded, never answered; closed after 20 s if the Worker has not given up by then.
		stats.timeouts++;
		hung.add(res);
		res.on("close", () => hung.delete(res));
		setTimeout(() => req.socket.destroy(), 20_000).unref();
	});
	server.keepAliveTimeout = 30_000;
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		name,
		url: `http://127.0.0.1:${server.address().port}`,
		stats,
		accepted,
		history,
		close: async () => {
			for (const res of hung) res.socket?.destroy();
			server.closeAllConnections?.();
			await new Promise((resolve) => server.close(resolve));
		},
	};
}

function startFakeResend(apiKey, seed) {
	const keys = new Map(); // idempotency key → { hash, id }
	const byResendId = new Map(); // resend id → { to, createdAt }
	let seq = 0;
	const errorBody = (status, message) => ({
		statusCode: status,
		name: status === 429 ? "rate_limit_exceeded" : status === 503 ? "service_unavailable" : "internal_server_error",
		message,
	});
	return startFake("resend", seed, {
		errorBody,
		idOf: (json) => (Array.isArray(json?.tags) ? json.tags.find((t) => t.name === "mailroom_id")?.value : undefined),
		send({ req, text, json, stats, accepted }) {
			if (req.headers.authorization !== `Bearer ${apiKey}`) {
				stats["auth errors"]++;
				return { status: 401, body: { statusCode: 401, name: "missing_api_key", message: "bad key" } };
			}
			const mailroomId = Array.isArray(json?.tags) ? json.tags.find((t) => t.name === "mailroom_id")?.value : undefined;
			const key = req.headers["idempotency-key"];
			if (typeof key !== "string" || key !== mailroomId) violate("resend_send_without_its_idempotency_key", { key, mailroomId });
			if (/^inactive/.test(String(json?.to?.[0] ?? ""))) {
				stats["refused (inactive)"]++;
				return { status: 422, body: { statusCode: 422, name: "validation_error", message: "The recipient is inactive." } };
			}
			const hash = createHash("sha256").update(text).digest("hex");
			const known = key ? keys.get(key) : undefined;
			if (known) {
				if (known.hash !== hash) {
					stats["409 idempotency"]++;
					return { status: 409, body: { statusCode: 409, name: "invalid_idempotent_request", message: "Same key, different payload." } };
				}
				stats.replays++;
				return { status: 200, body: { id: known.id }, sent: true, replay: true };
			}
			const id = `re_${++seq}_${randomBytes(4).toString("hex")}`;
			if (key) keys.set(key, { hash, id });
			byResendId.set(id, { to: json?.to ?? [], createdAt: new Date().toISOString() });
			stats.accepted++;
			const list = accepted.get(mailroomId ?? "(none)") ?? [];
			list.push(id);
			accepted.set(mailroomId ?? "(none)", list);
			return { status: 200, body: { id }, sent: true };
		},
		lookup({ req, url, reply, stats }) {
			if (req.headers.authorization !== `Bearer ${apiKey}`) {
				stats["auth errors"]++;
				return reply(401, { statusCode: 401, name: "missing_api_key", message: "bad key" });
			}
			const match = /^\/emails\/([^/]+)$/.exec(url.pathname);
			const found = match ? byResendId.get(decodeURIComponent(match[1] ?? "")) : undefined;
			if (!found) return reply(404, { statusCode: 404, name: "not_found", message: "Email not found" });
			return reply(200, { object: "email", id: match?.[1], to: found.to, created_at: found.createdAt, last_event: "delivered" });
		},
	});
}

function startFakePostmark(token, seed) {
	const messages = new Map(); // MessageID → { mailroomId, to, receivedAt }
	const errorBody = (status, message) => ({ ErrorCode: status === 429 ? 429 : 0, Message: message });
	return startFake("postmark", seed, {
		errorBody: (status, message) => (status >= 500 && status !== 503 ? `Internal Server Error: ${message}` : errorBody(status, message)),
		idOf: (json) => json?.Metadata?.mailroom_id,
		send({ req, json, stats, accepted }) {
			if (req.headers["x-postmark-server-token"] !== token) {
				stats["auth errors"]++;
				return { status: 401, body: { ErrorCode: 10, Message: "Bad or missing Server API token." } };
			}
			const mailroomId = json?.Metadata?.mailroom_id;
			if (/^inactive/.test(String(json?.To ?? ""))) {
				stats["refused (inactive)"]++;
				return { status: 422, body: { ErrorCode: 406, Message: "You tried to send to recipient(s) that have been marked as inactive." } };
			}
			const id = `pm-${randomBytes(8).toString("hex")}`;
			messages.set(id, { mailroomId, to: String(json?.To ?? ""), receivedAt: new Date().toISOString() });
			stats.accepted++;
			const list = accepted.get(mailroomId ?? "(none)") ?? [];
			list.push(id);
			accepted.set(mailroomId ?? "(none)", list);
			return {
				status: 200,
				body: { To: json?.To, SubmittedAt: new Date().toISOString(), MessageID: id, ErrorCode: 0, Message: "OK" },
				sent: true,
			};
		},
		lookup({ req, url, reply, stats, accepted }) {
			if (req.headers["x-postmark-server-token"] !== token) {
				stats["auth errors"]++;
				return reply(401, { ErrorCode: 10, Message: "Bad or missing Server API token." });
			}
			if (url.pathname === "/messages/outbound") {
				const ids = accepted.get(url.searchParams.get("metadata_mailroom_id") ?? "") ?? [];
				const count = Number(url.searchParams.get("count") ?? "100");
				return reply(200, { TotalCount: ids.length, Messages: ids.slice(0, count).map((MessageID) => ({ MessageID, Status: "Sent" })) });
			}
			const details = /^\/messages\/outbound\/([^/]+)\/details$/.exec(url.pathname);
			if (details) {
				const id = decodeURIComponent(details[1] ?? "");
				const m = messages.get(id);
				if (!m) return reply(422, { ErrorCode: 701, Message: "This message was not found." });
				return reply(200, {
					MessageID: id,
					Status: "Sent",
					ReceivedAt: m.receivedAt,
					Metadata: { mailroom_id: m.mailroomId },
					MessageEvents: [{ Type: "Delivered", Recipient: m.to.replace(/^.*<|>$/g, ""), ReceivedAt: m.receivedAt, Details: {} }],
				});
			}
			if (url.pathname === "/bounces") return reply(200, { TotalCount: 0, Bounces: [] });
			return reply(404, { ErrorCode: 404, Message: "Unknown endpoint" });
		},
	});
}

/**
 * Attachment URLs for `path` attachments: `/ok/<n>.pdf` answers a small PDF; `/stall/<n>.pdf` sends its first bytes and
 * then nothing, ever (the Worker's ATTACHMENT_TIMEOUT_MS must end it). Counts requests per kind.
 */
async function startAttachmentServer() {
	const stats = { ok: 0, stalled: 0 };
	const stalled = new Set();
	const server = createServer((req, res) => {
		if ((req.url ?? "").startsWith("/stall/")) {
			stats.stalled++;
			res.writeHead(200, { "content-type": "application/pdf", "content-length": "100000" });
			res.write("%PDF-1.7 ");
			stalled.add(res);
			res.on("close", () => stalled.delete(res));
			return;
		}
		stats.ok++;
		res.writeHead(200, { "content-type": "application/pdf" });
		res.end("%PDF-1.7 chaos attachment %%EOF");
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		stats,
		close: async () => {
			for (const res of stalled) res.socket?.destroy();
			server.closeAllConnections?.();
			await new Promise((resolve) => server.close(resolve));
		},
	};
}

// ---------------------------------------------------------------------------------------------------------------
// Worker log: counts from the structured lines the Worker writes (one JSON object per line).

const workerLog = {
	counts: new Map(),
	sums: new Map(),
	errors: new Map(),
	errorSamples: [],
	/** The first line of each warn/error event. */
	samples: new Map(),
	/** The latest entry of each event (cron jobs by job). */
	last: new Map(),
	/** @type {import("node:fs").WriteStream | null} */
	file: null,
	partial: "",
	feed(chunk) {
		this.file?.write(chunk);
		const text = this.partial + chunk;
		const lines = text.split("\n");
		this.partial = lines.pop() ?? "";
		for (const line of lines) {
			const start = line.indexOf('{"level":');
			if (start < 0) continue;
			const end = line.lastIndexOf("}");
			const entry = parseJson(line.slice(start, end + 1));
			if (!entry?.event) continue;
			const key = entry.event === "cron_job_done" ? `${entry.event}:${entry.job}` : entry.event;
			this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
			this.last.set(key, entry);
			for (const [k, v] of Object.entries(entry))
				if (typeof v === "number") this.sums.set(`${key}.${k}`, (this.sums.get(`${key}.${k}`) ?? 0) + v);
			if (entry.level === "error" || entry.level === "warn") {
				this.errors.set(entry.event, (this.errors.get(entry.event) ?? 0) + 1);
				if (!this.samples.has(entry.event)) {
					this.samples.set(entry.event, line.slice(start, start + 600));
					this.errorSamples.push(line.slice(start, start + 400));
				}
			}
		}
	},
	sum(key) {
		return this.sums.get(key) ?? 0;
	},
};

// ---------------------------------------------------------------------------------------------------------------
// The run

async function main() {
	const stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-chaos-"));
	workerLog.file = createWriteStream(path.join(stateDir, "wrangler.log"));
	await mkdir(path.join(stateDir, "state"), { recursive: true });
	const adminToken = randomBytes(24).toString("hex");
	const resendKey = `re_chaos_${randomBytes(8).toString("hex")}`;
	const postmarkToken = randomBytes(16).toString("hex");
	const webhookSecret = `whsec_${randomBytes(24).toString("base64")}`;
	const postmarkHook = { user: "chaos", password: randomBytes(12).toString("hex") };
	const resend = await startFakeResend(resendKey, opts.seed * 101);
	const postmark = await startFakePostmark(postmarkToken, opts.seed * 211);
	const files = await startAttachmentServer();
	const vars = {
		ADMIN_TOKEN: adminToken,
		PROVIDERS: "resend,postmark",
		RESEND_API_KEY: resendKey,
		RESEND_BASE_URL: resend.url,
		RESEND_WEBHOOK_SECRET: webhookSecret,
		POSTMARK_SERVER_TOKEN: postmarkToken,
		POSTMARK_BASE_URL: postmark.url,
		POSTMARK_WEBHOOK_USER: postmarkHook.user,
		POSTMARK_WEBHOOK_PASSWORD: postmarkHook.password,
		PROVIDER_RATES: JSON.stringify({ resend: { per_second: 10_000, burst: 10_000 }, postmark: { per_second: 10_000, burst: 10_000 } }),
		RETRY_BASE_SECONDS: "1",
		RETRY_MAX_SECONDS: "5",
		MAX_ATTEMPTS: "8",
		CIRCUIT_FAILURE_THRESHOLD: String(opts["circuit-threshold"]),
		// Short leases and timeouts so a slow provider outlasts a batch's lease (the lease must cover 3 + 6 + 5 s).
		SEND_LEASE_SECONDS: "20",
		PROVIDER_TIMEOUT_MS: "6000",
		ATTACHMENT_TIMEOUT_MS: "3000",
		CHAOS_LIMITER_FAULT_RATE: String(opts["limiter-faults"]),
		// Also lets attachment paths point at this process's loopback server.
		ALLOW_HTTP_WEBHOOKS: "true",
	};
	// Both servers run one copy of the project taken now: `wrangler dev` would hot-reload edits made during the run.
	const project = await snapshotProject(path.join(stateDir, "project"), opts.project ? path.resolve(String(opts.project)) : PROJECT_ROOT);
	const start = async () =>
		startDevServer({
			port: await findFreePort(),
			persistTo: path.join(stateDir, "state"),
			vars,
			timeoutMs: 90_000,
			cwd: project,
			onOutput: (chunk) => workerLog.feed(chunk),
		});

	say(
		`chaos: ${opts.emails} emails, ${opts.tenants} tenants, fuzz ${opts.fuzz}, faults 5xx ${opts["fault-5xx"]} 429 ${opts["fault-429"]} reset ${opts["fault-reset"]} garbled ${opts["fault-garbled"]} timeout ${opts["fault-timeout"]} (max ${opts["max-timeouts"]}) reset-after ${opts["fault-reset-after"]}, seed ${opts.seed}`,
	);
	let server = await start();
	let passed = false;
	try {
		const url = () => server.url;

		// Virtual cron time (see the header). Duplicate triggers: now + 3 min. Recovery ("time passes"): one time T ≥
		// now + 3 min and ≥ 2.5 min after every earlier virtual time, repeated at the same T until the recover job
		// re-enqueues fewer than its LIMIT (rows it re-enqueued carry T and are not picked again at T). Reconcile: ≥ 65 s
		// after its previous run and after the latest virtual minute time (rows the recover made uncertain carry it).
		const DUPLICATE_OFFSET_MS = 180_000;
		let lastVirtual = 0;
		let reconcileClock = 0;
		const cron = async (expr, time) => {
			const res = await fetch(`${url()}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(expr)}&time=${time}`).catch((e) => ({
				status: String(e),
			}));
			if (res.status !== 200) say(`cron ${expr} answered ${res.status}`);
		};
		/** Runs the minute cron at `time`; resolves with what its recover job reported (read from the Worker's log). */
		const minuteCron = async (time, label) => {
			lastVirtual = Math.max(lastVirtual, time > Date.now() + 1000 ? time : 0);
			const runs = workerLog.counts.get("cron_job_done:recover") ?? 0;
			await cron("* * * * *", time);
			for (let i = 0; i < 100 && (workerLog.counts.get("cron_job_done:recover") ?? 0) === runs; i++) await sleep(50);
			const r = workerLog.last.get("cron_job_done:recover") ?? {};
			if (label) {
				say(
					`${label}: minute cron at now + ${((time - Date.now()) / 60_000).toFixed(1)} min → re-enqueued ${r.reenqueued}, leases requeued ${r.leases_requeued}, made uncertain ${r.leases_uncertain}`,
				);
			}
			return r;
		};
		const duplicateTrigger = (label) => minuteCron(Date.now() + DUPLICATE_OFFSET_MS, label);
		const recoverAll = async (label) => {
			const time = Math.max(Date.now() + DUPLICATE_OFFSET_MS, lastVirtual + 150_000);
			for (let run = 1; run <= 60; run++) {
				const r = await minuteCron(time, `${label}${run > 1 ? ` (run ${run})` : ""}`);
				if (!(r.reenqueued >= 200)) return;
			}
		};
		const reconcileCron = (time) => {
			reconcileClock = Math.max(reconcileClock + 65_000, lastVirtual + 65_000, Date.now() + 70_000, time ?? 0);
			return cron("*/5 * * * *", reconcileClock);
		};

		// Tenants and their provider lists.
		const lists = [null, ["postmark"], ["resend"], ["postmark", "resend"]];
		const tenants = [];
		for (let i = 0; i < opts.tenants; i++) {
			const providers = lists[i % lists.length];
			const t = await must(url(), "POST", "/admin/tenants", {
				token: adminToken,
				body: {
					name: `chaos ${i}`,
					allowed_from_domains: ["example.com"],
					api_rate: { per_second: 100_000, burst: 100_000 },
					send_rate: { per_second: 100_000, burst: 100_000 },
					daily_quota: 100_000_000,
					...(providers ? { providers } : {}),
				},
			});
			const key = await must(url(), "POST", `/admin/tenants/${t.id}/api-keys`, {
				token: adminToken,
				body: { name: "chaos", permission: "full_access" },
			});
			tenants.push({ index: i, id: t.id, key: key.token, providers: (providers ?? ["resend", "postmark"]).join("→"), accepted: new Set() });
		}

		// Every accepted id: tenant, how it was sent, whether a cancel was answered 200.
		const emails = new Map();
		const d = dice(prng(opts.seed));
		const counters = {
			singles: 0,
			batches: 0,
			"batch items rejected (permissive)": 0,
			replays: 0,
			scheduled: 0,
			"cancel 200": 0,
			"cancel 409": 0,
			"restart sends": 0,
			"restart retries": 0,
		};
		const emailBody = (i) => ({
			from: "Chaos <chaos@example.com>",
			to: d.chance(0.02) ? `inactive${i}@example.org` : `user${i}@example.org`,
			subject: `chaos ${i}`,
			text: `hello ${i}`,
			tags: [{ name: "run", value: "chaos" }],
		});
		const record = (tenant, id, how) => {
			if (emails.has(id)) {
				if (emails.get(id).tenant !== tenant) violate("id_answered_to_two_tenants", { id });
				return;
			}
			tenant.accepted.add(id);
			emails.set(id, { id, tenant, how, canceled: false });
		};
		// Jobs: ~30% of the emails as idempotent singles, the rest in batches of 10 to N/10 (at most 100), shuffled;
		// tenants take turns.
		const plan = [];
		const maxBatch = Math.max(10, Math.min(100, Math.round(opts.emails / 10)));
		// A job is a single with probability p, so that singles carry ~30% of the emails: p / (p + (1 − p)·mean) = 0.3.
		const mean = (10 + maxBatch) / 2;
		const pSingle = (0.3 * mean) / (0.7 + 0.3 * mean);
		for (let i = 0; i < opts.emails; ) {
			if (d.chance(pSingle)) plan.push({ kind: "single", first: i++ });
			else {
				const n = Math.min(opts.emails - i, d.int(10, maxBatch));
				plan.push({ kind: "batch", first: i, n });
				i += n;
			}
		}
		for (let k = plan.length - 1; k > 0; k--) {
			const j = d.int(0, k);
			[plan[k], plan[j]] = [plan[j], plan[k]];
		}
		plan.forEach((job, k) => {
			job.tenant = tenants[k % tenants.length];
		});
		const runJob = async (job) => {
			const { tenant } = job;
			if (job.kind === "single") {
				const body = emailBody(job.first);
				if (d.chance(0.08)) {
					body.scheduled_at = new Date(Date.now() + d.int(20, 60) * 1000).toISOString();
					counters.scheduled++;
				}
				let attachment = null;
				if (d.chance(opts["stalled-attachments"])) {
					attachment = d.chance(0.5) ? "stalled" : "ok";
					body.attachments = [{ path: `${files.url}/${attachment === "stalled" ? "stall" : "ok"}/${job.first}.pdf` }];
					counters[`attachments ${attachment}`] = (counters[`attachments ${attachment}`] ?? 0) + 1;
				}
				const headers = { "idempotency-key": `chaos-${job.first}` };
				const res = await must(url(), "POST", "/emails", { token: tenant.key, body, headers });
				counters.singles++;
				record(tenant, res.id, body.scheduled_at ? "scheduled" : "single");
				if (attachment) emails.get(res.id).attachment = attachment;
				if (d.chance(0.05)) {
					const again = await call(url(), "POST", "/emails", { token: tenant.key, body, headers });
					counters.replays++;
					if (again.status !== 200 || again.json?.id !== res.id || again.headers.get("idempotent-replayed") !== "true") {
						violate("idempotent_replay_not_original", { status: again.status, first: res.id, again: again.text.slice(0, 200) });
					}
				}
				if (d.chance(0.04)) {
					await sleep(d.int(0, 1500));
					const c = await call(url(), "POST", `/emails/${res.id}/cancel`, { token: tenant.key });
					if (c.status === 200) {
						emails.get(res.id).canceled = true;
						counters["cancel 200"]++;
					} else if (c.status === 409) counters["cancel 409"]++;
					else violate("cancel_unexpected_status", { id: res.id, status: c.status, body: c.text.slice(0, 200) });
				}
				return;
			}
			const items = Array.from({ length: job.n }, (_, k) => emailBody(job.first + k));
			const permissive = d.chance(0.3);
			if (permissive)
				items.splice(d.int(0, items.length), 0, { from: "Chaos <chaos@example.com>", to: "not an address", subject: "x", text: "x" });
			const res = await must(url(), "POST", "/emails/batch", {
				token: tenant.key,
				body: items,
				headers: permissive ? { "x-batch-validation": "permissive" } : {},
			});
			counters.batches++;
			counters["batch items rejected (permissive)"] += res.errors?.length ?? 0;
			if (res.data.length !== job.n) violate("batch_accepted_count", { expected: job.n, got: res.data.length });
			for (const { id } of res.data) record(tenant, id, "batch");
		};

		// Phase 1: the first half, with a duplicate-delivery trigger half-way.
		const half = Math.ceil(plan.length / 2);
		const dupAt = new Set();
		for (let k = 0; k < Math.max(0, opts.duplicates - 1); k++)
			dupAt.add(k === 0 ? Math.floor(half / 2) : half + Math.floor(((plan.length - half) * k) / Math.max(1, opts.duplicates - 1)));
		let jobsDone = 0;
		const runJobs = async (jobs) =>
			pool(jobs, opts.concurrency, async (job) => {
				await runJob(job);
				jobsDone++;
				if (dupAt.has(jobsDone)) await duplicateTrigger("duplicate delivery");
			});
		say(`phase 1: accepting ${plan.slice(0, half).reduce((n, j) => n + (j.n ?? 1), 0)} emails in ${half} requests`);
		await runJobs(plan.slice(0, half));
		say(`phase 1 accepted ${emails.size}; provider sends so far: resend ${resend.stats.accepted}, postmark ${postmark.stats.accepted}`);

		// Phase 2: duplicate trigger, then a restart while sends, the consumer and the queue are busy.
		await sleep(1500);
		await duplicateTrigger("duplicate delivery before the restart");
		await sleep(500);
		const restartSends = Array.from({ length: Math.max(4, Math.round(opts.emails / 200)) }, (_, k) => {
			const tenant = tenants[k % tenants.length];
			const body = emailBody(1_000_000 + k);
			const headers = { "idempotency-key": `chaos-restart-${k}` };
			const attempt = async () =>
				call(url(), "POST", "/emails", { token: tenant.key, body, headers, timeoutMs: 10_000 }).catch((e) => ({
					status: 0,
					text: String(e),
				}));
			return { tenant, body, headers, attempt, first: attempt() };
		});
		counters["restart sends"] = restartSends.length;
		await sleep(50);
		say(`restart: stopping wrangler dev (resend ${resend.stats.accepted}, postmark ${postmark.stats.accepted} accepted so far)`);
		const restartAt = Date.now();
		await server.stop();
		server = await start();
		say(`restart: wrangler dev is back on ${server.url}`);
		await recoverAll("recover after the restart");
		// Sends that got no answer are retried with their key until answered (a crashed claim blocks for a minute).
		const restartDone = Promise.all(
			restartSends.map(async (s) => {
				let res = await s.first;
				const deadline = Date.now() + 120_000;
				while (res.status !== 200 && Date.now() < deadline) {
					if (res.status !== 0 && res.status !== 409) break;
					counters["restart retries"]++;
					await sleep(res.status === 409 ? 5000 : 500);
					res = await s.attempt();
				}
				counters["restart: slowest answer (s)"] = Math.max(
					counters["restart: slowest answer (s)"] ?? 0,
					Math.round((Date.now() - restartAt) / 1000),
				);
				if (res.status === 200 && res.json?.id) record(s.tenant, res.json.id, "restart");
				else violate("restart_send_never_answered", { status: res.status, body: String(res.text).slice(0, 200) });
			}),
		);

		// Phase 3: the second half, then the fuzz while everything drains. Postmark turns slow for a while: a consumer batch
		// of its sends outlasts the 20 s lease, and the lease discipline gives rows back instead of calling.
		slowUntil.postmark = Date.now() + opts["slow-window-s"] * 1000;
		say(`phase 3: accepting the second half; postmark answers sends after ${opts["slow-ms"]} ms for ${opts["slow-window-s"]} s`);
		await runJobs(plan.slice(half));
		say(`accepted ${emails.size} emails so far; draining${opts.fuzz > 0 ? ` while fuzzing (${opts.fuzz} requests)` : ""}`);

		let fuzzResult = null;
		const fuzzDone =
			opts.fuzz > 0
				? runFuzz({
						url: server.url,
						adminToken,
						requests: opts.fuzz,
						concurrency: 16,
						seed: opts.seed,
						verbose: opts.verbose,
						log: say,
					}).then(
						(r) => {
							fuzzResult = r;
							say(`fuzz done: ${r.summary.requests} requests, ${r.summary["5xx"]} 5xx, ${r.violations.length} violations`);
						},
						(e) => {
							violate("fuzz_crashed", String(e?.stack ?? e));
						},
					)
				: Promise.resolve();

		const pendingNow = async () => {
			const out = { queued: 0, sending: 0, scheduled: 0, uncertain: 0 };
			for (const t of tenants) {
				const stats = await must(url(), "GET", "/stats", { token: t.key });
				for (const k of Object.keys(out)) out[k] += stats.emails[k] ?? 0;
			}
			return out;
		};
		/** Drives crons until no chaos email is queued, sending, scheduled or uncertain, or `seconds` pass. */
		const drain = async (seconds, label) => {
			const drainStart = Date.now();
			let lastMinute = Date.now();
			let lastReconcile = 0;
			let waitingBefore = Number.POSITIVE_INFINITY;
			let pending = await pendingNow();
			while (Date.now() - drainStart < seconds * 1000) {
				const total = pending.queued + pending.sending + pending.scheduled + pending.uncertain;
				if (total === 0) break;
				if (Date.now() - lastMinute > 15_000) {
					// Queued or scheduled emails that did not move for 15 s have lost their message (or wait out a backoff or
					// their time): let the recover job's time pass. Otherwise the cron runs at the real time.
					const waiting = pending.queued + pending.scheduled;
					if (waiting > 0 && waiting >= waitingBefore) await recoverAll(`${label}: queued/scheduled emails not moving`);
					else await minuteCron(Date.now());
					waitingBefore = waiting;
					lastMinute = Date.now();
				}
				if (pending.uncertain > 0 && Date.now() - lastReconcile > 5_000) {
					await reconcileCron();
					lastReconcile = Date.now();
				}
				await sleep(3000);
				pending = await pendingNow();
				say(`${label}: ${JSON.stringify(pending)}`);
			}
			const done = Object.values(pending).every((n) => n === 0);
			say(`${label} ${done ? "complete" : "deadline reached"} after ${Math.round((Date.now() - drainStart) / 1000)} s`);
			return done;
		};
		await drain(opts["drain-seconds"], "drain");
		// A send whose claim died with the old server is refused (409 concurrent) until the claim is a minute old.
		await restartDone;
		await fuzzDone;
		// The reconciler's other job, bounded: `sent` emails without a final event for 15 minutes are looked up
		// (100 per run) at both fakes, which answer "delivered". A run may also find an uncertain email missing a
		// second time and requeue it, so the pipeline is drained again before anything is verified.
		if (opts.sweeps > 0) {
			for (let run = 0; run < opts.sweeps; run++) await reconcileCron(Date.now() + 16 * 60_000);
			say(`reconciled sent emails: ${opts.sweeps} reconcile runs at now + 16 min`);
		}
		await drain(60, "settle");

		// ---- Verification -------------------------------------------------------------------------------------
		say("verifying every accepted email");
		const statuses = Object.keys((await must(url(), "GET", "/stats", { token: tenants[0].key })).emails);
		const statusOf = new Map();
		for (const t of tenants) {
			let rows = 0;
			for (const status of statuses) {
				for (const e of await listAll(url(), `/emails?status=${status}`, t.key)) {
					rows++;
					statusOf.set(e.id, status);
					if (!t.accepted.has(e.id)) violate("row_without_accepted_id", { tenant: t.index, id: e.id, status });
				}
			}
			if (rows !== t.accepted.size) say(`tenant ${t.index}: ${rows} rows for ${t.accepted.size} accepted ids`);
		}
		const events = new Map();
		await pool([...emails.keys()], 16, async (id) => {
			const res = await must(url(), "GET", `/emails/${id}/events`, { token: emails.get(id).tenant.key }, [200, 404]);
			events.set(id, res?.data ?? null);
		});

		const outcome = new Map();
		const byConfig = new Map();
		const notes = {
			"failed although a provider accepted it": 0,
			"had an uncertain event": 0,
			"failed over": 0,
			"sent after more than one attempt": 0,
			"not found at provider (reconcile)": 0,
			"sent via resend": 0,
			"sent via postmark": 0,
			"found by reconcile": 0,
			"second sent event from reconcile": 0,
		};
		for (const [id, e] of emails) {
			const status = statusOf.get(id);
			const evs = events.get(id);
			if (status === undefined || evs === null) {
				violate("accepted_email_missing", { id, tenant: e.tenant.index, how: e.how });
				continue;
			}
			outcome.set(status, (outcome.get(status) ?? 0) + 1);
			const cfg = byConfig.get(e.tenant.providers) ?? new Map();
			cfg.set(status, (cfg.get(status) ?? 0) + 1);
			byConfig.set(e.tenant.providers, cfg);
			const types = evs.map((x) => x.type);
			const uncertain = types.includes("uncertain");
			if (uncertain) notes["had an uncertain event"]++;
			if (evs.some((x) => x.detail?.failover_to)) notes["failed over"]++;
			if (types.includes("not_found_at_provider")) notes["not found at provider (reconcile)"]++;
			const sentEvents = evs.filter((x) => x.type === "sent");
			const consumerSent = sentEvents.filter((x) => x.detail?.source !== "reconcile");
			if (consumerSent.length > 1) violate("sent_recorded_twice_by_the_consumer", { id, sent: consumerSent });
			else if (sentEvents.length > 1) notes["second sent event from reconcile"]++;
			const sent = consumerSent[0] ?? sentEvents[0];
			if (sent?.provider === "resend") notes["sent via resend"]++;
			if (sent?.provider === "postmark") notes["sent via postmark"]++;
			if (sent?.detail?.source === "reconcile") notes["found by reconcile"]++;
			if (sent && (sent.detail?.attempt ?? 1) > 1) notes["sent after more than one attempt"]++;

			const atResend = resend.accepted.get(id) ?? [];
			const atPostmark = postmark.accepted.get(id) ?? [];
			const sends = atResend.length + atPostmark.length;
			if (atResend.length > 1) violate("resend_accepted_twice", { id, ids: atResend });
			const evidence = () => ({
				id,
				tenant: e.tenant.providers,
				how: e.how,
				events: summarize(evs),
				resend: resend.history.get(id) ?? [],
				postmark: postmark.history.get(id) ?? [],
			});
			if (atResend.length > 0 && atPostmark.length > 0) violate("sent_by_two_providers", evidence());
			else if (sends > 1) violate("duplicate_send", evidence());
			// A stalled download never lets the provider be called: such an email ends failed (or canceled) and unsent. One
			// whose lease expired mid-download is, as far as the Worker can know, possibly sent (the claim cannot tell a
			// stalled download from a call in flight), so it may rest `uncertain` until unresolved_at_provider a day later.
			const leaseExpired = types.includes("lease_expired") || types.includes("uncertain");
			const settled = status === "failed" || status === "canceled" || (status === "uncertain" && leaseExpired);
			if (e.attachment === "stalled" && (sends > 0 || !settled)) violate("stalled_attachment_not_failed", { ...evidence(), status });
			if (e.attachment === "ok" && !e.canceled && sends === 0) violate("attachment_email_not_sent", { ...evidence(), status });
			if (e.canceled && status !== "canceled") violate("cancel_answered_200_but_not_canceled", { id, status });
			if (status === "canceled" && sends > 0) violate("canceled_but_sent", { id, resend: atResend.length, postmark: atPostmark.length });
			if ((status === "sent" || status === "delivered") && sends === 0)
				violate("sent_but_no_provider_accepted_it", { id, status, events: summarize(evs) });
			if (status === "failed" && sends > 0) notes["failed although a provider accepted it"]++;
			const pmid = sent?.detail?.provider_message_id;
			if (pmid !== undefined) {
				const issued = sent.provider === "resend" ? atResend : atPostmark;
				if (!issued.includes(pmid)) violate("sent_event_with_unknown_provider_message_id", { id, provider: sent.provider, pmid, issued });
			}
			if (!TERMINAL.has(status)) {
				const last = evs[evs.length - 1];
				const reason =
					last?.detail?.error ?? last?.detail?.reason ?? (last?.type === "not_found_at_provider" ? "not found at the provider" : undefined);
				// `queued` or `uncertain` is visibly pending when its last event says why; anything else is stuck.
				if (!((status === "queued" || status === "uncertain") && reason)) violate("not_terminal_without_reason", { id, status, last });
			}
		}
		// Worker failures that are bugs whatever the faults: a failed cron job, a consumer that could not record what it
		// sent, an adapter that threw (5xx answers are the fuzz's and are counted there).
		for (const event of [
			"cron_job_failed",
			"send_outcomes_not_recorded",
			"provider_threw",
			"send_preparation_threw",
			"send_message_malformed",
		]) {
			const n = workerLog.errors.get(event) ?? 0;
			if (n > 0) violate(`worker_log_${event}`, { count: n, sample: workerLog.samples.get(event) });
		}
		const orphanResend = [...resend.accepted.keys()].filter((id) => !emails.has(id));
		const orphanPostmark = [...postmark.accepted.keys()].filter((id) => !emails.has(id));
		if (orphanResend.length || orphanPostmark.length)
			violate("provider_sends_for_unknown_ids", { resend: orphanResend.slice(0, 5), postmark: orphanPostmark.slice(0, 5) });

		const providerState = {};
		for (const t of tenants) {
			const stats = await must(url(), "GET", "/stats", { token: t.key });
			for (const [name, p] of Object.entries(stats.providers)) {
				providerState[name] =
					`circuit ${p.circuit}, rate ${p.rate_per_second}/s, error rate 1h ${p.error_rate_1h}, reconcilable ${p.reconcilable}`;
			}
		}

		// ---- Forged and replayed provider webhooks ----------------------------------------------------------------
		const hooks = await webhookChecks({ url: url(), emails, events, statusOf, webhookSecret, postmarkHook, count: opts.webhooks });

		// ---- Report ---------------------------------------------------------------------------------------------------
		const order = [...statuses, ...[...outcome.keys()].filter((s) => !statuses.includes(s))];
		printTable(
			`outcomes of ${emails.size} accepted emails`,
			order.filter((s) => outcome.get(s)).map((s) => [s, `${outcome.get(s)}${TERMINAL.has(s) ? "" : "  (pending)"}`]),
		);
		printTable(
			"outcomes by tenant provider list",
			[...byConfig].map(([cfg, m]) => [cfg, [...m].map(([s, n]) => `${s} ${n}`).join(", ")]),
		);
		printTable("delivery paths", notes);
		printTable("accepting", { ...counters, "accepted emails": emails.size });
		printTable(
			"fake providers (resend / postmark)",
			Object.keys(resend.stats).map((k) => [k, `${resend.stats[k]} / ${postmark.stats[k]}`]),
		);
		const dupIds = (m) => [...m.values()].filter((l) => l.length > 1).length;
		printTable("provider state at the end (GET /stats)", providerState);
		printTable("provider-side duplicates", {
			"resend ids accepted more than once": dupIds(resend.accepted),
			"postmark ids accepted more than once": dupIds(postmark.accepted),
			"ids accepted by both providers": [...resend.accepted.keys()].filter((id) => postmark.accepted.has(id)).length,
		});
		printTable("worker (from its log)", {
			"queue messages acked without a claim (duplicate deliveries)":
				workerLog.sum("send_batch_done.unclaimed") + workerLog.sum("send_batch_nothing_claimed.unclaimed"),
			"consumer batches": workerLog.counts.get("send_batch_done") ?? 0,
			"recover: re-enqueued": workerLog.sum("cron_job_done:recover.reenqueued"),
			"recover: leases requeued / made uncertain": `${workerLog.sum("cron_job_done:recover.leases_requeued")} / ${workerLog.sum("cron_job_done:recover.leases_uncertain")}`,
			"reconcile: runs / looked up / updated / not found / requeued / errors": [
				"cron_job_done:reconcile",
				"looked_up",
				"updated",
				"not_found",
				"requeued",
				"errors",
			]
				.map((k, i) => (i === 0 ? (workerLog.counts.get(k) ?? 0) : workerLog.sum(`cron_job_done:reconcile.${k}`)))
				.join(" / "),
			"consumer: retried / failed / uncertain / deferred": ["retried", "failed", "uncertain", "deferred"]
				.map((k) => workerLog.sum(`send_batch_done.${k}`))
				.join(" / "),
			"consumer: rows given back because the lease no longer covered the call": workerLog.sum("send_batch_done.deferred_for_lease"),
			"consumer: RateLimiter calls that failed (injected) / expired leases found": `${workerLog.errors.get("rate_limiter_unavailable") ?? 0} / ${workerLog.sum("send_leases_expired.count")}`,
			"attachment server: ok / stalled downloads": `${files.stats.ok} / ${files.stats.stalled}`,
			"log lines at warn/error level": [...workerLog.errors].map(([k, n]) => `${k} ${n}`).join(", ") || "none",
		});
		if (workerLog.errorSamples.length)
			printTable(
				"worker warn/error samples",
				workerLog.errorSamples.map((l, i) => [i, l]),
			);
		printTable("forged / replayed provider webhooks", hooks);
		if (fuzzResult) printFuzz(fuzzResult);
		if (fuzzResult) for (const v of fuzzResult.violations) violations.push({ kind: `fuzz:${v.kind}`, detail: v });

		const kinds = new Map();
		for (const v of violations) kinds.set(v.kind, (kinds.get(v.kind) ?? 0) + 1);
		if (violations.length) {
			printTable("violations by kind", [...kinds]);
			printTable(
				"violations (first 25)",
				violations.slice(0, 25).map((v, i) => [`${i + 1} ${v.kind}`, JSON.stringify(v.detail).slice(0, 600)]),
			);
		}
		passed = violations.length === 0;
		const resendSends = resend.stats.accepted;
		const postmarkSends = postmark.stats.accepted;
		console.log(
			`\n${passed ? "PASS" : "FAIL"}: ${emails.size} emails (${[...outcome].map(([s, n]) => `${n} ${s}`).join(", ")}); provider sends resend ${resendSends} + postmark ${postmarkSends}; fuzz ${fuzzResult ? `${fuzzResult.summary.requests} requests, ${fuzzResult.summary["5xx"]} 5xx` : "skipped"}; ${violations.length} violations; ${elapsed().trim()}`,
		);
	} finally {
		await server.stop();
		await resend.close();
		await postmark.close();
		await files.close();
		workerLog.file?.end();
		if (passed && !opts.keep) await rm(stateDir, { recursive: true, force: true });
		else console.log(`state and wrangler log kept in ${stateDir} (wrangler.log)`);
	}
	process.exitCode = passed ? 0 : 1;
}

/** Events as `+12.3s type@provider(error kind)`, times relative to the start of the run. */
function summarize(evs) {
	return evs
		.map(
			(e) =>
				`+${((Date.parse(e.at) - t0) / 1000).toFixed(1)}s ${e.type}${e.provider ? `@${e.provider}` : ""}${e.detail?.error_kind ? `(${e.detail.error_kind})` : ""}${e.detail?.attempt ? `#${e.detail.attempt}` : ""}`,
		)
		.join(", ");
}

/**
 * Forged and replayed provider webhooks against emails that were sent: nothing may change. Resend: forged (wrong
 * secret, `email.bounced`) and stale (right secret, 10 minutes old) → 401; a correctly signed `email.delivered` → 200,
 * the same request again → 200 and the email's events and status unchanged. Postmark: wrong basic auth → 401.
 */
async function webhookChecks({ url, emails, events, statusOf, webhookSecret, postmarkHook, count }) {
	const result = {
		"resend emails tried": 0,
		"postmark emails tried": 0,
		"forged → 401": 0,
		"stale → 401": 0,
		"valid → 200": 0,
		"replay → 200, unchanged": 0,
		"postmark wrong auth → 401": 0,
	};
	const sentBy = (provider) =>
		[...emails.values()].filter((e) => {
			const s = statusOf.get(e.id);
			const sent = events.get(e.id)?.find((x) => x.type === "sent");
			return (s === "sent" || s === "delivered") && sent?.provider === provider && sent.detail?.provider_message_id;
		});
	const state = async (e) => {
		const [email, evs] = await Promise.all([
			must(url, "GET", `/emails/${e.id}`, { token: e.tenant.key }),
			must(url, "GET", `/emails/${e.id}/events`, { token: e.tenant.key }),
		]);
		return JSON.stringify({ last_event: email.last_event, events: evs.data });
	};
	const post = (provider, body, headers) =>
		call(url, "POST", `/provider-webhooks/${provider}`, {
			body: typeof body === "string" ? body : JSON.stringify(body),
			headers: { "content-type": "application/json", ...headers },
		});
	const signed = (secret, body, at = new Date(), id = `msg_${randomBytes(8).toString("hex")}`) => {
		const raw = JSON.stringify(body);
		return {
			raw,
			headers: {
				"svix-id": id,
				"svix-timestamp": String(Math.floor(at.getTime() / 1000)),
				"svix-signature": new Webhook(secret).sign(id, at, raw),
			},
		};
	};
	const wrongSecret = `whsec_${randomBytes(24).toString("base64")}`;
	for (const e of sentBy("resend").slice(0, count)) {
		result["resend emails tried"]++;
		const sent = events.get(e.id).find((x) => x.type === "sent");
		const data = { email_id: sent.detail.provider_message_id, to: [`user@example.org`], tags: { mailroom_id: e.id } };
		const payload = (type) => ({
			type,
			created_at: new Date().toISOString(),
			data: { ...data, ...(type === "email.bounced" ? { bounce: { type: "Permanent", message: "forged" } } : {}) },
		});

		let before = await state(e);
		const forged = signed(wrongSecret, payload("email.bounced"));
		const r1 = await post("resend", forged.raw, forged.headers);
		if (r1.status === 401) result["forged → 401"]++;
		else violate("forged_webhook_not_refused", { id: e.id, status: r1.status, body: r1.text.slice(0, 200) });
		const stale = signed(webhookSecret, payload("email.bounced"), new Date(Date.now() - 10 * 60_000));
		const r2 = await post("resend", stale.raw, stale.headers);
		if (r2.status === 401) result["stale → 401"]++;
		else violate("stale_webhook_not_refused", { id: e.id, status: r2.status, body: r2.text.slice(0, 200) });
		let after = await state(e);
		if (after !== before) violate("forged_or_stale_webhook_changed_email", { id: e.id, before, after });

		const valid = signed(webhookSecret, payload("email.delivered"));
		const r3 = await post("resend", valid.raw, valid.headers);
		if (r3.status === 200) result["valid → 200"]++;
		else violate("valid_webhook_refused", { id: e.id, status: r3.status, body: r3.text.slice(0, 200) });
		before = await state(e);
		const r4 = await post("resend", valid.raw, valid.headers);
		after = await state(e);
		if (r4.status === 200 && after === before) result["replay → 200, unchanged"]++;
		else violate("replayed_webhook_changed_email", { id: e.id, status: r4.status, before, after });
	}
	for (const e of sentBy("postmark").slice(0, count)) {
		result["postmark emails tried"]++;
		const sent = events.get(e.id).find((x) => x.type === "sent");
		const before = await state(e);
		const body = {
			RecordType: "Bounce",
			Type: "HardBounce",
			MessageID: sent.detail.provider_message_id,
			Email: "user@example.org",
			BouncedAt: new Date().toISOString(),
			Metadata: { mailroom_id: e.id },
		};
		const r = await post("postmark", body, { authorization: `Basic ${Buffer.from(`${postmarkHook.user}:wrong`).toString("base64")}` });
		if (r.status === 401) result["postmark wrong auth → 401"]++;
		else violate("forged_postmark_webhook_not_refused", { id: e.id, status: r.status, body: r.text.slice(0, 200) });
		if ((await state(e)) !== before) violate("forged_postmark_webhook_changed_email", { id: e.id });
	}
	if (result["resend emails tried"] === 0) violate("no_resend_email_to_test_webhooks_with", {});
	return result;
}

main().catch((e) => {
	console.error(e);
	process.exitCode = 1;
});
