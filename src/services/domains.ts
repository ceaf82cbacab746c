/**
 * Self-service sending domains (docs/architecture.md, "Domains").
 *
 * A tenant adds a domain (`not_started`) and publishes the TXT record `mailroom-verification=<token>` at its name, plus
 * the DKIM and return-path records its providers need (`ProviderModule.dnsRecords`). `POST /domains/:id/verify` looks
 * the TXT record up over DNS-over-HTTPS at once: found → `verified`; otherwise `pending`, and the five-minute cron looks
 * again with a growing delay (5 min, 10, 20 … then every 6 h) until it is found or, after about 72 hours
 * (`DOMAIN_LIMITS.maxChecks`), `failed`; calling verify again starts over. A verified domain stays verified (it is never
 * re-checked) until it is deleted.
 *
 * Only one tenant holds a name verified: the partial unique index `domains_verified_name` decides a race, and a domain
 * another tenant verified first ends `failed` (`taken`). Sending is allowed from verified domains and their subdomains
 * (src/services/senders.ts), read at authentication.
 */
import { and, eq } from "drizzle-orm";
import { type Db, isUniqueViolation, runBatch, type Statement } from "../db/client";
import { domainCreationFacts, dueDomains, findDomain, notVerified } from "../db/domains";
import { type DomainCheckOutcome, type DomainRow, domains } from "../db/schema";
import { ApiError } from "../errors";
import { mapWithConcurrency } from "../lib/concurrency";
import { type DnsResolver, lookupTxt } from "../lib/dns";
import { normaliseDomainName } from "../lib/domain-name";
import { newSortableId } from "../lib/ids";
import { iso, isoOrNull } from "../lib/time";
import type { ProviderModule, ProviderSettings } from "../providers/types";
import type { DomainCreate, DomainUpdate } from "../schemas/domain";
import { forgetTenant } from "./auth-cache";

export const DOMAIN_LIMITS = {
	/** Domains per tenant: keeps the verified list that authentication loads small. */
	perTenant: 100,
	/** One TXT lookup; `verify` waits for it, so it is short. */
	dnsTimeoutMs: 5_000,
	/** Pending domains the cron checks per run (five at a time). */
	recheckBatch: 25,
	/** Checks before a pending domain is `failed`: with the schedule below, about 72 hours (Resend gives 72 h too). */
	maxChecks: 18,
} as const;

/** Minutes until check n+1 after check n failed to verify; then every 6 hours. */
const RECHECK_MINUTES = [5, 10, 20, 40, 80, 160, 320] as const;
const RECHECK_CAP_MINUTES = 360;

const VERIFICATION_PREFIX = "mailroom-verification=";

export function ownershipValue(token: string): string {
	return `${VERIFICATION_PREFIX}${token}`;
}

