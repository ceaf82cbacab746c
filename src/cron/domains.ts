/**
 * Every five minutes: look again for the ownership TXT record of pending domains whose next check is due (at most
 * `DOMAIN_LIMITS.recheckBatch` per run, with the backoff of src/services/domains.ts). Conditional writes: a domain
 * verified meanwhile is left as it is, so two runs at once cannot undo each other.
 */
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { DOMAIN_LIMITS, recheckDueDomains } from "../services/domains";

export async function verifyPendingDomains(env: Env, now: number): Promise<Record<string, number>> {
	return recheckDueDomains({
		db: getDb(env.DB),
		resolver: { url: getConfig(env).dnsResolverUrl, timeoutMs: DOMAIN_LIMITS.dnsTimeoutMs },
		now,
	});
}
