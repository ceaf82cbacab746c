import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { verifyPendingDomains } from "../../src/cron/domains";
import { DOMAIN_LIMITS } from "../../src/services/domains";
import { call, counts, email, seedTenant } from "../helpers/api";
import { type DohAnswer, type DomainBody, fakeDoh, verifiedDomain } from "../helpers/dns";

afterEach(() => vi.restoreAllMocks());

type ErrorBody = { statusCode: number; name: string; message: string };
type Verify = { object: string; id: string; status: string; error: string | null };

/** A tenant without the operator's override: it may send only from domains it verifies. */
const selfService = () => seedTenant({ allowed_from_domains: [] });

let seq = 0;
const uniqueName = (label = "mail") => `${label}-${++seq}-${crypto.randomUUID().slice(0, 8)}.example.com`;

async function addDomain(key: string, name: string, extra: Record<string, unknown> = {}) {
	return call<DomainBody & Record<string, unknown>>("POST", "/domains", { key, body: { name, ...extra } });
}

async function domainRow(id: string) {
	return env.DB.prepare("SELECT status, checks, next_check_at, last_check, last_error FROM domains WHERE id = ?").bind(id).first<{
		status: string;
		checks: number;
		next_check_at: number | null;
		last_check: string | null;
		last_error: string | null;
	}>();
}

