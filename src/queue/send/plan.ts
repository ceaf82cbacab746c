/**
 * Step 3, plan: everything decided before any provider call, with a handful of RateLimiter RPCs per batch.
 *
 * - Attempts beyond MAX_ATTEMPTS give up (this counts every path, recovery included, so nothing retries forever);
 *   suppressed recipients fail without a call; an email pinned to a provider that has since forgotten our id
 *   (Brevo keeps it 30 minutes) becomes `uncertain` instead of being asked again.
 * - Tenant send rates: one grant per tenant for its rows; rows without a permit are deferred (no attempt spent).
 *   Priority lanes: `high` rows come first in every grant, then `normal`; `bulk` rows are asked for apart (a batch of
 *   one lane holds only one kind, so this adds no RPC) and leave the bucket's reserve (src/services/pacing.ts).
 * - Providers, in rounds: a pinned email only ever goes to its pinned provider; any other starts at the provider its
 *   claim assigned and moves along its tenant's order past providers without credentials or with an open circuit.
 *   Permits are asked once per provider per round and handed out round-robin across tenants, so one tenant's flood
 *   cannot take another tenant's turn.
 * - The RateLimiter being unavailable defers the rows concerned (fail closed: no call without a permit).
 * - Attempts whose provider differs from the one their claim wrote are reassigned in one more D1 round trip before
 *   any call (only when a provider is unavailable or its circuit is open), so the provider of every call is durable
 *   before it is made.
 */
import { QUEUE_MAX_DELAY_SECONDS } from "../../config";
import { runBatch } from "../../db/client";
import { EMAIL_PRIORITIES, type EmailPriority } from "../../db/schema";
import { errorFields, log } from "../../lib/log";
import { reassignProvider } from "../../lifecycle/attempts";
import { PROVIDER_NAMES, type ProviderName, stillDeduplicates } from "../../providers/registry";
import { providerPolicy } from "../../services/pacing";
import { exhausted, retryOrFail } from "./decide";
import type { Attempt, Decision, SendConsumerDeps } from "./types";

/** How long rows wait when the RateLimiter cannot be asked. */
const LIMITER_DOWN_DELAY_SECONDS = 10;

export async function planAttempts(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	const now = deps.now();
	for (const a of attempts) {
		if (a.row.attempts > deps.config.maxAttempts) a.decision = exhausted(a, deps);
		else if (a.suppressed.length > 0) {
			a.decision = { kind: "failed", reason: `suppressed recipient: ${a.suppressed.join(", ")}`, provider: null };
		} else if (a.pinned && !stillDeduplicates(a.pinned, a.row, now)) {
			// Pinned because it may have been sent there, and the provider has since forgotten our id: asking again
			// could send it twice, so the reconciler decides.
			const message = `${a.pinned} no longer remembers this email's id: reconciling instead of asking again`;
			a.decision = { kind: "uncertain", provider: a.pinned, error: { kind: "uncertain", message } };
		}
	}
	await paceTenants(attempts.filter(undecided), deps);
	await assignProviders(attempts.filter(undecided), deps);
	await reassign(attempts, deps);
}

const undecided = (a: Attempt) => a.decision === null;

async function paceTenants(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	await Promise.all(
		[...groupBy(attempts, (a) => `${a.row.tenantId}:${isBulk(a)}`).values()].map(async (group) => {
			const rows = byPriority(group);
			const first = rows[0] as Attempt;
			const tenantId = first.row.tenantId;
			const rate = first.tenantRate;
			let granted: number;
			try {
				granted = (await deps.pacer.tenantPermits(tenantId, rate, rows.length, grantPriority(rows))).granted;
			} catch (e) {
				log.error("rate_limiter_unavailable", { scope: "tenant", tenantId, ...errorFields(e) });
				for (const a of rows) a.decision = limiterDown();
				return;
			}
			rows.slice(granted).forEach((a, k) => {
				a.decision = deferral(k, rate.per_second, "tenant send rate");
			});
		}),
	);
}

/** Provider rates and circuits, in rounds, so the rows of an open circuit move on to their next provider. */
async function assignProviders(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	const skipped = new Map<Attempt, Set<ProviderName>>();
	let waiting = attempts;
	for (let round = 0; waiting.length > 0 && round <= PROVIDER_NAMES.length; round++) {
		const byProvider = new Map<string, { name: ProviderName; rows: Attempt[] }>();
		for (const a of waiting) {
			const name = candidate(a, deps, skipped.get(a));
			if (name === null) a.decision = noProvider(a, deps, skipped.get(a));
			else {
				const key = `${name}:${isBulk(a)}`;
				const group = byProvider.get(key) ?? { name, rows: [] };
				group.rows.push(a);
				byProvider.set(key, group);
			}
		}
		const next: Attempt[] = [];
		await Promise.all(
			[...byProvider.values()].map(async ({ name, rows }) => {
				let grant: Awaited<ReturnType<SendConsumerDeps["pacer"]["providerPermits"]>>;
				try {
					grant = await deps.pacer.providerPermits(name, rows.length, grantPriority(rows));
				} catch (e) {
					log.error("rate_limiter_unavailable", { scope: "provider", provider: name, ...errorFields(e) });
					for (const a of rows) a.decision = limiterDown(name);
					return;
				}
				if (grant.circuit === "open") {
					for (const a of rows) {
						skipped.set(a, new Set([...(skipped.get(a) ?? []), name]));
						next.push(a);
					}
					return;
				}
				const rate = providerPolicy(deps.config, name).rate.per_second;
				byPriority(rows, roundRobinByTenant).forEach((a, k) => {
					if (k < grant.granted) a.provider = deps.providers(name);
					else a.decision = { ...deferral(k - grant.granted, rate, `${name} send rate`, grant.retryAfterMs), provider: name };
				});
			}),
		);
		waiting = next;
	}
	for (const a of waiting) a.decision ??= noProvider(a, deps, skipped.get(a));
}

