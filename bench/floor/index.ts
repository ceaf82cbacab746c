/**
 * The benchmark's floor (`npm run bench`; the README, "Measured"): Mailroom's accept work for `POST /emails` written as raw
 * binding calls, with no hono, zod or drizzle, so that Mailroom / floor says what the framework and our structure cost.
 *
 * The same remote work as Mailroom's single send, on the same schema (migrations/ via bench/floor/wrangler.jsonc):
 * 1. D1: the API key by its SHA-256, joined to its tenant (key not revoked, tenant not deleted);
 * 2. the RateLimiter Durable Object (Mailroom's own class): one `admit` for the API bucket and the daily quota;
 * 3. D1, one batch (a transaction): the email row, guarded by the tenant's suppression list so that a suppressed
 *    recipient writes nothing (its `queued` event is the row itself; with an Idempotency-Key, the completed key first);
 * 4. one queue message `{ v: 1, id, tenantId }`.
 * Four sequential remote calls, none cached. Validation covers the plain fields only (from, to, subject, text, html);
 * anything else is refused as unsupported here, not silently dropped.
 *
 * The row written lives in ONE place, `emailRow`: when the schema changes, change it.
 * `GET /__floor/schema` compares their columns with the tables and the benchmark refuses to run on a mismatch; it also
 * refuses when the floor writes a different number of D1 rows per send than Mailroom does.
 *
 * Bench-only routes, behind ADMIN_TOKEN: `POST /__floor/tenant` (a tenant and its key), `GET /__floor/metrics`
 * (the remote calls and rows this isolate made; plain integer counters, always on). The counters include the rows the
 * RateLimiter writes to its own SQLite storage, which Mailroom's counters cannot see: wrangler dev runs the Durable
 * Object in the Worker's isolate, so it counts into the same object.
 */
import { RateLimiter as MailroomRateLimiter } from "../../src/durable-objects/rate-limiter";

interface FloorEnv {
	DB: D1Database;
	RATE_LIMITER: DurableObjectNamespace<MailroomRateLimiter>;
	SEND_QUEUE: Queue<{ v: 1; id: string; tenantId: string }>;
	ADMIN_TOKEN: string;
}

type Tenant = { id: string; allowed_from_domains: string; api_rate: string; daily_quota: number };

type SendInput = { from: string; to: string[]; subject: string; html: string | null; text: string | null };

const metrics = { requests: 0, d1_round_trips: 0, rows_read: 0, rows_written: 0, do_rpcs: 0, do_rows_written: 0, queue_sends: 0 };

/**
 * Mailroom's RateLimiter, unchanged, with its SQLite writes counted: `exec` runs a statement without result rows to
 * completion at once, so the cursor's `rowsWritten` is final when `exec` returns. The runtime only accepts the real
 * state in the constructor, so the counting view replaces `this.ctx` once it has run (its table setup is not counted).
 */
export class RateLimiter extends MailroomRateLimiter {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = ctx.storage.sql;
		const counted = new Proxy(sql, {
			get: (target, p) =>
				p === "exec"
					? (query: string, ...bindings: unknown[]) => {
							const cursor = target.exec(query, ...bindings);
							metrics.do_rows_written += cursor.rowsWritten;
							return cursor;
						}
					: bound(target, Reflect.get(target, p, target)),
		});
		const storage = new Proxy(ctx.storage, { get: (target, p) => (p === "sql" ? counted : bound(target, Reflect.get(target, p, target))) });
		const view = new Proxy(ctx, { get: (target, p) => (p === "storage" ? storage : bound(target, Reflect.get(target, p, target))) });
		Object.defineProperty(this, "ctx", { value: view });
	}
}

/** Methods of runtime objects must be called on the object itself, not on a proxy of it. */
function bound(target: object, value: unknown): unknown {
	return typeof value === "function" ? value.bind(target) : value;
}

/** Every column of `emails` for a freshly accepted email: the one place to change when the schema does. */
export function emailRow(id: string, tenantId: string, input: SendInput, recipients: string[], now: number): Record<string, unknown> {
	return {
		id,
		tenant_id: tenantId,
		status: "queued",
		last_event: "queued",
		priority: "normal",
		from_address: input.from,
		to_addresses: JSON.stringify(input.to),
		cc_addresses: "[]",
		bcc_addresses: "[]",
		reply_to: "[]",
		recipients: JSON.stringify(recipients),
		subject: input.subject,
		html: input.html,
		text_body: input.text,
		headers: null,
		tags: "[]",
		attachments: null,
		template_id: null,
		template_version_id: null,
		template_variables: null,
		tracking: null,
		scheduled_at: null,
		provider: null,
		provider_message_id: null,
		sent_at: null,
		next_attempt_at: now,
		pinned_provider: null,
		reconciled_at: null,
		attempts: 0,
		attempt_id: null,
		lease_until: null,
		uncertain_since: null,
		last_error: null,
		status_event: null,
		ended_at: null,
		created_at: now,
		updated_at: now,
	};
}

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export default {
	async fetch(request: Request, env: FloorEnv): Promise<Response> {
		const { pathname } = new URL(request.url);
		if (pathname === "/health") return json(200, { status: "ok" });
		if (request.method === "POST" && pathname === "/emails") return acceptEmail(request, env);
		if (pathname.startsWith("/__floor/")) {
			if (request.headers.get("authorization") !== `Bearer ${env.ADMIN_TOKEN}`)
				return error(401, "missing_api_key", "Admin token required");
			if (request.method === "POST" && pathname === "/__floor/tenant") return createTenant(request, env);
			if (pathname === "/__floor/metrics") return json(200, metrics);
			if (pathname === "/__floor/schema") return schemaCheck(env);
		}
		return error(404, "not_found", "Not found");
	},
} satisfies ExportedHandler<FloorEnv>;

