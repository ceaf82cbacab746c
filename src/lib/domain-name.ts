/**
 * Sending-domain names as tenants give them: normalised (trimmed, lower case, no trailing dot, IDNs as punycode) and
 * checked to be a host name under a public suffix without being one. The Public Suffix List comes from `tldts`
 * (maintained, no dependencies, runs on Workers), private section included, so `co.uk` and `github.io` are refused
 * while `acme.co.uk` and `acme.github.io` are fine.
 */
import { parse } from "tldts";
import { err, ok, type Result } from "./result";

const HOST = /^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/**
 * The canonical form of `input`, or why it cannot be a sending domain.
 *
 * @example
 * normaliseDomainName(" Mail.Acme.COM. ") // ok("mail.acme.com")
 * normaliseDomainName("co.uk")            // err("co.uk is a public suffix …")
 */
export function normaliseDomainName(input: string): Result<string, string> {
	let name = input.trim().toLowerCase().replace(/\.$/, "");
	if (/[^\x20-\x7e]/.test(name)) {
		// An internationalised name: the URL parser applies IDNA (UTS 46) and gives its punycode form.
		try {
			name = new URL(`http://${name}`).hostname;
		} catch {
			return err(`${JSON.stringify(input)} is not a domain name`);
		}
	}
	if (!HOST.test(name)) {
		return err(`${JSON.stringify(input)} is not a domain name (letters, digits and hyphens in dot-separated labels, e.g. mail.acme.com)`);
	}
	const parsed = parse(name, { allowPrivateDomains: true });
	if (!parsed.isIcann && !parsed.isPrivate) return err(`${name} does not end in a public top-level domain`);
	if (parsed.publicSuffix === name || parsed.domain === null) {
		return err(`${name} is a public suffix (like com or co.uk): add a domain you own under it`);
	}
	return ok(name);
}