/**
 * The provider this attempt should use now: its pinned one; else, from the provider its claim assigned, the first in
 * its tenant's order (wrapping around) that is configured and not skipped. Null when there is none.
 */
function candidate(a: Attempt, deps: SendConsumerDeps, skip: Set<ProviderName> | undefined): ProviderName | null {
	if (a.pinned) return skip?.has(a.pinned) || deps.providers(a.pinned) === null ? null : a.pinned;
	const start = Math.max(0, a.order.indexOf(a.row.provider as ProviderName));
	for (let step = 0; step < a.order.length; step++) {
		const name = a.order[(start + step) % a.order.length] as ProviderName;
		if (!skip?.has(name) && deps.providers(name) !== null) return name;
	}
	return null;
}

/** Every usable provider's circuit is open (wait, no attempt spent), or none can be called at all. */
function noProvider(a: Attempt, deps: SendConsumerDeps, skipped: Set<ProviderName> | undefined): Decision {
	if (skipped && skipped.size > 0) {
		return deferral(0, 1, "all provider circuits open", deps.config.circuitCoolDownMs);
	}
	if (a.pinned) {
		// It may have been sent there, and that provider can no longer be asked: only the reconciler may decide.
		return {
			kind: "uncertain",
			provider: a.pinned,
			error: { kind: "uncertain", message: `pinned provider ${a.pinned} is not configured` },
		};
	}
	const error = { kind: "transient" as const, message: `no configured provider among ${a.order.join(", ") || "(none)"}` };
	return retryOrFail(a, null, null, error, deps);
}

/** Writes the provider of attempts that will call another than their claim assigned; losers of a race are dropped. */
async function reassign(attempts: Attempt[], deps: SendConsumerDeps): Promise<void> {
	const moved = attempts.flatMap((a) =>
		a.decision === null && a.provider !== null && a.provider.name !== a.row.provider ? [{ a, name: a.provider.name }] : [],
	);
	if (moved.length === 0) return;
	const now = deps.now();
	let results: unknown[];
	try {
		results = await runBatch(
			deps.db,
			moved.map(({ a, name }) => reassignProvider(deps.db, a.ref, name, now)),
		);
	} catch (e) {
		log.error("send_reassign_failed", { count: moved.length, ...errorFields(e) });
		for (const { a } of moved) a.decision = { kind: "deferred", delaySeconds: 1, reason: "provider reassignment not recorded" };
		return;
	}
	moved.forEach(({ a }, i) => {
		if ((results[i] as unknown[]).length === 0) a.decision = { kind: "lost" };
	});
}

function limiterDown(provider?: ProviderName): Decision {
	return {
		kind: "deferred",
		delaySeconds: LIMITER_DOWN_DELAY_SECONDS,
		reason: "rate limiter unavailable",
		...(provider ? { provider } : {}),
	};
}

/** The k-th row over a limit waits until the bucket has had time to refill for it (at least a second). */
function deferral(k: number, perSecond: number, reason: string, retryAfterMs = 0): Extract<Decision, { kind: "deferred" }> {
	const delaySeconds = Math.min(QUEUE_MAX_DELAY_SECONDS, Math.max(1, Math.ceil(retryAfterMs / 1000), Math.ceil((k + 1) / perSecond)));
	return { kind: "deferred", delaySeconds, reason };
}

const isBulk = (a: Attempt) => a.row.priority === "bulk";

/** `high` rows first, then `normal`, then `bulk`; each kind ordered by `within` (as claimed by default). */
function byPriority(rows: Attempt[], within: (rows: Attempt[]) => Attempt[] = (r) => r): Attempt[] {
	return EMAIL_PRIORITIES.flatMap((p) => within(rows.filter((a) => a.row.priority === p)));
}

/** What a grant for these rows is asked as: `bulk` only when every row is (it then leaves the reserve). */
function grantPriority(rows: Attempt[]): EmailPriority {
	return rows.every(isBulk) ? "bulk" : "normal";
}

/** Rows reordered so tenants take turns: a, b, c, a, b, a, … */
function roundRobinByTenant(rows: Attempt[]): Attempt[] {
	const queues = [...groupBy(rows, (a) => a.row.tenantId).values()];
	const out: Attempt[] = [];
	for (let k = 0; out.length < rows.length; k++) for (const q of queues) if (k < q.length) out.push(q[k] as Attempt);
	return out;
}

function groupBy<K>(items: Attempt[], keyOf: (a: Attempt) => K): Map<K, Attempt[]> {
	const groups = new Map<K, Attempt[]>();
	for (const a of items) groups.set(keyOf(a), [...(groups.get(keyOf(a)) ?? []), a]);
	return groups;
}