async function acceptEmail(request: Request, env: FloorEnv): Promise<Response> {
	metrics.requests += 1;
	const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "")?.[1];
	if (!token) return error(401, "missing_api_key", "Missing API key in the authorization header");

	// 1. The key and its tenant.
	const found = await d1(
		env.DB.prepare(
			`SELECT t.id, t.allowed_from_domains, t.api_rate, t.daily_quota FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
			 WHERE k.key_hash = ? AND k.revoked_at IS NULL AND t.deleted_at IS NULL LIMIT 1`,
		)
			.bind(await sha256Hex(token))
			.all<Tenant>(),
	);
	const tenant = found.results[0];
	if (!tenant) return error(403, "invalid_api_key", "API key is invalid");

	// 2. The limiter: a token of the API bucket and one email of today's quota, as Mailroom's middleware asks.
	metrics.do_rpcs += 1;
	const admitted = await env.RATE_LIMITER.getByName(`tenant:${tenant.id}`).admit({
		api: { key: `tenant:${tenant.id}:api`, rate: JSON.parse(tenant.api_rate) },
		daily: { key: `tenant:${tenant.id}:daily`, limit: tenant.daily_quota, emails: 1 },
	});
	if (!admitted.api.allowed) return error(429, "rate_limit_exceeded", "Too many requests");
	if (admitted.daily && !admitted.daily.allowed) return error(429, "daily_quota_exceeded", "Daily quota reached");

	const input = parseSend(await request.json().catch(() => null), JSON.parse(tenant.allowed_from_domains));
	if (typeof input === "string") return error(422, "validation_error", input);

	// 3. One transaction: the email unless a recipient is suppressed (its `queued` event is the row itself).
	const now = Date.now();
	const id = uuidv7(now);
	const recipients = [...new Set(input.to.map(bareAddress))];
	const row = emailRow(id, tenant.id, input, recipients, now);
	const statements = [
		env.DB.prepare(
			`INSERT INTO emails (${Object.keys(row).join(", ")}) SELECT ${placeholders(row)}
			 WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE tenant_id = ? AND email IN (${recipients.map(() => "?").join(", ")}))`,
		).bind(...Object.values(row), tenant.id, ...recipients),
	];
	const responseBody = JSON.stringify({ id });
	const key = request.headers.get("idempotency-key");
	if (key !== null) {
		// The key completed with this response in the same transaction; an existing key aborts it (a replay below).
		statements.unshift(
			env.DB.prepare(
				`INSERT INTO idempotency_keys (tenant_id, endpoint, key, request_hash, state, owner, response_status, response_body, created_at, expires_at)
				 VALUES (?, 'POST /emails', ?, ?, 'completed', ?, 200, ?, ?, ?) ON CONFLICT DO NOTHING`,
			).bind(tenant.id, key, await sha256Hex(JSON.stringify(input)), crypto.randomUUID(), responseBody, now, now + IDEMPOTENCY_TTL_MS),
			env.DB.prepare("SELECT CASE WHEN changes() = 1 THEN 1 ELSE json('idempotency key taken') END"),
		);
	}
	let results: D1Result[];
	try {
		results = await d1Batch(env.DB, statements);
	} catch (err) {
		if (key !== null && /malformed JSON/i.test(String(err))) return replay(env, tenant.id, key);
		throw err;
	}
	const written = results[key === null ? 0 : 2];
	if (written?.meta.changes !== 1) return error(422, "validation_error", "A recipient is on the suppression list");

	// 4. The queue message the consumer claims the row by.
	metrics.queue_sends += 1;
	await env.SEND_QUEUE.send({ v: 1, id, tenantId: tenant.id }, { delaySeconds: 0 });
	return new Response(responseBody, { status: 200, headers: { "content-type": "application/json" } });
}

async function replay(env: FloorEnv, tenantId: string, key: string): Promise<Response> {
	const stored = await d1(
		env.DB.prepare(
			"SELECT response_status, response_body FROM idempotency_keys WHERE tenant_id = ? AND endpoint = 'POST /emails' AND key = ?",
		)
			.bind(tenantId, key)
			.all<{ response_status: number; response_body: string }>(),
	);
	const row = stored.results[0];
	if (!row) return error(409, "concurrent_idempotent_requests", "Same idempotency key used while in progress");
	return new Response(row.response_body, {
		status: row.response_status,
		headers: { "content-type": "application/json", "idempotent-replayed": "true" },
	});
}