describe("POST /domains", () => {
	it("adds a domain not_started with its ownership TXT record, answering 201 in Resend's shape", async () => {
		const t = await selfService();
		const name = uniqueName();
		const res = await addDomain(t.key, `  ${name.toUpperCase()}. `, { open_tracking: true });
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({
			id: expect.any(String),
			name,
			status: "not_started",
			region: "us-east-1",
			open_tracking: true,
			click_tracking: false,
			capabilities: { sending: "enabled", receiving: "disabled" },
		});
		expect(res.body.records[0]).toEqual({
			record: "Verification",
			name,
			type: "TXT",
			ttl: "Auto",
			status: "not_started",
			value: expect.stringMatching(/^mailroom-verification=[0-9a-f]{32}$/),
			provider: null,
			purpose: expect.any(String),
		});
	});

	it("lists the DKIM and return-path records of the tenant's providers", async () => {
		const t = await seedTenant({ allowed_from_domains: [], providers: ["resend", "postmark", "sandbox"] });
		const name = uniqueName();
		const res = await addDomain(t.key, name);
		const byProvider = res.body.records.map((r) => [r.provider, r.record, r.type, r.name]);
		expect(byProvider).toEqual([
			[null, "Verification", "TXT", name],
			["resend", "DKIM", "TXT", `resend._domainkey.${name}`],
			["resend", "SPF", "MX", `send.${name}`],
			["resend", "SPF", "TXT", `send.${name}`],
			["postmark", "DKIM", "TXT", `<selector>pm._domainkey.${name}`],
			["postmark", "SPF", "CNAME", `pm-bounces.${name}`],
		]);
		expect(res.body.records.find((r) => r.type === "MX")).toMatchObject({ value: "feedback-smtp.us-east-1.amazonses.com", priority: 10 });
	});

	it("stores an internationalised name as punycode", async () => {
		const t = await selfService();
		const res = await addDomain(t.key, `shop-${++seq}.bücher.example.de`);
		expect(res.status).toBe(201);
		expect(res.body.name).toBe(`shop-${seq}.xn--bcher-kva.example.de`);
	});

	it.each([
		["not a hostname", "not a domain", "is not a domain name"],
		["a single label", "localhost", "is not a domain name"],
		["a public suffix", "co.uk", "co.uk is a public suffix"],
		["a private public suffix", "github.io", "github.io is a public suffix"],
		["a top-level domain", "com", "is not a domain name"],
		["an unknown top-level domain", "mail.example.internal", "does not end in a public top-level domain"],
		["an IP address", "192.0.2.1", "is not a domain name"],
	])("refuses %s with 422 and stores nothing", async (_label, name, message) => {
		const t = await selfService();
		const res = await call<ErrorBody>("POST", "/domains", { key: t.key, body: { name } });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("validation_error");
		expect(res.body.message).toContain(message);
		const n = await env.DB.prepare("SELECT count(*) AS n FROM domains WHERE tenant_id = ?").bind(t.tenantId).first<number>("n");
		expect(n).toBe(0);
	});

	it("refuses receiving with 422: Mailroom does not receive email", async () => {
		const t = await selfService();
		const res = await call<ErrorBody>("POST", "/domains", {
			key: t.key,
			body: { name: uniqueName(), capabilities: { sending: "enabled", receiving: "enabled" } },
		});
		expect(res.status).toBe(422);
		expect(res.body.message).toContain("Receiving is not offered");
	});

	it("refuses a name the tenant already added with 409", async () => {
		const t = await selfService();
		const name = uniqueName();
		await addDomain(t.key, name);
		const again = await call<ErrorBody>("POST", "/domains", { key: t.key, body: { name } });
		expect(again.status).toBe(409);
		expect(again.body.name).toBe("invalid_state");
	});

	it("refuses a name another tenant has verified with 409, naming it", async () => {
		const owner = await selfService();
		const name = uniqueName();
		await verifiedDomain(owner, name);
		const other = await selfService();
		const res = await call<ErrorBody>("POST", "/domains", { key: other.key, body: { name } });
		expect(res.status).toBe(409);
		expect(res.body.message).toBe(`${name} is already verified by another account`);
	});

	it(`refuses more than ${DOMAIN_LIMITS.perTenant} domains per tenant`, async () => {
		const t = await selfService();
		const now = Date.now();
		const rows = Array.from({ length: DOMAIN_LIMITS.perTenant }, (_, i) =>
			env.DB.prepare(
				"INSERT INTO domains (id, tenant_id, name, status, token, region, open_tracking, click_tracking, tls, checks, created_at, updated_at) VALUES (?, ?, ?, 'not_started', 't', 'us-east-1', 0, 0, 'opportunistic', 0, ?, ?)",
			).bind(crypto.randomUUID(), t.tenantId, `d${i}.example.com`, now, now),
		);
		await env.DB.batch(rows);
		const res = await call<ErrorBody>("POST", "/domains", { key: t.key, body: { name: uniqueName() } });
		expect(res.status).toBe(422);
		expect(res.body.message).toContain(`at most ${DOMAIN_LIMITS.perTenant} domains`);
	});

	it("needs a full_access key", async () => {
		const t = await selfService();
		const sending = await call<{ token: string }>("POST", "/api-keys", { key: t.key, body: { name: "s", permission: "sending_access" } });
		const res = await call<ErrorBody>("POST", "/domains", { key: sending.body.token, body: { name: uniqueName() } });
		expect(res.status).toBe(401);
		expect(res.body.name).toBe("restricted_api_key");
	});
});

