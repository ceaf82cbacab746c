/**
 * Who may send from which domain (docs/architecture.md, "Domains"): a tenant sends from its verified domains and from
 * the operator's `allowed_from_domains` (pre-verified), each with its subdomains. A key restricted to one domain
 * (Resend's `domain_id`) sends from that domain and its subdomains only, and only while it is verified.
 *
 * Everything here comes from the authentication query (the key, its tenant and the tenant's verified domains), so
 * checking a sender costs no D1 round trip.
 */
import type { AuthContext } from "../context";
import type { VerifiedDomain } from "../db/tenants";
import { ApiError } from "../errors";
import { domainOf, isDomainAllowed, parseMailbox } from "../lib/address";

export type SenderRules = {
	/** The operator's override (`allowed_from_domains`): pre-verified. */
	operatorDomains: readonly string[];
	verifiedDomains: readonly VerifiedDomain[];
	/** Set for a key restricted to one domain. */
	keyDomainId: string | null;
};

export function senderRulesOf(auth: AuthContext): SenderRules {
	return { operatorDomains: auth.tenant.allowedFromDomains, verifiedDomains: auth.verifiedDomains, keyDomainId: auth.keyDomainId };
}

/**
 * The error for a `from` the tenant (or this key) may not use, naming the domain and what to do; undefined when allowed.
 *
 * @example
 * const refused = senderRefusal("Acme <a@news.acme.com>", rules); // undefined when acme.com is verified
 */
export function senderRefusal(from: string, rules: SenderRules): ApiError | undefined {
	const mailbox = parseMailbox(from);
	if (!mailbox) return new ApiError("invalid_from_address", `Invalid from address: ${JSON.stringify(from)}`);
	const domain = domainOf(mailbox.address);
	if (rules.keyDomainId !== null) {
		const own = rules.verifiedDomains.find((d) => d.id === rules.keyDomainId);
		if (!own) {
			return new ApiError(
				"invalid_from_address",
				`This API key may only send from domain ${rules.keyDomainId}, which is not verified: verify it with POST /domains/${rules.keyDomainId}/verify`,
			);
		}
		if (!isDomainAllowed(domain, [own.name])) {
			return new ApiError(
				"invalid_from_address",
				`This API key may only send from ${own.name} and its subdomains, not ${domain}: use another key or another from address`,
			);
		}
		return undefined;
	}
	if (isDomainAllowed(domain, [...rules.operatorDomains, ...rules.verifiedDomains.map((d) => d.name)])) return undefined;
	return new ApiError(
		"invalid_from_address",
		`The ${domain} domain is not verified. Add it with POST /domains, publish the TXT record it lists, then call POST /domains/{id}/verify (or send from a verified domain)`,
	);
}
