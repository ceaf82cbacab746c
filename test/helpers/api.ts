/** Calls the Worker's own fetch handler inside workerd, and seeds tenants and keys through the admin API. */
import { env, exports } from "cloudflare:workers";
import { vi } from "vitest";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

type CallOptions = { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> };

export type ApiResponse<T = Record<string, unknown>> = { status: number; headers: Headers; body: T };

/**
 * One HTTP request to the Worker. `body` is sent as JSON; `rawBody` as is (for malformed-input tests).
 *
 * @example
 * const res = await call("POST", "/emails", { key, body: { from, to, subject, text } });
 */
export async function call<T = Record<string, unknown>>(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
	const headers: Record<string, string> = { ...options.headers };
	if (options.key) headers.authorization = `Bearer ${options.key}`;
	let body: string | undefined;
	if (options.rawBody !== undefined) body = options.rawBody;
	else if (options.body !== undefined) body = JSON.stringify(options.body);
	if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
		headers["content-type"] = "application/json";
	}
	const res = await exports.default.fetch(`http://mailroom.test${path}`, { method, headers, body });
	// Decoded by hand: `text()` warns on bodies such as message/rfc822 that it does not consider text.
	const text = new TextDecoder().decode(await res.arrayBuffer());
	let parsed: unknown = text;
	try {
		parsed = text.length > 0 ? JSON.parse(text) : null;
	} catch {
		// Non-JSON bodies (e.g. /docs HTML) are returned as text.
	}
	return { status: res.status, headers: res.headers, body: parsed as T };
}

export type Seeded = { tenantId: string; key: string; keyId: string; domain: string };

let seq = 0;

/** A fresh tenant (own domain, own full-access key) so tests never share rows. */
export async function seedTenant(overrides: Record<string, unknown> = {}): Promise<Seeded> {
	seq += 1;
	const domain = `t${seq}-${crypto.randomUUID().slice(0, 8)}.example.com`;
	const created = await call<{ id: string }>("POST", "/admin/tenants", {
		key: ADMIN_TOKEN,
		// Generous limits unless a test is about limits: seeding many emails must not trip the API bucket.
		body: {
			name: `tenant ${seq}`,
			allowed_from_domains: [domain],
			api_rate: { per_second: 10_000, burst: 10_000 },
			daily_quota: 10_000_000,
			...overrides,
		},
	});
	if (created.status !== 201) throw new Error(`seed tenant failed: ${created.status} ${JSON.stringify(created.body)}`);
	const key = await call<{ id: string; token: string }>("POST", `/admin/tenants/${created.body.id}/api-keys`, {
		key: ADMIN_TOKEN,
		body: { name: "test", permission: "full_access" },
	});
	if (key.status !== 201) throw new Error(`seed key failed: ${key.status} ${JSON.stringify(key.body)}`);
	return { tenantId: created.body.id, key: key.body.token, keyId: key.body.id, domain };
}

/** A minimal valid send request from the tenant's own domain. */
export function email(t: Seeded, overrides: Record<string, unknown> = {}): Record<string, unknown> {
	return { from: `Acme <hello@${t.domain}>`, to: "user@example.org", subject: "Hello", text: "Hi there", ...overrides };
}

/** Row counts, to assert that rejected requests wrote nothing. */
export async function counts(tenantId: string): Promise<{ emails: number; events: number; idempotency: number }> {
	const [e, ev, i] = await env.DB.batch<{ n: number }>([
		env.DB.prepare("SELECT count(*) AS n FROM emails WHERE tenant_id = ?").bind(tenantId),
		env.DB.prepare("SELECT count(*) AS n FROM email_events WHERE tenant_id = ?").bind(tenantId),
		env.DB.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ?").bind(tenantId),
	]);
	return { emails: e?.results[0]?.n ?? 0, events: ev?.results[0]?.n ?? 0, idempotency: i?.results[0]?.n ?? 0 };
}

/**
 * Makes the `n`-th `env.DB.batch()` call from now on fail with `message` (1 = the next one), leaving the others
 * real: a D1 outage at one exact step. Restore with `vi.restoreAllMocks()` or the returned spy.
 */
export function failNthBatch(n: number, message = "D1 is unavailable") {
	const realBatch = env.DB.batch.bind(env.DB);
	let calls = 0;
	return vi.spyOn(env.DB, "batch").mockImplementation(async (statements) => {
		calls += 1;
		if (calls === n) throw new Error(message);
		return realBatch(statements);
	});
}
