/**
 * Which of opens and clicks an email tracks, decided once when it is accepted and stored on its row
 * (`emails.tracking`): the request's own `tracking` (Mailroom extension) for each of the two, else the settings of
 * its sending domain — the verified domain the from address is on, or the closest verified parent of it — else off.
 * Sending from a domain the operator allowed (`allowed_from_domains`) without verifying it tracks nothing unless the
 * request asks. Deciding at accept keeps the send consumer free of a domain read, and a domain's change applies to
 * emails accepted after it.
 */
import type { EmailTracking } from "../db/schema";
import type { VerifiedDomain } from "../db/tenants";
import { domainOf, isDomainAllowed, parseMailbox } from "../lib/address";

/** The request's override: each given field wins over the domain's setting. */
export type TrackingOverride = { open?: boolean | undefined; click?: boolean | undefined };

/**
 * @example
 * resolveTracking("Acme <a@news.acme.com>", undefined, [{ id, name: "acme.com", openTracking: true, clickTracking: false }], origin)
 * // { open: true, click: false, origin }
 */
export function resolveTracking(
	from: string,
	override: TrackingOverride | undefined,
	domains: readonly VerifiedDomain[],
	origin: string,
): EmailTracking | null {
	const address = parseMailbox(from)?.address;
	const sending = address === undefined ? undefined : sendingDomain(domainOf(address), domains);
	const open = override?.open ?? sending?.openTracking ?? false;
	const click = override?.click ?? sending?.clickTracking ?? false;
	return open || click ? { open, click, origin } : null;
}

/** The verified domain `domain` is, or its closest verified parent (news.acme.com before acme.com). */
function sendingDomain(domain: string, domains: readonly VerifiedDomain[]): VerifiedDomain | undefined {
	return domains.filter((d) => isDomainAllowed(domain, [d.name])).sort((a, b) => b.name.length - a.name.length)[0];
}