function newToken(): string {
	const bytes = new Uint8Array(16);
	crypto.getRandomValues(bytes);
	return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Adds a domain for the tenant (`not_started`). Refused: not a host name or a public suffix (422), already added by
 * this tenant, or verified by another one (409), beyond `DOMAIN_LIMITS.perTenant` (422).
 */
export async function createDomain(db: Db, tenantId: string, input: DomainCreate, now: number): Promise<DomainRow> {
	const normalised = normaliseDomainName(input.name);
	if (!normalised.ok) throw new ApiError("validation_error", normalised.error);
	const name = normalised.value;
	const facts = await domainCreationFacts(db, tenantId, name);
	if (facts.takenElsewhere) throw new ApiError("invalid_state", `${name} is already verified by another account`);
	if (facts.domains >= DOMAIN_LIMITS.perTenant) {
		throw new ApiError("validation_error", `A tenant may have at most ${DOMAIN_LIMITS.perTenant} domains; delete one first`);
	}
	const row: DomainRow = {
		id: newSortableId(now),
		tenantId,
		name,
		status: "not_started",
		token: newToken(),
		region: input.region,
		openTracking: input.open_tracking,
		clickTracking: input.click_tracking,
		tls: input.tls,
		trackingSubdomain: input.tracking_subdomain ?? null,
		checks: 0,
		nextCheckAt: null,
		lastCheckedAt: null,
		lastCheck: null,
		lastError: null,
		verifiedAt: null,
		createdAt: now,
		updatedAt: now,
	};
	try {
		await db.insert(domains).values(row);
	} catch (e) {
		if (isUniqueViolation(e)) throw new ApiError("invalid_state", `${name} has already been added to this account`);
		throw e;
	}
	return row;
}

/** Applies the given settings; undefined for an unknown domain (another tenant's included). */
export async function updateDomain(db: Db, tenantId: string, id: string, input: DomainUpdate, now: number): Promise<DomainRow | undefined> {
	const [row] = await db
		.update(domains)
		.set({
			...(input.open_tracking !== undefined && { openTracking: input.open_tracking }),
			...(input.click_tracking !== undefined && { clickTracking: input.click_tracking }),
			...(input.tls !== undefined && { tls: input.tls }),
			...(input.tracking_subdomain !== undefined && { trackingSubdomain: input.tracking_subdomain }),
			updatedAt: now,
		})
		.where(and(eq(domains.id, id), eq(domains.tenantId, tenantId)))
		.returning();
	forgetTenant(tenantId);
	return row;
}

/** Deletes the domain: sending from it (and through keys restricted to it) stops with the next request. */
export async function deleteDomain(db: Db, tenantId: string, id: string): Promise<boolean> {
	const rows = await db
		.delete(domains)
		.where(and(eq(domains.id, id), eq(domains.tenantId, tenantId)))
		.returning({ id: domains.id });
	forgetTenant(tenantId);
	return rows.length > 0;
}

export type OwnershipCheck = { outcome: DomainCheckOutcome; error: string | null };

/** Looks for the domain's ownership record; a resolver failure is an outcome too (`resolver_error`), never a throw. */
export async function checkOwnership(row: Pick<DomainRow, "name" | "token">, resolver: DnsResolver): Promise<OwnershipCheck> {
	const expected = ownershipValue(row.token);
	const found = await lookupTxt(row.name, resolver);
	if (!found.ok) return { outcome: "resolver_error", error: `${found.error.message}; Mailroom will look again` };
	if (found.value.includes(expected)) return { outcome: "verified", error: null };
	if (found.value.some((t) => t.startsWith(VERIFICATION_PREFIX))) {
		return {
			outcome: "wrong_token",
			error: `${row.name} has a mailroom-verification TXT record, but not this domain's: publish ${expected}`,
		};
	}
	return { outcome: "missing", error: `No TXT record ${expected} at ${row.name} yet (DNS changes can take a while to show)` };
}

/** The row's next state after a check; `restart` (an explicit verify) starts the count of checks over. */
function afterCheck(row: DomainRow, check: OwnershipCheck, now: number, restart: boolean) {
	const checks = (restart ? 0 : row.checks) + 1;
	const common = { checks, lastCheckedAt: now, lastCheck: check.outcome, lastError: check.error, updatedAt: now };
	if (check.outcome === "verified") return { ...common, status: "verified" as const, verifiedAt: now, nextCheckAt: null };
	if (checks >= DOMAIN_LIMITS.maxChecks) {
		return { ...common, status: "failed" as const, nextCheckAt: null, lastError: `${check.error} (gave up after ${checks} checks)` };
	}
	const minutes = RECHECK_MINUTES[checks - 1] ?? RECHECK_CAP_MINUTES;
	return { ...common, status: "pending" as const, nextCheckAt: now + minutes * 60_000 };
}

function checkStatement(db: Db, row: DomainRow, check: OwnershipCheck, now: number, restart: boolean) {
	return db
		.update(domains)
		.set(afterCheck(row, check, now, restart))
		.where(and(eq(domains.id, row.id), notVerified))
		.returning();
}

/**
 * Writes a check's outcome. A verification that collides with another tenant's verified domain of the same name (the
 * partial unique index) is recorded as `taken`: failed, with the reason. Returns the row as it now is.
 */
async function recordCheck(db: Db, row: DomainRow, check: OwnershipCheck, now: number, restart: boolean): Promise<DomainRow | undefined> {
	try {
		const [updated] = await checkStatement(db, row, check, now, restart);
		if (updated?.status === "verified") forgetTenant(row.tenantId);
		return updated ?? (await findDomain(db, row.tenantId, row.id));
	} catch (e) {
		if (!isUniqueViolation(e) || check.outcome !== "verified") throw e;
		const taken: OwnershipCheck = { outcome: "taken", error: `${row.name} was verified by another account first` };
		const [updated] = await db
			.update(domains)
			.set({ ...afterCheck(row, taken, now, restart), status: "failed", nextCheckAt: null })
			.where(and(eq(domains.id, row.id), notVerified))
			.returning();
		return updated;
	}
}

export type DomainDeps = { db: Db; resolver: DnsResolver; now: number };

/**
 * `POST /domains/:id/verify`: checks the TXT record now and records the outcome (a verified domain is left as it is).
 * Unknown id → 404; a name another tenant verified first → 409 (the domain is then `failed`).
 */
export async function verifyDomain(deps: DomainDeps, tenantId: string, id: string): Promise<DomainRow> {
	const row = await findDomain(deps.db, tenantId, id);
	if (!row) throw new ApiError("not_found", "Domain not found");
	if (row.status === "verified") return row;
	const check = await checkOwnership(row, deps.resolver);
	const updated = await recordCheck(deps.db, row, check, deps.now, true);
	if (!updated) throw new ApiError("not_found", "Domain not found");
	if (updated.lastCheck === "taken") throw new ApiError("invalid_state", updated.lastError ?? `${row.name} is verified by another account`);
	return updated;
}

/**
 * The cron job: checks pending domains whose time has come (at most `recheckBatch`, five lookups at a time) and
 * records each outcome. Outcomes that do not verify are written in one transaction; each verification on its own, so
 * a name taken meanwhile fails only that domain.
 */
export async function recheckDueDomains(deps: DomainDeps): Promise<{ checked: number; verified: number; failed: number }> {
	const rows = await dueDomains(deps.db, deps.now, DOMAIN_LIMITS.recheckBatch);
	const checks = await mapWithConcurrency(rows, 5, (row) => checkOwnership(row, deps.resolver));
	const statements: Statement[] = [];
	let verified = 0;
	let failed = 0;
	for (const [i, row] of rows.entries()) {
		const check = checks[i] as OwnershipCheck;
		if (check.outcome === "verified") {
			const updated = await recordCheck(deps.db, row, check, deps.now, false);
			if (updated?.status === "verified") verified += 1;
			else failed += 1;
			continue;
		}
		if (afterCheck(row, check, deps.now, false).status === "failed") failed += 1;
		statements.push(checkStatement(deps.db, row, check, deps.now, false));
	}
	await runBatch(deps.db, statements);
	return { checked: rows.length, verified, failed };
}

/** The status Resend's `DomainRecord.status` gives the ownership record. */
function ownershipRecordStatus(row: DomainRow): "not_started" | "pending" | "verified" | "failed" | "temporary_failure" {
	if (row.status === "pending" && row.lastCheck === "resolver_error") return "temporary_failure";
	return row.status;
}

/**
 * Every record the domain should publish: Mailroom's ownership TXT record first, then each configured provider's.
 *
 * @example
 * domainRecords(row, [resend], settings) // [{ record: "Verification", … }, { record: "DKIM", provider: "resend", … }, …]
 */
export function domainRecords(row: DomainRow, providers: readonly ProviderModule[], settings: ProviderSettings) {
	const ownership = {
		record: "Verification" as const,
		name: row.name,
		type: "TXT" as const,
		ttl: "Auto",
		status: ownershipRecordStatus(row),
		value: ownershipValue(row.token),
		provider: null,
		purpose: "Proves to Mailroom that this account controls the domain; Mailroom looks it up when you verify.",
	};
	const needed = providers.flatMap((p) =>
		(p.dnsRecords?.(row.name, settings) ?? []).map((r) => ({
			record: r.record,
			name: r.name,
			type: r.type,
			ttl: "Auto",
			status: "not_started" as const,
			value: r.value,
			...(r.priority !== undefined ? { priority: r.priority } : {}),
			provider: p.name,
			purpose: r.purpose,
		})),
	);
	return [ownership, ...needed];
}

const CAPABILITIES = { sending: "enabled" as const, receiving: "disabled" as const };

/** `ListDomainsItem`. */
export function toDomainListItem(row: DomainRow) {
	return {
		id: row.id,
		name: row.name,
		status: row.status,
		created_at: iso(row.createdAt),
		region: row.region,
		open_tracking: row.openTracking,
		click_tracking: row.clickTracking,
		...(row.trackingSubdomain !== null ? { tracking_subdomain: row.trackingSubdomain } : {}),
		capabilities: CAPABILITIES,
	};
}

/** Resend's `Domain` (without `object` it is the create response), with its records and where verification stands. */
export function toDomainObject(row: DomainRow, records: ReturnType<typeof domainRecords>) {
	return {
		object: "domain" as const,
		...toDomainListItem(row),
		tls: row.tls,
		records,
		verification: {
			checks: row.checks,
			last_checked_at: isoOrNull(row.lastCheckedAt),
			next_check_at: isoOrNull(row.nextCheckAt),
			verified_at: isoOrNull(row.verifiedAt),
			error: row.lastError,
		},
	};
}
