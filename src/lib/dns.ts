/**
 * TXT lookups over DNS-over-HTTPS in the JSON form Cloudflare and Google serve (`GET <resolver>?name=…&type=TXT` with
 * `accept: application/dns-json`; https://developers.cloudflare.com/1.1.1.1/encryption/dns-over-https/make-api-requests/dns-json/).
 * A Worker has no resolver API of its own, and one GET with a zod-checked answer needs no library.
 *
 * What a caller can tell apart: the name has TXT records (their texts), it has none or does not exist (an empty list:
 * nothing was published yet), or the resolver could not say (timeout, HTTP error, SERVFAIL, an answer that is not DoH
 * JSON): an error value, never an exception.
 */
import { z } from "zod";
import { err, ok, type Result } from "./result";

export type DnsLookupError = { kind: "timeout" | "unavailable" | "garbage"; message: string };

export type DnsResolver = { url: string; timeoutMs: number; fetch?: typeof fetch };

/** RFC 1035 TYPE of TXT. */
const TXT = 16;
/** RCODEs: NOERROR and NXDOMAIN are answers; anything else (SERVFAIL, REFUSED…) means the resolver could not say. */
const NOERROR = 0;
const NXDOMAIN = 3;

const DohAnswer = z.object({
	Status: z.number().int(),
	Answer: z.array(z.object({ name: z.string(), type: z.number().int(), data: z.string() })).optional(),
});

/**
 * The TXT strings published at `name` (each record's character-strings joined, as DNS defines a TXT value).
 *
 * @example
 * const found = await lookupTxt("example.com", { url: "https://cloudflare-dns.com/dns-query", timeoutMs: 5000 });
 * if (found.ok) found.value; // ["v=spf1 -all", "mailroom-verification=…"]
 */
export async function lookupTxt(name: string, resolver: DnsResolver): Promise<Result<string[], DnsLookupError>> {
	const url = new URL(resolver.url);
	url.searchParams.set("name", name);
	url.searchParams.set("type", "TXT");
	let response: Response;
	try {
		response = await (resolver.fetch ?? fetch)(url.toString(), {
			headers: { accept: "application/dns-json" },
			signal: AbortSignal.timeout(resolver.timeoutMs),
		});
	} catch (e) {
		const name = e instanceof Error ? e.name : "";
		if (name === "TimeoutError" || name === "AbortError") {
			return err({ kind: "timeout", message: `the DNS resolver did not answer within ${resolver.timeoutMs} ms` });
		}
		return err({ kind: "unavailable", message: `the DNS resolver could not be reached (${e instanceof Error ? e.message : String(e)})` });
	}
	if (!response.ok) {
		await response.body?.cancel();
		return err({ kind: "unavailable", message: `the DNS resolver answered HTTP ${response.status}` });
	}
	let body: unknown;
	try {
		body = await response.json();
	} catch {
		return err({ kind: "garbage", message: "the DNS resolver's answer is not JSON" });
	}
	const parsed = DohAnswer.safeParse(body);
	if (!parsed.success) return err({ kind: "garbage", message: "the DNS resolver's answer is not a DNS-over-HTTPS JSON answer" });
	const { Status, Answer = [] } = parsed.data;
	if (Status === NXDOMAIN) return ok([]);
	if (Status !== NOERROR) return err({ kind: "unavailable", message: `the DNS resolver answered RCODE ${Status} (e.g. SERVFAIL)` });
	const texts: string[] = [];
	for (const answer of Answer) {
		if (answer.type !== TXT) continue; // a CNAME on the way to the TXT records
		const text = txtValue(answer.data);
		if (text === null) return err({ kind: "garbage", message: "the DNS resolver returned a malformed TXT record" });
		texts.push(text);
	}
	return ok(texts);
}

/**
 * A TXT record's value from its presentation form: one or more quoted character-strings (`"abc" "def"` → `abcdef`),
 * with `\"`, `\\` and `\DDD` (a byte, in decimal) escapes, read as UTF-8. Some resolvers send a single unquoted string:
 * taken as is. Null if malformed.
 */
export function txtValue(data: string): string | null {
	const text = data.trim();
	if (!text.startsWith('"')) return text;
	const bytes: number[] = [];
	const push = (s: string) => bytes.push(...encoder.encode(s));
	let i = 0;
	while (i < text.length) {
		if (text[i] === " ") {
			i += 1;
			continue;
		}
		if (text[i] !== '"') return null;
		i += 1;
		let closed = false;
		while (i < text.length) {
			const c = text[i] as string;
			if (c === '"') {
				closed = true;
				i += 1;
				break;
			}
			if (c === "\\") {
				const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
				if (digits) {
					bytes.push(Number(digits[0]) & 0xff);
					i += 4;
				} else {
					push(text[i + 1] ?? "");
					i += 2;
				}
				continue;
			}
			push(c);
			i += 1;
		}
		if (!closed) return null;
	}
	return new TextDecoder().decode(new Uint8Array(bytes));
}

const encoder = new TextEncoder();
