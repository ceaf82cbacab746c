#!/usr/bin/env node
/**
 * API fuzzing: thousands of seeded, mostly-wrong requests against a running Mailroom, pass/fail.
 *
 *   node bench/fuzz.mjs [--requests 10000] [--concurrency 16] [--seed 1] [--only <index>] [--verbose] [--project <dir>]
 *
 * Standalone it starts its own `wrangler dev` (fresh state, sandbox provider); `bench/chaos.mjs` calls `runFuzz()`
 * against its server instead. Exit code 1 on any violation. `--only i` replays request i alone (printing it and the
 * answer); `--project <dir>` runs another checkout of this project (e.g. one with a candidate fix). The server runs a
 * copy of the project taken at start (`snapshotProject`), so edits made meanwhile are not hot-reloaded into it.
 *
 * Setup: three tenants through the admin API, all on the sandbox provider so fuzzed sends never reach the chaos
 * run's fake providers: A (the main target; full, sending-only and revoked keys), B (a victim: its ids are used with
 * A's key and A's ids with B's key; B never sends during the run) and C (the admin API's default limits, 10/s burst
 * 20, so some requests meet 429 `rate_limit_exceeded`). One valid email per tenant is sent first, plus one email
 * scheduled a day ahead per tenant (B's is the cross-tenant sentinel).
 *
 * Request `i` is generated from its own PRNG seeded by (seed, i), so `--only i` replays exactly one request.
 * Mix: POST /emails and /emails/batch from a valid body plus 0–3 mutations (missing fields, wrong types, huge
 * strings up to ~3 MB, unicode, lone surrogates, CR/LF and U+2028 in subject/display names/header names and values/
 * tags/filenames, 51 recipients, bad attachments, bad scheduled_at, reserved headers, prototype keys, 20k-deep
 * nesting in unknown fields), malformed JSON and wrong content types, bad/missing/revoked/sending-only keys, bad
 * and reused `Idempotency-Key`s, PATCH/cancel/GET/events on own, foreign, random and malformed ids, GET /emails
 * with bad queries, POST /suppressions, /webhooks (endpoints on a local sink or invalid), /api-keys, unknown routes
 * and methods, admin routes with tenant keys, unsigned provider webhooks.
 *
 * Violations (any one fails the run):
 * - a 5xx, a connection error or no answer within 30 s;
 * - an error body that is not `{statusCode: <the HTTP status>, name: string, message: string}`, or a 2xx that is
 *   not JSON (`/docs`, `/metrics` and `/emails/:id/raw` excepted);
 * - a 2xx for a request with a missing/invalid/revoked key on a tenant route, a sending-only key on a full-access
 *   route, a tenant key on an admin route, or one tenant's key on another tenant's email id;
 * - rows written by rejected requests: per tenant, emails (sum of `GET /stats` counts) grew by exactly the number
 *   of distinct ids answered 200 by the send routes; api-key and webhook lists grew by the number of 200s that
 *   created one; suppressions with source `api` are exactly the baseline plus the addresses answered 200;
 * - B's scheduled sentinel changed (status or scheduled_at);
 * - a 2xx for a request that must be refused: an attachment `path` or webhook endpoint the URL policy forbids even
 *   with ALLOW_HTTP_WEBHOOKS (userinfo, link-local, private, benchmarking, multicast, internal names, `https:x`), or
 *   a control character or line separator in a subject, header value, file name or display name.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm, symlink } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findFreePort, PROJECT_ROOT, startDevServer } from "../scripts/lib/dev-server.mjs";

// ---------------------------------------------------------------------------------------------------------------
// Small helpers (also used by bench/chaos.mjs)

/** mulberry32: a tiny seeded PRNG; returns floats in [0, 1). */
export function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Helpers bound to one PRNG. */
export function dice(random) {
	const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
	const pick = (items) => items[Math.floor(random() * items.length)];
	const chance = (p) => random() < p;
	return { random, int, pick, chance };
}

/**
 * `--flag value` and bare `--flag` (true) from argv over `defaults`; numbers are parsed. Unknown flags throw, so a
 * typo does not silently run the defaults.
 */
export function parseArgs(defaults, argv = process.argv.slice(2)) {
	const out = { ...defaults };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i] ?? "";
		if (!arg.startsWith("--")) throw new Error(`Unexpected argument ${arg}`);
		const [rawName, inline] = arg.slice(2).split("=", 2);
		const name = rawName ?? "";
		if (!(name in out)) throw new Error(`Unknown option --${name} (known: ${Object.keys(out).join(", ")})`);
		let value = inline;
		if (value === undefined) {
			const next = argv[i + 1];
			if (typeof out[name] === "boolean" || next === undefined || next.startsWith("--")) value = "true";
			else {
				value = next;
				i++;
			}
		}
		out[name] = value === "true" ? true : value === "false" ? false : Number.isNaN(Number(value)) ? value : Number(value);
	}
	return out;
}

/** Top-level entries a snapshot leaves out: dependencies are linked, local secrets and state are not needed. */
const SNAPSHOT_SKIP = new Set(["node_modules", ".git", ".wrangler", ".dev.vars", "bench", "test"]);

/**
 * Copies the project (`from`, default this checkout) to `into` and links its node_modules, so a long run serves the
 * code as it was when the run started: `wrangler dev` rebuilds on every change to src/, and an edit made during a
 * run (say, code expecting a migration this run's database never got) would otherwise be hot-reloaded into it.
 */
