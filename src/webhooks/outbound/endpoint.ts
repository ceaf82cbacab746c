/**
 * Which URLs may receive tenant webhooks (DESIGN §7): `https://` on a public host. Loopback, private, link-local
 * and internal names are refused so a tenant cannot make Mailroom call into its own network. With
 * ALLOW_HTTP_WEBHOOKS (local development and tests) `http://` and loopback hosts are allowed too.
 */

export function endpointProblem(raw: string, allowHttp: boolean): string | null {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return "endpoint must be an absolute URL";
	}
	if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) {
		return allowHttp ? "endpoint must be an http:// or https:// URL" : "endpoint must be an https:// URL";
	}
	if (url.username || url.password) return "endpoint must not contain credentials";
	const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
	if (isLoopback(host)) return allowHttp ? null : "endpoint must be on a public host";
	if (isPrivate(host)) return "endpoint must be on a public host";
	return null;
}

function isLoopback(host: string): boolean {
	return host === "localhost" || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1";
}

function isPrivate(host: string): boolean {
	if (/^(10|0)\.\d+\.\d+\.\d+$/.test(host)) return true;
	if (/^192\.168\.\d+\.\d+$/.test(host) || /^169\.254\.\d+\.\d+$/.test(host)) return true;
	const m = /^172\.(\d+)\.\d+\.\d+$/.exec(host);
	if (m && Number(m[1]) >= 16 && Number(m[1]) <= 31) return true;
	if (/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/.test(host)) return true; // carrier-grade NAT
	if (host.includes(":") && (/^f[cd]/.test(host) || /^fe80/.test(host) || host === "::")) return true;
	return host.endsWith(".local") || host.endsWith(".internal") || !host.includes(".");
}
