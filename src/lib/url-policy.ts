/**
 * The one policy for every URL Mailroom calls on a tenant's behalf: attachment `path` downloads and tenant webhook
 * endpoints. Checked when the URL is accepted and again before each request (and on each redirect), so a tenant
 * can never make Mailroom call into its own network, a cloud metadata service, or a non-web port.
 *
 * - `https:` only; no user name or password in the URL;
 * - a public host name: no IP literal in a private, loopback, link-local, CGNAT, benchmarking, documentation,
 *   multicast or reserved range (IPv4, IPv6, and IPv4 inside IPv6), no single-label name, no `localhost`, `.local`,
 *   `.internal`, `.localhost`, `.home.arpa`; a trailing dot is ignored (`localhost.` is `localhost`);
 * - port 443 or 8443.
 * With `allowInsecure` (ALLOW_HTTP_WEBHOOKS=true, for local work and tests) `http:`, loopback hosts and any port are
 * allowed too; everything else still applies.
 */

export type UrlPolicy = { allowInsecure: boolean };

/** Why `raw` may not be called, in words for an API error, or null when it may. */
export function urlProblem(raw: string, policy: UrlPolicy): string | null {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return "must be an absolute URL";
	}
	if (!/^https?:\/\//i.test(raw.trim())) return "must be an absolute http(s) URL with a host";
	const insecure = policy.allowInsecure;
	if (url.protocol !== "https:" && !(insecure && url.protocol === "http:"))
		return insecure ? "must be an http:// or https:// URL" : "must be an https:// URL";
	if (url.username !== "" || url.password !== "") return "must not contain a user name or password";
	const host = normalisedHost(url.hostname);
	if (host === "") return "must name a host";
	if (isLoopback(host)) return insecure ? null : "must be on a public host";
	if (isNonPublic(host)) return "must be on a public host";
	const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
	if (!insecure && port !== 443 && port !== 8443) return "must use port 443 or 8443";
	return null;
}

/** Lower case, without IPv6 brackets and without the trailing dot of a fully qualified name. */
function normalisedHost(hostname: string): string {
	return hostname
		.toLowerCase()
		.replace(/^\[|\]$/g, "")
		.replace(/\.+$/, "");
}

function isLoopback(host: string): boolean {
	if (host === "localhost" || host.endsWith(".localhost")) return true;
	const v4 = ipv4(host) ?? ipv4InIpv6(host);
	if (v4 !== null) return inRange(v4, [127, 0, 0, 0], 8);
	return host.includes(":") && expandIpv6(host)?.every((group, i) => group === (i === 7 ? 1 : 0)) === true;
}

/** IPv4 ranges that are not the public internet (RFC 6890 and friends). */
const PRIVATE_V4: [number[], number][] = [
	[[0, 0, 0, 0], 8], // "this network"
	[[10, 0, 0, 0], 8], // private
	[[100, 64, 0, 0], 10], // carrier-grade NAT
	[[127, 0, 0, 0], 8], // loopback
	[[169, 254, 0, 0], 16], // link-local (cloud metadata)
	[[172, 16, 0, 0], 12], // private
	[[192, 0, 0, 0], 24], // IETF protocol assignments
	[[192, 0, 2, 0], 24], // documentation
	[[192, 88, 99, 0], 24], // 6to4 relay
	[[192, 168, 0, 0], 16], // private
	[[198, 18, 0, 0], 15], // benchmarking
	[[198, 51, 100, 0], 24], // documentation
	[[203, 0, 113, 0], 24], // documentation
	[[224, 0, 0, 0], 4], // multicast
	[[240, 0, 0, 0], 4], // reserved, broadcast
];

const INTERNAL_SUFFIXES = [".local", ".internal", ".localhost", ".home.arpa", ".lan", ".intranet", ".corp"];