export async function snapshotProject(into, from = PROJECT_ROOT) {
	await cp(from, into, {
		recursive: true,
		filter: (source) => !SNAPSHOT_SKIP.has(path.relative(from, source).split(path.sep)[0] ?? ""),
	});
	await symlink(path.join(from, "node_modules"), path.join(into, "node_modules"), "dir");
	return into;
}

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
export async function pool(items, limit, fn) {
	const results = new Array(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const i = next++;
			results[i] = await fn(items[i], i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	return results;
}

/** A JSON API call; never throws for HTTP statuses. `body` objects are JSON-encoded. */
export async function call(base, method, pathname, { token, body, headers = {}, timeoutMs = 30_000 } = {}) {
	const init = {
		method,
		headers: {
			...(token ? { authorization: `Bearer ${token}` } : {}),
			...(body !== undefined ? { "content-type": "application/json" } : {}),
			...headers,
		},
		body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
		signal: AbortSignal.timeout(timeoutMs),
	};
	const res = await fetch(`${base}${pathname}`, init);
	const text = await res.text();
	let json;
	try {
		json = text ? JSON.parse(text) : undefined;
	} catch {
		json = undefined;
	}
	return { status: res.status, headers: res.headers, json, text };
}

/** Like `call`, but throws unless the status is one of `ok`. */
export async function must(base, method, pathname, options = {}, ok = [200, 201]) {
	const res = await call(base, method, pathname, options);
	if (!ok.includes(res.status)) throw new Error(`${method} ${pathname}: ${res.status} ${res.text.slice(0, 500)}`);
	return res.json;
}

/** Every page of a Resend-style list (`after` = last id of the previous page, or `cursor(item)`). */
export async function listAll(base, pathname, token, cursor = (item) => item.id) {
	const out = [];
	let after;
	for (let page = 0; page < 10_000; page++) {
		const sep = pathname.includes("?") ? "&" : "?";
		const json = await must(base, "GET", `${pathname}${sep}limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`, { token });
		out.push(...json.data);
		if (!json.has_more || json.data.length === 0) return out;
		after = cursor(json.data[json.data.length - 1]);
	}
	throw new Error(`${pathname}: too many pages`);
}

/** Sum of a tenant's emails over all statuses (`GET /stats`). */
export async function emailCount(base, token) {
	const stats = await must(base, "GET", "/stats", { token });
	return Object.values(stats.emails).reduce((a, b) => a + b, 0);
}

/** Prints rows of `[label, value]` (or objects) as an aligned two-column table. */
export function printTable(title, rows) {
	const entries = Array.isArray(rows) ? rows : Object.entries(rows);
	const width = Math.max(8, ...entries.map(([k]) => String(k).length));
	console.log(`\n${title}`);
	console.log(`${"".padEnd(width + 2, "-")}${"".padEnd(14, "-")}`);
	for (const [k, v] of entries) console.log(`  ${String(k).padEnd(width)}  ${typeof v === "object" ? JSON.stringify(v) : v}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Values

const UNICODE = [
	"héllo wörld",
	"日本語のメール",
	"🚀🔥✉️",
	"\u202egnp.exe",
	"\u0000",
	"nul\u0000byte",
	"\uFEFFbom",
	"\ud83d", // lone surrogate (JSON.stringify escapes it; the text is valid JSON, the string invalid UTF-16)
	"\udc00x\ud800",
	"Ω≈ç√∫˜µ≤≥÷",
	"ë̈̈̈̈̈̈",
	"zero\u200bwidth",
	"line\u2028sep\u2029para",
	"nel\u0085x",
	"tab\there",
	"\u000b\u000c",
	"%0d%0aBcc: x@evil.test",
	"=?utf-8?q?=0D=0ABcc:_x@evil.test?=",
	"<script>alert(1)</script>",
	"'; DROP TABLE emails; --",
	"../../../etc/passwd",
	"{{constructor.constructor('return 1')()}}",
	"\\u0000",
	"a".repeat(999),
];
const CRLF = ["\r\n", "\n", "\r", "\r\nBcc: victim@evil.test", "\nX-Injected: 1", "\r\n\r\n<html>body</html>", "a\u2028b", "\u0085"];
/** URLs the URL policy refuses even with ALLOW_HTTP_WEBHOOKS (the chaos run sets it): never accepted as a path or endpoint. */
const HOSTILE_URLS = [
	"https://user:pass@127.0.0.1:8795/a.pdf",
	"https://169.254.169.254/latest/meta-data",
	"http://169.254.169.254/latest/meta-data",
	"https://[::ffff:169.254.169.254]/x",
	"https://10.0.0.8/a.pdf",
	"https://192.168.1.1/",
	"https://198.18.0.1/a",
	"https://224.0.0.1/a",
	"https://0.0.0.0/a",
	"https://foo.local./a",
	"https://metadata.google.internal/",
	"https://intranet/a",
	"https:x",
	"HTTPS:x",
	"https://[fe80::1]/a",
];
/** Control characters and separators that may never reach a MIME header. */
const HEADER_BREAKERS = ["\u0000", "\t", "\u0085", "\u2028", "\u2029", "\u007f", "\r", "\n", "\u001b"];
const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];
const BAD_ADDRESSES = [
	"",
	"plainaddress",
	"@example.org",
	"a@",
	"a@b",
	"a@@example.org",
	"a b@example.org",
	"<>",
	"Name <>",
	"Name <a@example.org",
	'"unterminated <a@example.org>',
	"a@example.org, b@example.org",
	"a@[127.0.0.1]",
	"a@-example.org",
	"ünïcode@exämple.org",
	"a@example.org\r\nBcc: x@evil.test",
	"Evil\r\nBcc: x@evil.test <a@example.org>",
	`${"x".repeat(400)}@example.org`,
	`a@${"d".repeat(300)}.org`,
];

/** encodeURIComponent that tolerates lone surrogates (it throws URIError on them). */
function enc(value) {
	return encodeURIComponent(String(value).replace(/[\ud800-\udfff]/g, "\ufffd"));
}

/** `n` bytes from the PRNG (keeps a request reproducible from its index). */
function bytes(d, n) {
	const out = Buffer.allocUnsafe(n);
	for (let i = 0; i < n; i++) out[i] = Math.floor(d.random() * 256);
	return out;
}

function scheduleValue(d) {
	return d.pick([
		"tomorrow",
		"in 5 minutes",
		"in 2 hours",
		"in -1 days",
		"in 31 days",
		"in 99999999999999999999 days",
		"2020-01-01T00:00:00Z",
		"2099-01-01T00:00:00Z",
		"2026-13-45T99:99:99Z",
		"2026-11-23T10:00:00",
		new Date(Date.now() + 3_600_000).toISOString(),
		"",
		"x".repeat(65),
		12345,
		null,
	]);
}

function stringValue(d) {
	switch (d.int(0, 6)) {
		case 0:
			return "";
		case 1:
			return d.pick(UNICODE);
		case 2:
			return `x${d.pick(CRLF)}y`;
		case 3:
			return "s".repeat(d.int(1, 5000));
		case 4:
			return String(d.int(-1e6, 1e6));
		case 5:
			return d.pick(BAD_ADDRESSES);
		default:
			return bytes(d, d.int(1, 40)).toString("base64");
	}
}

function randomValue(d, depth = 0) {
	switch (d.int(0, depth > 2 ? 6 : 9)) {
		case 0:
			return null;
		case 1:
			return d.chance(0.5);
		case 2:
			return d.pick([0, -1, 1, 1.5, -0.0, 2 ** 53 + 1, 1e308, -1e308, Number.MAX_SAFE_INTEGER]);
		case 3:
		case 4:
		case 5:
		case 6:
			return stringValue(d);
		case 7:
			return Array.from({ length: d.int(0, 5) }, () => randomValue(d, depth + 1));
		default: {
			const o = {};
			for (let i = d.int(0, 4); i > 0; i--) o[d.chance(0.2) ? d.pick(PROTO_KEYS) : stringValue(d).slice(0, 40)] = randomValue(d, depth + 1);
			return o;
		}
	}
}

function huge(d) {
	const size = d.int(100_000, 3_000_000);
	return d.chance(0.5) ? "h".repeat(size) : "🚀é\u0000".repeat(Math.floor(size / 6));
}

/** A string of `n` nested arrays inside an object field: stresses recursive JSON handling (hash, stringify). */
function deepNesting(n) {
	return `${"[".repeat(n)}${"]".repeat(n)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

const EMAIL_FIELDS = [
	"from",
	"to",
	"subject",
	"html",
	"text",
	"cc",
	"bcc",
	"reply_to",
	"headers",
	"tags",
	"attachments",
	"scheduled_at",
	"template",
];
const NO_CONTENT_TYPE = Symbol("no content type");

function validEmail(d, domain) {
	const email = {
		from: d.pick([`fuzz@${domain}`, `Fuzz <fuzz@${domain}>`, `"Fuzz, Inc." <news@mail.${domain}>`]),
		to: d.chance(0.7) ? `delivered+${d.int(0, 999)}@example.org` : Array.from({ length: d.int(1, 3) }, (_, i) => `user${i}@example.org`),
		subject: `fuzz ${d.int(0, 1e6)}`,
	};
	if (d.chance(0.7)) email.text = "hello";
	else email.html = "<p>hello</p>";
	if (d.chance(0.2)) email.tags = [{ name: "kind", value: "fuzz" }];
	if (d.chance(0.1)) email.headers = { "X-Fuzz": "1" };
	return email;
}

function mutateEmail(d, email, { batch }) {
	const m = d.int(0, 31);
	switch (m) {
		case 0:
			delete email[d.pick(["from", "to", "subject"])];
			break;
		case 1:
			delete email.text;
			delete email.html;
			break;
		case 2:
			email[d.pick(EMAIL_FIELDS)] = randomValue(d);
			break;
		case 3:
			email.subject = `subj${d.pick(CRLF)}`;
			break;
		case 4:
			email.from = `Evil${d.pick(CRLF)} <fuzz@example.com>`;
			break;
		case 5:
			email.to = `Victim${d.pick(CRLF)} <victim@example.org>`;
			break;
		case 6:
			email.headers = { [`X-A${d.pick(CRLF)}`]: "v" };
			break;
		case 7:
			email.headers = { "X-Fine": `v${d.pick(CRLF)}` };
			break;
		case 8:
			email.headers = { [d.pick(["From", "to", "BCC", "Subject", "Content-Type", "Message-ID", "MIME-Version"])]: "overridden@evil.test" };
			break;
		case 9:
			email.headers = Object.fromEntries(Array.from({ length: d.int(49, 60) }, (_, i) => [`X-H${i}`, "v"]));
			break;
		case 10:
			email.headers = { [d.pick(["bad name", "bad:name", "", "ü", "a".repeat(101), "X(y)"])]: "v" };
			break;
		case 11:
			email.to = Array.from({ length: d.int(49, 52) }, (_, i) => `r${i}@example.org`);
			break;
		case 12:
			email[d.pick(["to", "cc", "bcc", "reply_to"])] = d.chance(0.5) ? d.pick(BAD_ADDRESSES) : [d.pick(BAD_ADDRESSES)];
			break;
		case 13:
			email.from = d.pick(["fuzz@evil.test", "fuzz@example.com.evil.test", "fuzz@notexample.com", d.pick(BAD_ADDRESSES)]);
			break;
		case 14:
			email[d.pick(["subject", "text", "html"])] = d.pick(UNICODE);
			break;
		case 15:
			email[d.pick(["subject", "text", "html"])] = d.chance(0.1) ? huge(d) : "x".repeat(d.int(990, 1010));
			break;
		case 16:
			email.tags = d.pick([
				[{ name: "bad name", value: "v" }],
				[{ name: "n", value: `v${d.pick(CRLF)}` }],
				[{ name: "a".repeat(257), value: "v" }],
				[{ name: "", value: "" }],
				[{ name: "n" }],
				Array.from({ length: 51 }, (_, i) => ({ name: `t${i}`, value: "v" })),
				{ name: "n", value: "v" },
				["n:v"],
			]);
			break;
		case 17:
			if (batch) email.attachments = [{ filename: "a.txt", content: "aGk=" }];
			else
				email.attachments = d.pick([
					[{ filename: "a.txt", content: "not base64!!" }],
					[{ filename: `a${d.pick(CRLF)}.txt`, content: "aGk=" }],
					[{ filename: "a.txt" }],
					[{ content: "aGk=" }],
					[{ filename: "a.txt", content: "aGk=", path: "https://example.org/a" }],
					[{ filename: "a.txt", path: d.pick(["http://example.org/a", "javascript:alert(1)", "file:///etc/passwd", "ftp://x/y"]) }],
					[{ filename: "a.txt", content: { type: "Buffer", data: [104, 300] } }],
					[{ filename: "a.txt", content: "aGk=", content_type: `text/plain${d.pick(CRLF)}` }],
					[{ filename: "big.bin", content: bytes(d, d.int(1, 3) * 1024 * 1024).toString("base64") }],
					Array.from({ length: 101 }, () => ({ filename: "a.txt", content: "aGk=" })),
					"aGk=",
				]);
			break;
		case 18:
			email.scheduled_at = scheduleValue(d);
			break;
		case 19:
			email.template = d.pick([{ id: "" }, { id: "tmpl" }, { id: "tmpl", variables: randomValue(d) }, "tmpl", { variables: {} }]);
			break;
		case 20:
			for (const k of PROTO_KEYS.slice(0, d.int(1, 6))) email[k] = randomValue(d);
			break;
		case 21:
			email[`unknown_${d.int(0, 9)}`] = randomValue(d);
			break;
		case 22:
			email.to = d.pick([42, true, null, {}, [], [42], [null], { email: "a@example.org" }]);
			break;
		case 23:
			email.from = d.pick([42, ["fuzz@example.com"], null, { email: "fuzz@example.com" }]);
			break;
		case 24:
			email.subject = d.pick([42, null, [], {}, true]);
			break;
		case 25:
			email.text = d.pick([42, null, [], {}, true]);
			break;
		case 26:
			email.reply_to = `Reply${d.pick(CRLF)} <r@example.org>`;
			break;
		case 27:
			email.to = `${d.pick(["bounced", "complained", "rejected", "flaky", "delayed"])}+${d.int(0, 99)}@example.org`;
			break;
		case 28:
			email.to = d.pick([
				"Ünicode Näme <u@example.org>",
				'"Quoted, Name" <q@example.org>',
				"日本 <jp@example.org>",
				"user@xn--exmple-cua.org",
			]);
			break;
		case 29:
			email.subject = "";
			break;
		default:
			// valid: no mutation
			break;
	}
	return email;
}

function jsonBody(d, value) {
	if (d.chance(0.03)) {
		const text = JSON.stringify(value);
		return d.pick([
			text.slice(0, Math.max(1, Math.floor(text.length / 2))),
			`${text},`,
			`${text}}`,
			text.replace(/"/g, "'"),
			`\uFEFF${text}`,
			"",
			" ",
			"{",
			"[",
			"nul",
			'{"a":}',
			"NaN",
		]);
	}
	return JSON.stringify(value);
}

/** A request: which key, what it targets and what a 2xx would have written. */
function generate(index, ctx, seed) {
	const d = dice(prng((seed * 1_000_003 + index * 7919) >>> 0));
	const { tenants } = ctx;
	const A = tenants.A;
	// Whose key: mostly A's full key.
	const keyRoll = d.random();
	let keyKind = "full";
	let tenant = "A";
	if (keyRoll < 0.04) keyKind = "none";
	else if (keyRoll < 0.07) keyKind = "garbage";
	else if (keyRoll < 0.09) keyKind = "revoked";
	else if (keyRoll < 0.13) keyKind = "sending";
	else if (keyRoll < 0.14) keyKind = "admin";
	else if (keyRoll < 0.17) {
		tenant = "C";
		keyKind = "full";
	}
	const token = {
		none: undefined,
		garbage: d.pick(["mr_garbage", "mr_", "x", "Bearer", A.fullKey.slice(0, -1), `${A.fullKey}x`, "ü".repeat(10), "a".repeat(5000)]),
		revoked: A.revokedKey,
		sending: A.sendingKey,
		admin: ctx.adminToken,
		full: tenant === "C" ? tenants.C.fullKey : A.fullKey,
	}[keyKind];
	const domain = tenant === "C" ? "example.org" : "example.com";
	const headers = {};
	if (token !== undefined)
		headers.authorization = d.chance(0.03)
			? d.pick([`Basic ${token}`, `bearer  ${token}`, token, `Bearer ${token} extra`])
			: `Bearer ${token}`;

	// Always two draws, so the rest of the request does not depend on how many ids were accepted so far (only the
	// id itself does: `--only` replays the request with one of the seed ids instead).
	const useAccepted = d.chance(0.7);
	const which = d.random();
	const recent = [...ctx.accepted[tenant]].slice(-200);
	const own = useAccepted && recent.length > 0 ? recent[Math.floor(which * recent.length)] : (tenants[tenant].seedIds[0] ?? "");
	const foreignIds = tenant === "A" ? tenants.B.seedIds : tenants.A.seedIds;
	const idChoice = d.random();
	let id;
	let cross = false;
	if (idChoice < 0.45) id = own;
	else if (idChoice < 0.65) {
		id = d.pick(foreignIds);
		cross = true;
	} else
		id = d.pick([
			"00000000-0000-0000-0000-000000000000",
			"0190a000-0000-7000-8000-000000000000",
			"not-a-uuid",
			"",
			"%2e%2e",
			"..%2fadmin",
			"%00",
			"%ff",
			encodeURIComponent("日本"),
			"x".repeat(3000),
			`${own}%0d%0a`,
			own.toUpperCase(),
			`${own} `,
		]);

	const route = d.random();
	let req;
	if (route < 0.03) {
		// Must be refused whatever else is right: a hostile attachment URL, or a control character in a header field.
		const email = validEmail(d, domain);
		const breaker = d.pick(HEADER_BREAKERS);
		const kind = d.int(0, 4);
		if (kind === 0) email.attachments = [{ filename: "a.pdf", path: d.pick(HOSTILE_URLS) }];
		else if (kind === 1) email.subject = `Hi${breaker}there`;
		else if (kind === 2) email.headers = { "X-Note": `a${breaker}b` };
		else if (kind === 3) email.attachments = [{ filename: `a${breaker}.pdf`, content: "aGk=" }];
		else email.to = [`Ann${breaker} <ann@example.org>`];
		req = {
			method: "POST",
			path: "/emails",
			body: jsonBody(d, email),
			track: "send",
			mustRefuse: kind === 0 ? "url_policy" : "control_character",
		};
	} else if (route < 0.32) {
		const email = mutateEmail(d, validEmail(d, domain), { batch: false });
		if (d.chance(0.5)) for (let i = d.int(0, 2); i > 0; i--) mutateEmail(d, email, { batch: false });
		let body = jsonBody(d, email);
		if (d.chance(0.01))
			body = `{"from":"fuzz@${domain}","to":"a@example.org","subject":"deep","text":"x","unknown":${deepNesting(d.int(2_000, 20_000))}}`;
		req = { method: "POST", path: "/emails", body, track: "send" };
		if (d.chance(0.25)) {
			headers["idempotency-key"] = d.chance(0.8)
				? `fuzz-${tenant}-${d.int(0, 40)}`
				: d.pick(["", "k".repeat(257), "k".repeat(256), "é", " ", "\t", "key with spaces", bytes(d, 8).toString("hex")]);
		}
	} else if (route < 0.45) {
		const n = d.pick([0, 1, 2, 5, 20, 100, 101, 150]);
		const items = Array.from({ length: n }, () =>
			d.chance(0.6) ? validEmail(d, domain) : mutateEmail(d, validEmail(d, domain), { batch: true }),
		);
		let payload = items;
		if (d.chance(0.08)) payload = d.pick([{}, { emails: items }, "[]", null, 42, items[0] ?? {}]);
		req = { method: "POST", path: "/emails/batch", body: jsonBody(d, payload), track: "batch" };
		if (d.chance(0.5)) headers["x-batch-validation"] = d.pick(["strict", "permissive", "permissive", "PERMISSIVE", "lenient", ""]);
		if (d.chance(0.15)) headers["idempotency-key"] = d.chance(0.8) ? `fuzz-batch-${tenant}-${d.int(0, 20)}` : d.pick(["", "k".repeat(300)]);
	} else if (route < 0.52) {
		req = {
			method: "PATCH",
			path: `/emails/${id}`,
			body: jsonBody(d, d.chance(0.8) ? { scheduled_at: scheduleValue(d) } : randomValue(d)),
			cross,
		};
	} else if (route < 0.58)
		req = { method: "POST", path: `/emails/${id}/cancel`, body: d.chance(0.3) ? jsonBody(d, randomValue(d)) : undefined, cross };
	else if (route < 0.64) req = { method: "GET", path: `/emails/${id}`, cross };
	else if (route < 0.67) req = { method: "GET", path: `/emails/${id}/events`, cross };
	else if (route < 0.67 + 0.02) req = { method: "GET", path: `/emails/${id}/raw`, cross, raw: true };
	else if (route < 0.75) {
		const params = [];
		for (let i = d.int(0, 3); i > 0; i--) {
			const k = d.pick(["limit", "after", "before", "status", "tag", "to", "junk"]);
			const v = d.pick([
				"-1",
				"0",
				"1",
				"100",
				"101",
				"abc",
				"1e2",
				"",
				own,
				foreignIds[0] ?? "",
				"queued",
				"bogus",
				"kind:fuzz",
				"a:b:c",
				"%",
				"_",
				"%25",
				"x".repeat(600),
				"ü",
			]);
			params.push(`${k}=${enc(v)}`);
		}
		req = { method: "GET", path: `/emails${params.length ? `?${params.join("&")}` : ""}` };
	} else if (route < 0.8) {
		const body = d.chance(0.7)
			? {
					email: d.chance(0.6) ? `sup${d.int(0, 300)}@example.org` : d.pick(BAD_ADDRESSES),
					reason: d.chance(0.7) ? "fuzz" : randomValue(d),
				}
			: randomValue(d);
		if (body && typeof body === "object" && d.chance(0.1)) body.email = `Sup${d.int(0, 9)}@Example.ORG`;
		req = { method: "POST", path: "/suppressions", body: jsonBody(d, body), track: "suppression" };
	} else if (route < 0.84) {
		const endpoint = d.chance(0.5)
			? `${ctx.sinkUrl}/hook/${d.int(0, 9)}`
			: d.pick([
					"ftp://x/y",
					"javascript:alert(1)",
					"http://10.0.0.1/x",
					"https://192.168.1.1/",
					"https://localhost.internal/",
					"not a url",
					"",
					"https://user:pw@127.0.0.1/",
					`${ctx.sinkUrl}/${"p".repeat(2100)}`,
					"http://[::1]:1/x",
					"https://metadata.google.internal/",
				]);
		const events = d.chance(0.7)
			? ["email.delivered", "email.bounced"]
			: d.pick([[], ["email.nope"], "email.sent", [42], Array(20).fill("email.sent")]);
		const hostile = d.chance(0.2) ? d.pick(HOSTILE_URLS) : null;
		const payload = hostile ? { endpoint: hostile, events: ["email.sent"] } : d.chance(0.9) ? { endpoint, events } : randomValue(d);
		req = {
			method: "POST",
			path: "/webhooks",
			body: jsonBody(d, payload),
			track: "webhook",
			...(hostile ? { mustRefuse: "url_policy" } : {}),
		};
	} else if (route < 0.88) {
		const body = d.chance(0.7)
			? { name: d.chance(0.7) ? `k${d.int(0, 99)}` : stringValue(d), permission: d.pick(["full_access", "sending_access", "admin", "", 1]) }
			: randomValue(d);
		req = { method: "POST", path: "/api-keys", body: jsonBody(d, body), track: "apikey" };
	} else if (route < 0.93) {
		req = d.pick([
			{ method: "DELETE", path: "/emails" },
			{ method: "PUT", path: `/emails/${own}` },
			{ method: "DELETE", path: `/emails/${id}`, cross },
			{ method: "GET", path: "/emails/batch" },
			{ method: "POST", path: "/emails/batch/extra" },
			{ method: "POST", path: `/emails/${own}/send` },
			{ method: "GET", path: "/admin/tenants" },
			{ method: "POST", path: "/admin/tenants", body: JSON.stringify({ name: "x", allowed_from_domains: ["evil.test"] }), admin: true },
			{ method: "PATCH", path: `/admin/tenants/${tenants.B.id}`, body: JSON.stringify({ daily_quota: 0 }), admin: true },
			{ method: "GET", path: "/metrics", admin: true },
			{ method: "GET", path: "/nope" },
			{ method: "GET", path: `/${encodeURIComponent("日本")}/%ff/%00` },
			{ method: "GET", path: `/${"x".repeat(8000)}` },
			{ method: "GET", path: "//emails" },
			{ method: "GET", path: "/emails/../admin/tenants" },
			{ method: "OPTIONS", path: "/emails" },
			{ method: "HEAD", path: "/emails" },
			{ method: "TRACE", path: "/emails" },
			{ method: "POST", path: "/health", body: "{}" },
			{ method: "DELETE", path: "/suppressions/%ff" },
			{ method: "DELETE", path: `/api-keys/${id}` },
			{ method: "DELETE", path: `/webhooks/${id}` },
			{ method: "GET", path: "/dead-letters?limit=abc" },
			{ method: "POST", path: `/dead-letters/${id}/replay`, body: JSON.stringify(randomValue(d)) },
			{ method: "GET", path: `/analytics?from=${enc(stringValue(d))}&group_by=${enc(stringValue(d))}` },
			{ method: "GET", path: "/stats" },
		]);
		req = { ...req };
	} else {
		// Provider webhooks without a valid signature: all must be refused, nothing written.
		const provider = d.pick(["resend", "resend", "postmark", "sendgrid", "nope", "%ff"]);
		const payload = d.chance(0.8)
			? {
					type: d.pick(["email.bounced", "email.delivered", "email.complained"]),
					created_at: new Date().toISOString(),
					data: { email_id: "re_x", to: ["a@example.org"], tags: { mailroom_id: d.pick(foreignIds) } },
				}
			: randomValue(d);
		const h = {};
		if (d.chance(0.7)) {
			h["svix-id"] = `msg_${d.int(0, 1e6)}`;
			h["svix-timestamp"] = String(d.pick([Math.floor(Date.now() / 1000), 0, -1, "abc", 1e20]));
			h["svix-signature"] = d.pick(["v1,AAAA", "v1,", "", "v2,abc", `v1,${bytes(d, 32).toString("base64")}`]);
		}
		if (d.chance(0.3)) h.authorization = `Basic ${Buffer.from(d.pick(["a:b", ":", "user:", "x".repeat(500)])).toString("base64")}`;
		req = { method: "POST", path: `/provider-webhooks/${provider}`, body: jsonBody(d, payload), providerWebhook: true, webhookHeaders: h };
	}

	if (req.providerWebhook) {
		delete headers.authorization;
		Object.assign(headers, req.webhookHeaders);
	}
	if (req.body !== undefined) {
		const ct = d.chance(0.93)
			? "application/json"
			: d.pick([
					"text/plain",
					NO_CONTENT_TYPE,
					"application/x-www-form-urlencoded",
					"multipart/form-data; boundary=x",
					"application/json; charset=utf-16",
					"APPLICATION/JSON",
					"application/merge-patch+json",
					"application/xml",
				]);
		if (ct !== NO_CONTENT_TYPE) headers["content-type"] = ct;
	}
	return { index, ...req, headers, keyKind, tenant };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const TENANT_ROUTES = /^\/(emails|api-keys|suppressions|dead-letters|webhooks|stats|analytics)(\/|$|\?)/;
const SEND_ONLY_ROUTES = new Set(["POST /emails", "POST /emails/batch"]);

/** The route's label for the tables: method and path with ids replaced. */
function labelOf(req) {
	const p = req.path.split("?")[0] ?? "";
	const known = /^\/(emails|api-keys|suppressions|webhooks|dead-letters|provider-webhooks|admin\/tenants)(\/[^/]*)?(\/[a-z]+)?$/.exec(p);
	if (!known) return `${req.method} (other)`;
	const [, base, idPart, tail] = known;
	const fixed = base === "provider-webhooks" ? idPart : idPart && idPart !== "/batch" ? "/:id" : (idPart ?? "");
	return `${req.method} /${base}${fixed}${tail ?? ""}`;
}

async function tenantSnapshot(base, t) {
	const [emails, keys, hooks, sups] = await Promise.all([
		emailCount(base, t.fullKey),
		must(base, "GET", "/api-keys", { token: t.fullKey }),
		must(base, "GET", "/webhooks", { token: t.fullKey }),
		listAll(base, "/suppressions", t.fullKey, (s) => s.email),
	]);
	return {
		emails,
		apiKeys: keys.data.length,
		webhooks: hooks.data.length,
		apiSuppressions: new Set(sups.filter((s) => s.source === "api").map((s) => s.email.toLowerCase())),
	};
}

async function setUp(base, adminToken) {
	const admin = { token: adminToken };
	const makeTenant = async (name, domain, limits) => {
		const t = await must(base, "POST", "/admin/tenants", {
			...admin,
			body: { name, allowed_from_domains: [domain], providers: ["sandbox"], ...limits },
		});
		const key = async (permission) =>
			await must(base, "POST", `/admin/tenants/${t.id}/api-keys`, { ...admin, body: { name: permission, permission } });
		const full = await key("full_access");
		const sending = await key("sending_access");
		const revoked = await key("full_access");
		await must(base, "DELETE", `/admin/api-keys/${revoked.id}`, admin);
		const seedIds = [];
		seedIds.push(
			(
				await must(base, "POST", "/emails", {
					token: full.token,
					body: { from: `seed@${domain}`, to: "delivered@example.org", subject: "seed", text: "hi" },
				})
			).id,
		);
		seedIds.push(
			(
				await must(base, "POST", "/emails", {
					token: full.token,
					body: {
						from: `seed@${domain}`,
						to: "later@example.org",
						subject: "sentinel",
						text: "hi",
						scheduled_at: new Date(Date.now() + 86_400_000).toISOString(),
					},
				})
			).id,
		);
		return { id: t.id, domain, fullKey: full.token, sendingKey: sending.token, revokedKey: revoked.token, seedIds };
	};
	const generous = {
		api_rate: { per_second: 100_000, burst: 100_000 },
		send_rate: { per_second: 100_000, burst: 100_000 },
		daily_quota: 100_000_000,
	};
	const [A, B, C] = await Promise.all([
		makeTenant("fuzz A", "example.com", generous),
		makeTenant("fuzz B", "example.net", generous),
		makeTenant("fuzz C (default limits)", "example.org", { daily_quota: 100_000_000 }),
	]);
	return { A, B, C };
}

/** A local endpoint for tenant webhooks created by the fuzzer: answers 200 to everything. */
async function startSink() {
	let hits = 0;
	const server = createServer((req, res) => {
		req.resume();
		req.on("end", () => {
			hits++;
			res.writeHead(200, { "content-type": "application/json" }).end("{}");
		});
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { url: `http://127.0.0.1:${server.address().port}`, hits: () => hits, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Runs the fuzz against `url` (a running Mailroom whose ADMIN_TOKEN is `adminToken`).
 * Returns `{ summary, byStatus, byRoute, violations }`; `violations` empty means pass.
 */
export async function runFuzz({
	url,
	adminToken,
	requests = 10_000,
	concurrency = 16,
	seed = 1,
	only,
	verbose = false,
	log = console.log,
}) {
	const started = Date.now();
	const sink = await startSink();
	const violations = [];
	const violate = (kind, req, detail) => {
		violations.push({ kind, index: req?.index, request: req ? `${req.method} ${req.path.slice(0, 120)}` : undefined, detail });
		if (verbose) log(`VIOLATION ${kind} #${req?.index} ${req?.method} ${req?.path.slice(0, 100)}: ${JSON.stringify(detail).slice(0, 400)}`);
	};
	try {
		const tenants = await setUp(url, adminToken);
		const before = {
			A: await tenantSnapshot(url, tenants.A),
			B: await tenantSnapshot(url, tenants.B),
			C: await tenantSnapshot(url, tenants.C),
		};
		const sentinelBefore = await must(url, "GET", `/emails/${tenants.B.seedIds[1]}`, { token: tenants.B.fullKey });
		const ctx = { tenants, adminToken, sinkUrl: sink.url, accepted: { A: new Set(), B: new Set(), C: new Set() } };
		const created = {
			A: { apiKeys: 0, webhooks: 0, suppressions: new Set() },
			B: { apiKeys: 0, webhooks: 0, suppressions: new Set() },
			C: { apiKeys: 0, webhooks: 0, suppressions: new Set() },
		};
		const byStatus = new Map();
		const byRoute = new Map();
		const errorNames = new Map();
		const idempotentFirst = new Map();

		const indexes = only !== undefined ? [Number(only)] : Array.from({ length: requests }, (_, i) => i);
		let done = 0;
		await pool(indexes, concurrency, async (index) => {
			const req = generate(index, ctx, seed);
			if (only !== undefined) log(JSON.stringify({ ...req, body: req.body?.slice?.(0, 2000) }, null, 2));
			const label = labelOf(req);
			let res;
			try {
				const r = await fetch(`${url}${req.path}`, {
					method: req.method,
					headers: req.headers,
					body: req.body,
					signal: AbortSignal.timeout(30_000),
				});
				const text = req.method === "HEAD" ? "" : await r.text();
				res = { status: r.status, text, headers: r.headers };
			} catch (e) {
				// The client refusing to send (invalid header bytes, a method fetch does not allow) is not the server's fault;
				// undici reports every network failure as TypeError "fetch failed".
				if (e instanceof TypeError && e.message !== "fetch failed") {
					byStatus.set("client-refused", (byStatus.get("client-refused") ?? 0) + 1);
					return;
				}
				violate("no_answer", req, `${e.name}: ${e.message} ${e.cause?.message ?? ""}`);
				return;
			}
			done++;
			if (verbose && done % 1000 === 0) log(`  fuzz: ${done}/${indexes.length} (${Math.round((Date.now() - started) / 1000)} s)`);
			byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
			const route = byRoute.get(label) ?? { n: 0, "2xx": 0, "4xx": 0, "5xx": 0 };
			route.n++;
			route[res.status >= 500 ? "5xx" : res.status >= 400 ? "4xx" : "2xx"]++;
			byRoute.set(label, route);
			if (only !== undefined) log(`→ ${res.status} ${res.text.slice(0, 1000)}`);

			let json;
			try {
				json = res.text ? JSON.parse(res.text) : undefined;
			} catch {
				json = undefined;
			}
			if (res.status >= 500) {
				violate("5xx", req, { status: res.status, body: res.text.slice(0, 300) });
				return;
			}
			if (req.mustRefuse && res.status < 300)
				violate(`accepted_${req.mustRefuse}`, req, { status: res.status, body: res.text.slice(0, 200) });
			if (res.status >= 400) {
				const shaped =
					json &&
					typeof json === "object" &&
					json.statusCode === res.status &&
					typeof json.name === "string" &&
					json.name !== "" &&
					typeof json.message === "string";
				if (req.method !== "HEAD" && !shaped) violate("error_shape", req, { status: res.status, body: res.text.slice(0, 300) });
				if (json?.name) errorNames.set(`${res.status} ${json.name}`, (errorNames.get(`${res.status} ${json.name}`) ?? 0) + 1);
				return;
			}
			// 2xx (or 3xx). fetch resolves dot segments (`/emails/../admin` is `/admin`): judge the path it sent.
			const pathOnly = new URL(req.path, "http://x").pathname;
			// Not JSON by design: the API reference (HTML) and the operator's Prometheus text.
			const isDocs = pathOnly === "/docs" || pathOnly === "/metrics";
			if (res.status >= 300) {
				violate("unexpected_status", req, { status: res.status, body: res.text.slice(0, 200) });
				return;
			}
			if (!isDocs && !req.raw && req.method !== "HEAD" && json === undefined)
				violate("2xx_not_json", req, { status: res.status, body: res.text.slice(0, 200) });
			const tenantRoute = TENANT_ROUTES.test(pathOnly);
			if (tenantRoute && ["none", "garbage", "revoked", "admin"].includes(req.keyKind) && req.method !== "OPTIONS") {
				violate("auth_bypass", req, { keyKind: req.keyKind, status: res.status });
				return;
			}
			if (tenantRoute && req.keyKind === "sending" && !SEND_ONLY_ROUTES.has(`${req.method} ${pathOnly}`) && req.method !== "OPTIONS") {
				violate("sending_key_on_full_access_route", req, { status: res.status });
				return;
			}
			if (req.cross) {
				violate("cross_tenant_access", req, { status: res.status, body: res.text.slice(0, 200) });
				return;
			}
			if ((pathOnly.startsWith("/admin") || pathOnly === "/metrics") && req.keyKind !== "admin") {
				violate("admin_route_with_tenant_key", req, { keyKind: req.keyKind, status: res.status });
				return;
			}
			if (req.providerWebhook) {
				violate("unsigned_provider_webhook_accepted", req, { status: res.status, body: res.text.slice(0, 200) });
				return;
			}
			const owner = req.tenant;
			if (req.track === "send" && json?.id) ctx.accepted[owner].add(json.id);
			if (req.track === "batch" && Array.isArray(json?.data)) for (const item of json.data) ctx.accepted[owner].add(item.id);
			if ((req.track === "send" || req.track === "batch") && req.headers["idempotency-key"] !== undefined) {
				const key = `${req.track} ${req.headers["idempotency-key"]} ${req.body}`;
				const ids = JSON.stringify(json?.id ?? json?.data);
				const first = idempotentFirst.get(key);
				if (first === undefined) idempotentFirst.set(key, ids);
				else if (first !== ids) violate("idempotent_replay_differs", req, { first, now: ids });
			}
			if (req.track === "suppression" && json?.email) created[owner].suppressions.add(String(json.email).toLowerCase());
			if (req.track === "webhook" && json?.id) created[owner].webhooks++;
			if (req.track === "apikey" && json?.id) created[owner].apiKeys++;
		});

		// Rows written: each tenant's tables grew only by what was answered 200.
		const after = {
			A: await tenantSnapshot(url, tenants.A),
			B: await tenantSnapshot(url, tenants.B),
			C: await tenantSnapshot(url, tenants.C),
		};
		const rows = {};
		for (const t of ["A", "B", "C"]) {
			const b = before[t];
			const a = after[t];
			const expectedSups = new Set([...b.apiSuppressions, ...created[t].suppressions]);
			const extraSups = [...a.apiSuppressions].filter((s) => !expectedSups.has(s));
			const missingSups = [...expectedSups].filter((s) => !a.apiSuppressions.has(s));
			rows[t] = {
				emails: `${a.emails - b.emails} new rows / ${ctx.accepted[t].size} ids answered 200`,
				api_keys: `${a.apiKeys - b.apiKeys} / ${created[t].apiKeys}`,
				webhooks: `${a.webhooks - b.webhooks} / ${created[t].webhooks}`,
				suppressions: `${a.apiSuppressions.size - b.apiSuppressions.size} / ${created[t].suppressions.size}`,
			};
			if (a.emails - b.emails !== ctx.accepted[t].size)
				violate("email_rows_mismatch", null, { tenant: t, rows: a.emails - b.emails, accepted: ctx.accepted[t].size });
			if (a.apiKeys - b.apiKeys !== created[t].apiKeys)
				violate("api_key_rows_mismatch", null, { tenant: t, rows: a.apiKeys - b.apiKeys, created: created[t].apiKeys });
			if (a.webhooks - b.webhooks !== created[t].webhooks)
				violate("webhook_rows_mismatch", null, { tenant: t, rows: a.webhooks - b.webhooks, created: created[t].webhooks });
			if (extraSups.length || missingSups.length)
				violate("suppression_rows_mismatch", null, { tenant: t, extra: extraSups.slice(0, 5), missing: missingSups.slice(0, 5) });
		}
		const sentinelAfter = await must(url, "GET", `/emails/${tenants.B.seedIds[1]}`, { token: tenants.B.fullKey });
		if (sentinelAfter.last_event !== sentinelBefore.last_event || sentinelAfter.scheduled_at !== sentinelBefore.scheduled_at) {
			violate("cross_tenant_sentinel_changed", null, { before: sentinelBefore, after: sentinelAfter });
		}

		const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
		const summary = {
			requests: total,
			seconds: Math.round((Date.now() - started) / 1000),
			"2xx": [...byStatus].filter(([s]) => s >= 200 && s < 300).reduce((a, [, n]) => a + n, 0),
			"4xx": [...byStatus].filter(([s]) => s >= 400 && s < 500).reduce((a, [, n]) => a + n, 0),
			"5xx": [...byStatus].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0),
			"client-refused": byStatus.get("client-refused") ?? 0,
			"emails accepted (A/B/C)": `${ctx.accepted.A.size}/${ctx.accepted.B.size}/${ctx.accepted.C.size}`,
			"tenant webhook sink hits (while fuzzing)": sink.hits(),
			violations: violations.length,
		};
		return { summary, byStatus, byRoute, errorNames, rows, violations };
	} finally {
		await sink.close();
	}
}

/** Prints what `runFuzz` returned. */
export function printFuzz(result) {
	printTable("fuzz", result.summary);
	printTable(
		"fuzz: answers by route (n / 2xx / 4xx / 5xx)",
		[...result.byRoute].sort((a, b) => b[1].n - a[1].n).map(([label, r]) => [label, `${r.n} / ${r["2xx"]} / ${r["4xx"]} / ${r["5xx"]}`]),
	);
	printTable(
		"fuzz: error names",
		[...result.errorNames].sort((a, b) => b[1] - a[1]),
	);
	printTable(
		"fuzz: rows written vs answered 200 (per tenant)",
		Object.entries(result.rows).map(([t, r]) => [
			t,
			Object.entries(r)
				.map(([k, v]) => `${k} ${v}`)
				.join("; "),
		]),
	);
	if (result.violations.length) {
		printTable(
			`fuzz: violations (${result.violations.length}, first 20)`,
			result.violations
				.slice(0, 20)
				.map((v) => [
					`${v.kind}${v.index !== undefined ? ` #${v.index}` : ""}`,
					`${v.request ?? ""} ${JSON.stringify(v.detail).slice(0, 300)}`,
				]),
		);
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Standalone

async function main() {
	const opts = parseArgs({ requests: 10_000, concurrency: 16, seed: 1, only: "", verbose: false, project: "" });
	const stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-fuzz-"));
	const adminToken = randomBytes(24).toString("hex");
	let server;
	let code = 1;
	try {
		server = await startDevServer({
			port: await findFreePort(),
			persistTo: path.join(stateDir, "state"),
			vars: { ADMIN_TOKEN: adminToken, PROVIDERS: "sandbox", ALLOW_HTTP_WEBHOOKS: "true" },
			cwd: await snapshotProject(path.join(stateDir, "project"), opts.project ? path.resolve(String(opts.project)) : PROJECT_ROOT),
		});
		console.log(
			`fuzz: ${opts.only !== "" ? `request #${opts.only}` : `${opts.requests} requests`}, seed ${opts.seed}, concurrency ${opts.concurrency}, ${server.url}`,
		);
		const result = await runFuzz({
			url: server.url,
			adminToken,
			requests: opts.requests,
			concurrency: opts.concurrency,
			seed: opts.seed,
			only: opts.only === "" ? undefined : opts.only,
			verbose: opts.verbose,
		});
		printFuzz(result);
		const fatal = server
			.output()
			.split("\n")
			.filter((l) => /unhandled_error|Uncaught|internal_server_error/.test(l));
		if (fatal.length)
			printTable(
				"wrangler log: unhandled errors (first 10)",
				fatal.slice(0, 10).map((l, i) => [i, l.slice(0, 400)]),
			);
		code = result.violations.length === 0 ? 0 : 1;
		console.log(
			`\n${code === 0 ? "PASS" : "FAIL"}: fuzz ${result.summary.requests} requests, ${result.summary["5xx"]} 5xx, ${result.violations.length} violations`,
		);
	} finally {
		await server?.stop();
		await rm(stateDir, { recursive: true, force: true });
	}
	process.exitCode = code;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	main().catch((e) => {
		console.error(e);
		process.exitCode = 1;
	});
}