describe("GET, PATCH, DELETE /domains", () => {
	it("lists domains newest first with cursors, and reads one with its records", async () => {
		const t = await selfService();
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) ids.push((await addDomain(t.key, uniqueName())).body.id);
		const first = await call<{ object: string; has_more: boolean; data: { id: string }[] }>("GET", "/domains?limit=2", { key: t.key });
		expect(first.body).toMatchObject({ object: "list", has_more: true });
		expect(first.body.data.map((d) => d.id)).toEqual([ids[2], ids[1]]);
		const next = await call<{ has_more: boolean; data: { id: string }[] }>("GET", `/domains?limit=2&after=${ids[1]}`, { key: t.key });
		expect(next.body.data.map((d) => d.id)).toEqual([ids[0]]);
		expect(next.body.has_more).toBe(false);
		const back = await call<{ data: { id: string }[] }>("GET", `/domains?limit=2&before=${ids[0]}`, { key: t.key });
		expect(back.body.data.map((d) => d.id)).toEqual([ids[2], ids[1]]);
		const one = await call<DomainBody & { object: string }>("GET", `/domains/${ids[0]}`, { key: t.key });
		expect(one.body).toMatchObject({ object: "domain", id: ids[0], status: "not_started" });
		expect(one.body.records[0]?.record).toBe("Verification");
	});

	it("changes tracking settings with PATCH and answers Resend's reference", async () => {
		const t = await selfService();
		const { id } = (await addDomain(t.key, uniqueName())).body;
		const res = await call("PATCH", `/domains/${id}`, { key: t.key, body: { open_tracking: true, click_tracking: true } });
		expect(res.body).toEqual({ object: "domain", id });
		const row = await env.DB.prepare("SELECT open_tracking, click_tracking FROM domains WHERE id = ?").bind(id).first();
		expect(row).toEqual({ open_tracking: 1, click_tracking: 1 });
	});

	it("deletes a domain, after which it is 404 and sending from it is refused", async () => {
		const t = await selfService();
		const name = uniqueName();
		const domain = await verifiedDomain(t, name);
		expect((await call("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}` }) })).status).toBe(200);
		expect((await call("DELETE", `/domains/${domain.id}`, { key: t.key })).body).toEqual({
			object: "domain",
			id: domain.id,
			deleted: true,
		});
		expect((await call("GET", `/domains/${domain.id}`, { key: t.key })).status).toBe(404);
		const refused = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}` }) });
		expect(refused.status).toBe(422);
		expect(refused.body.name).toBe("invalid_from_address");
	});

	it("keeps tenants apart: another tenant's domain is 404 for every route and unchanged", async () => {
		const a = await selfService();
		const b = await selfService();
		const { id } = (await addDomain(a.key, uniqueName())).body;
		for (const [method, path, body] of [
			["GET", `/domains/${id}`],
			["PATCH", `/domains/${id}`, { open_tracking: true }],
			["POST", `/domains/${id}/verify`],
			["DELETE", `/domains/${id}`],
		] as const) {
			const res = await call<ErrorBody>(method, path, { key: b.key, ...(body ? { body } : {}) });
			expect(res.status, `${method} ${path}`).toBe(404);
			expect(res.body.name).toBe("not_found");
		}
		expect((await call<{ data: unknown[] }>("GET", "/domains", { key: b.key })).body.data).toEqual([]);
		expect(await domainRow(id)).toMatchObject({ status: "not_started", checks: 0 });
	});

	it("answers 404 for ids that are not domain ids", async () => {
		const t = await selfService();
		expect((await call("GET", "/domains/nope", { key: t.key })).status).toBe(404);
	});
});

describe("POST /domains/:id/verify", () => {
	async function pendingDomain() {
		const t = await selfService();
		const name = uniqueName();
		const res = await addDomain(t.key, name);
		const token = res.body.records[0]?.value ?? "";
		return { t, name, id: res.body.id, token };
	}

	it("verifies a domain whose TXT record is published, among other TXT records", async () => {
		const { t, name, id, token } = await pendingDomain();
		const doh = fakeDoh({ [name]: ["v=spf1 -all", token] });
		const res = await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key });
		expect(res.body).toEqual({ object: "domain", id, status: "verified", error: null });
		expect(doh.asked).toEqual([name]);
		const domain = await call<DomainBody>("GET", `/domains/${id}`, { key: t.key });
		expect(domain.body.status).toBe("verified");
		expect(domain.body.records[0]?.status).toBe("verified");
	});

	it("lets a verified domain and its subdomains send", async () => {
		const t = await selfService();
		const name = uniqueName();
		await verifiedDomain(t, name);
		for (const from of [`Acme <hello@${name}>`, `news@mail.${name}`]) {
			const res = await call("POST", "/emails", { key: t.key, body: email(t, { from }) });
			expect(res.status, from).toBe(200);
		}
	});

	it("joins TXT strings split into several character-strings", async () => {
		const { t, name, id, token } = await pendingDomain();
		fakeDoh({
			[name]: { raw: JSON.stringify({ Status: 0, Answer: [{ name, type: 16, data: `"${token.slice(0, 20)}" "${token.slice(20)}"` }] }) },
		});
		const res = await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key });
		expect(res.body.status).toBe("verified");
	});

	it("leaves a domain without the record pending, saying what to publish, and schedules a re-check", async () => {
		const { t, name, id, token } = await pendingDomain();
		fakeDoh({ [name]: ["v=spf1 -all"] });
		const before = Date.now();
		const res = await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body.status).toBe("pending");
		expect(res.body.error).toContain(`No TXT record ${token} at ${name}`);
		const row = await domainRow(id);
		expect(row).toMatchObject({ status: "pending", checks: 1, last_check: "missing" });
		expect(row?.next_check_at).toBeGreaterThanOrEqual(before + 5 * 60_000);
	});

	it("treats a name that does not exist (NXDOMAIN) as a record not published yet", async () => {
		const { t, name, id } = await pendingDomain();
		fakeDoh({ [name]: { rcode: 3 } });
		const res = await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key });
		expect(res.body.status).toBe("pending");
		expect((await domainRow(id))?.last_check).toBe("missing");
	});

	it("says when the record holds another token", async () => {
		const { t, name, id } = await pendingDomain();
		fakeDoh({ [name]: ["mailroom-verification=0123456789abcdef0123456789abcdef"] });
		const res = await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key });
		expect(res.body.status).toBe("pending");
		expect(res.body.error).toContain("not this domain's");
		expect((await domainRow(id))?.last_check).toBe("wrong_token");
	});

	it.each([
		["a timeout", "timeout" as const, "did not answer within"],
		["an unreachable resolver", "unreachable" as const, "could not be reached"],
		["garbage", "garbage" as const, "not JSON"],
		["JSON that is not a DNS answer", { raw: '{"hello":"world"}' }, "not a DNS-over-HTTPS JSON answer"],
		["an HTTP error", { http: 503 }, "HTTP 503"],
		["SERVFAIL", { rcode: 2 }, "RCODE 2"],
	])("keeps the domain pending as a temporary failure on %s, nothing lost", async (_label, answer, message) => {
		const { t, name, id } = await pendingDomain();
		fakeDoh({ [name]: answer });
		const res = await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body.status).toBe("pending");
		expect(res.body.error).toContain(message);
		const domain = await call<DomainBody>("GET", `/domains/${id}`, { key: t.key });
		expect(domain.body.records[0]?.status).toBe("temporary_failure");
		expect(await domainRow(id)).toMatchObject({ status: "pending", last_check: "resolver_error", checks: 1 });
	});

	it("leaves a verified domain verified without asking DNS again", async () => {
		const t = await selfService();
		const domain = await verifiedDomain(t, uniqueName());
		const doh = fakeDoh();
		const res = await call<Verify>("POST", `/domains/${domain.id}/verify`, { key: t.key });
		expect(res.body.status).toBe("verified");
		expect(doh.asked).toEqual([]);
	});

	it("refuses with 409 when another tenant verified the same name first, and fails the domain", async () => {
		const name = uniqueName();
		const first = await selfService();
		const second = await selfService();
		const a = await addDomain(first.key, name);
		const b = await addDomain(second.key, name);
		fakeDoh({ [name]: [a.body.records[0]?.value ?? "", b.body.records[0]?.value ?? ""] });
		expect((await call<Verify>("POST", `/domains/${a.body.id}/verify`, { key: first.key })).body.status).toBe("verified");
		const res = await call<ErrorBody>("POST", `/domains/${b.body.id}/verify`, { key: second.key });
		expect(res.status).toBe(409);
		expect(res.body.message).toContain("verified by another account first");
		expect(await domainRow(b.body.id)).toMatchObject({ status: "failed", last_check: "taken" });
		const refused = await call<ErrorBody>("POST", "/emails", { key: second.key, body: email(second, { from: `x@${name}` }) });
		expect(refused.body.name).toBe("invalid_from_address");
	});
});

describe("sending from unverified domains", () => {
	it("answers 422 invalid_from_address naming the domain and what to do, and writes nothing", async () => {
		const t = await selfService();
		const name = uniqueName();
		await addDomain(t.key, name);
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { from: `Acme <a@${name}>` }) });
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_from_address");
		expect(res.body.message).toBe(
			`The ${name} domain is not verified. Add it with POST /domains, publish the TXT record it lists, then call POST /domains/{id}/verify (or send from a verified domain)`,
		);
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("keeps the operator's allowed_from_domains as pre-verified", async () => {
		const t = await seedTenant();
		expect((await call("POST", "/emails", { key: t.key, body: email(t) })).status).toBe(200);
	});

	it("does not let one tenant's verified domain serve another tenant", async () => {
		const owner = await selfService();
		const name = uniqueName();
		await verifiedDomain(owner, name);
		const other = await selfService();
		const res = await call<ErrorBody>("POST", "/emails", { key: other.key, body: email(other, { from: `a@${name}` }) });
		expect(res.body.name).toBe("invalid_from_address");
	});
});

describe("the domain re-check cron", () => {
	async function pendingWith(answer: DohAnswer | "token" | null) {
		const t = await selfService();
		const name = uniqueName();
		const created = await addDomain(t.key, name);
		const doh = fakeDoh({ [name]: ["nothing yet"] });
		await call("POST", `/domains/${created.body.id}/verify`, { key: t.key });
		if (answer !== null) doh.set(name, answer === "token" ? [created.body.records[0]?.value ?? ""] : answer);
		return { t, name, id: created.body.id, doh };
	}

	it("verifies a pending domain once its record appears and its check is due", async () => {
		const { t, name, id, doh } = await pendingWith(null);
		doh.set(name, [(await call<DomainBody>("GET", `/domains/${id}`, { key: t.key })).body.records[0]?.value ?? ""]);
		const row = await domainRow(id);
		await verifyPendingDomains(env, (row?.next_check_at ?? 0) + 1);
		expect(await domainRow(id)).toMatchObject({ status: "verified", checks: 2, last_check: "verified" });
		expect((await call("POST", "/emails", { key: t.key, body: email(t, { from: `a@${name}` }) })).status).toBe(200);
	});

	it("leaves a domain whose check is not due yet alone", async () => {
		const { name, id, doh } = await pendingWith(null);
		const row = await domainRow(id);
		doh.asked.length = 0;
		await verifyPendingDomains(env, (row?.next_check_at ?? 0) - 1);
		expect(doh.asked).not.toContain(name);
		expect(await domainRow(id)).toMatchObject({ status: "pending", checks: 1 });
	});

	it("backs off between checks and fails the domain after the last one", async () => {
		const { id } = await pendingWith(null);
		const delays: number[] = [];
		let row = await domainRow(id);
		let at = 0;
		while (row?.status === "pending") {
			const due = row.next_check_at ?? 0;
			delays.push(Math.round((due - at) / 60_000));
			at = due;
			await verifyPendingDomains(env, due);
			row = await domainRow(id);
		}
		expect(delays.slice(1, 9)).toEqual([10, 20, 40, 80, 160, 320, 360, 360]);
		expect(row).toMatchObject({ status: "failed", checks: DOMAIN_LIMITS.maxChecks, next_check_at: null });
		expect(row?.last_error).toContain(`gave up after ${DOMAIN_LIMITS.maxChecks} checks`);
	});

	it("starts over when verify is called on a failed domain", async () => {
		const { t, name, id } = await pendingWith(null);
		await env.DB.prepare("UPDATE domains SET status = 'failed', checks = 18, next_check_at = NULL WHERE id = ?").bind(id).run();
		fakeDoh({ [name]: ["still nothing"] });
		expect((await call<Verify>("POST", `/domains/${id}/verify`, { key: t.key })).body.status).toBe("pending");
		expect(await domainRow(id)).toMatchObject({ status: "pending", checks: 1 });
	});
});