function isNonPublic(host: string): boolean {
	const v4 = ipv4(host) ?? ipv4InIpv6(host);
	if (v4 !== null) return PRIVATE_V4.some(([base, bits]) => inRange(v4, base, bits));
	if (host.includes(":")) {
		const groups = expandIpv6(host);
		if (groups === null) return true;
		const first = groups[0] ?? 0;
		if (groups.every((g) => g === 0)) return true; // unspecified
		if ((first & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
		if ((first & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
		if ((first & 0xff00) === 0xff00) return true; // multicast
		if (first === 0x2001 && groups[1] === 0x0db8) return true; // documentation
		if (first === 0x0064 && groups[1] === 0xff9b) return true; // NAT64, may reach private IPv4
		return first === 0x2002; // 6to4, may embed a private IPv4
	}
	if (/^\d+$/.test(host) || /^0x[0-9a-f]+$/i.test(host)) return true; // an IPv4 address written as one number
	if (!host.includes(".")) return true; // a single label resolves inside someone's network
	return INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix) || host === suffix.slice(1));
}

function ipv4(host: string): number[] | null {
	const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
	if (!m) return null;
	const parts = m.slice(1).map(Number);
	return parts.every((p) => p <= 255) ? parts : null;
}

/** The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible IPv6 address. */
function ipv4InIpv6(host: string): number[] | null {
	if (!host.includes(":")) return null;
	const groups = expandIpv6(host);
	if (groups === null) return null;
	const head = groups.slice(0, 5).every((g) => g === 0);
	if (!head || (groups[5] !== 0xffff && groups[5] !== 0)) return null;
	if (groups[5] === 0 && groups[6] === 0) return null; // ::1 and :: are not IPv4
	const [hi = 0, lo = 0] = groups.slice(6);
	return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

/** Eight 16-bit groups, or null when it is not an IPv6 address. */
function expandIpv6(host: string): number[] | null {
	let text = host.split("%")[0] ?? "";
	const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
	if (dotted) {
		const v4 = ipv4(dotted[1] ?? "");
		if (!v4) return null;
		text = `${text.slice(0, dotted.index)}${((v4[0] ?? 0) * 256 + (v4[1] ?? 0)).toString(16)}:${((v4[2] ?? 0) * 256 + (v4[3] ?? 0)).toString(16)}`;
	}
	const halves = text.split("::");
	if (halves.length > 2) return null;
	const parse = (part: string | undefined) =>
		part ? part.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN)) : [];
	const head = parse(halves[0]);
	const tail = parse(halves[1]);
	const missing = 8 - head.length - tail.length;
	if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
	const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
	return groups.every((g) => Number.isInteger(g)) ? groups : null;
}

function inRange(addr: number[], base: number[], bits: number): boolean {
	const value = (a: number[]) => (((a[0] ?? 0) << 24) | ((a[1] ?? 0) << 16) | ((a[2] ?? 0) << 8) | (a[3] ?? 0)) >>> 0;
	const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
	return (value(addr) & mask) === (value(base) & mask);
}

/** Redirects followed per request, each checked against the policy. */
export const MAX_REDIRECTS = 3;

/**
 * `fetch` under the policy: the URL and every redirect target are checked before they are requested; a redirect to a
 * URL the policy refuses ends the request with that reason (`blocked`).
 */
export async function fetchWithinPolicy(
	url: string,
	init: RequestInit,
	policy: UrlPolicy,
	fetcher: typeof fetch = fetch,
): Promise<{ ok: true; response: Response } | { ok: false; blocked: string }> {
	let current = url;
	for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
		const problem = urlProblem(current, policy);
		if (problem) return { ok: false, blocked: hop === 0 ? problem : `redirected to a URL that ${problem}` };
		const response = await fetcher(current, { ...init, redirect: "manual" });
		const location = response.headers.get("location");
		if (response.status < 300 || response.status >= 400 || location === null) return { ok: true, response };
		await response.body?.cancel().catch(() => undefined);
		current = new URL(location, current).href;
	}
	return { ok: false, blocked: `more than ${MAX_REDIRECTS} redirects` };
}