/** The plain fields of a send request, or what is wrong with it. */
function parseSend(body: unknown, allowedDomains: string[]): SendInput | string {
	if (typeof body !== "object" || body === null || Array.isArray(body)) return "The body must be a JSON object";
	const b = body as Record<string, unknown>;
	const unsupported = Object.keys(b).filter((k) => !["from", "to", "subject", "html", "text"].includes(k));
	if (unsupported.length > 0) return `The floor handles plain sends only, not ${unsupported.join(", ")}`;
	const from = typeof b.from === "string" ? b.from.trim() : "";
	const address = bareAddress(from);
	if (!/^[^@\s]+@[^@\s]+$/.test(address)) return "Invalid from address";
	if (!allowedDomains.includes(address.split("@")[1] ?? "")) return "The from domain is not allowed for this tenant";
	const to = typeof b.to === "string" ? [b.to] : b.to;
	if (
		!Array.isArray(to) ||
		to.length === 0 ||
		to.length > 50 ||
		!to.every((t) => typeof t === "string" && /^[^@\s]+@[^@\s]+$/.test(bareAddress(t)))
	) {
		return "to must be 1 to 50 email addresses";
	}
	if (typeof b.subject !== "string" || b.subject.length === 0 || b.subject.length > 998) return "subject must be 1 to 998 characters";
	const html = typeof b.html === "string" ? b.html : null;
	const text = typeof b.text === "string" ? b.text : null;
	if (html === null && text === null) return "Either html or text is required";
	return { from, to, subject: b.subject, html, text };
}

/** `Name <a@b>` or `a@b` → lower-cased `a@b`. */
function bareAddress(mailbox: string): string {
	return (/<([^>]*)>\s*$/.exec(mailbox)?.[1] ?? mailbox).trim().toLowerCase();
}

async function createTenant(request: Request, env: FloorEnv): Promise<Response> {
	const body = (await request.json()) as { allowed_from_domains: string[]; api_rate: unknown; send_rate: unknown; daily_quota: number };
	const id = crypto.randomUUID();
	const token = `mr_${crypto.randomUUID().replaceAll("-", "")}`;
	const now = Date.now();
	await env.DB.batch([
		env.DB.prepare(
			"INSERT INTO tenants (id, name, allowed_from_domains, api_rate, send_rate, daily_quota, providers, created_at, updated_at, deleted_at) VALUES (?, 'floor', ?, ?, ?, ?, NULL, ?, ?, NULL)",
		).bind(
			id,
			JSON.stringify(body.allowed_from_domains),
			JSON.stringify(body.api_rate),
			JSON.stringify(body.send_rate),
			body.daily_quota,
			now,
			now,
		),
		env.DB.prepare(
			"INSERT INTO api_keys (id, tenant_id, name, permission, key_hash, created_at, revoked_at) VALUES (?, ?, 'floor', 'full_access', ?, ?, NULL)",
		).bind(crypto.randomUUID(), id, await sha256Hex(token), now),
	]);
	return json(201, { id, token });
}

/** The columns `emailRow` writes against the table's own (the floor's self-check). */
async function schemaCheck(env: FloorEnv): Promise<Response> {
	const columns = async (table: string) =>
		(await env.DB.prepare(`SELECT name, pk, type FROM pragma_table_info('${table}')`).all<{ name: string; pk: number; type: string }>())
			.results;
	const sample: SendInput = { from: "a@b", to: ["c@d"], subject: "s", html: null, text: "t" };
	const diff = (table: { name: string; pk: number; type: string }[], written: string[]) => ({
		missing: table.filter((c) => !written.includes(c.name) && !(c.pk === 1 && /^integer$/i.test(c.type))).map((c) => c.name),
		unknown: written.filter((name) => !table.some((c) => c.name === name)),
	});
	return json(200, {
		emails: diff(await columns("emails"), Object.keys(emailRow("i", "t", sample, ["c@d"], 0))),
	});
}

async function d1<T>(pending: Promise<D1Result<T>>): Promise<D1Result<T>> {
	metrics.d1_round_trips += 1;
	const result = await pending;
	metrics.rows_read += result.meta.rows_read;
	metrics.rows_written += result.meta.rows_written;
	return result;
}

async function d1Batch(db: D1Database, statements: D1PreparedStatement[]): Promise<D1Result[]> {
	metrics.d1_round_trips += 1;
	const results = await db.batch(statements);
	for (const r of results) {
		metrics.rows_read += r.meta.rows_read;
		metrics.rows_written += r.meta.rows_written;
	}
	return results;
}

function placeholders(row: Record<string, unknown>): string {
	return Object.keys(row)
		.map(() => "?")
		.join(", ");
}

async function sha256Hex(text: string): Promise<string> {
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
	return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A UUIDv7 (RFC 9562), as Mailroom's email ids. */
function uuidv7(now: number): string {
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	let ms = now;
	for (let i = 5; i >= 0; i--) {
		bytes[i] = ms % 256;
		ms = Math.floor(ms / 256);
	}
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function json(status: number, body: unknown): Response {
	return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function error(statusCode: number, name: string, message: string): Response {
	return json(statusCode, { statusCode, name, message });
}
