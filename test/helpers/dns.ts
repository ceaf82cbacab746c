/**
 * A fake DNS-over-HTTPS resolver at the network boundary: `fetch` calls to the configured resolver (Cloudflare's JSON
 * endpoint by default) are answered from a table, every other request goes out as usual. Answers are shaped as
 * cloudflare-dns.com writes them (TXT data in presentation form, quoted).
 */
import { vi } from "vitest";
import { call, type Seeded } from "./api";

export const RESOLVER_HOST = "cloudflare-dns.com";

/** What the resolver says about a name: its TXT texts, or a failure. */
export type DohAnswer = string[] | { rcode: number } | "timeout" | "unreachable" | "garbage" | { http: number } | { raw: string };

export function fakeDoh(table: Record<string, DohAnswer> = {}) {
	const realFetch = globalThis.fetch;
	const asked: string[] = [];
	const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const url = new URL(input instanceof Request ? input.url : String(input));
		if (url.hostname !== RESOLVER_HOST) return realFetch(input, init);
		const name = url.searchParams.get("name") ?? "";
		asked.push(name);
		const answer = table[name] ?? [];
		if (answer === "timeout") throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
		if (answer === "unreachable") throw new TypeError("Network connection lost.");
		if (answer === "garbage") return new Response("<html>not dns</html>", { headers: { "content-type": "text/html" } });
		if ("http" in answer) return new Response("busy", { status: answer.http });
		if ("raw" in answer) return new Response(answer.raw, { headers: { "content-type": "application/dns-json" } });
		const question = [{ name, type: 16 }];
		if ("rcode" in answer)
			return Response.json({ Status: answer.rcode, Question: question }, { headers: { "content-type": "application/dns-json" } });
		return Response.json(
			{
				Status: 0,
				TC: false,
				RD: true,
				RA: true,
				AD: false,
				CD: false,
				Question: question,
				Answer: answer.map((text) => ({ name, type: 16, TTL: 300, data: JSON.stringify(text) })),
			},
			{ headers: { "content-type": "application/dns-json" } },
		);
	});
	return {
		/** Names the resolver was asked about, in order. */
		asked,
		/** Publishes (or replaces) what a name answers. */
		set(name: string, answer: DohAnswer) {
			table[name] = answer;
		},
		spy,
	};
}

export type DomainBody = {
	id: string;
	name: string;
	status: string;
	records: { record: string; name: string; type: string; value: string; status: string; provider: string | null }[];
};

/** Adds `name` for the tenant, publishes its ownership record in a fake resolver and verifies it; returns the domain. */
export async function verifiedDomain(t: Seeded, name: string): Promise<DomainBody> {
	const created = await call<DomainBody>("POST", "/domains", { key: t.key, body: { name } });
	if (created.status !== 201) throw new Error(`create domain failed: ${created.status} ${JSON.stringify(created.body)}`);
	const ownership = created.body.records.find((r) => r.record === "Verification");
	const doh = fakeDoh({ [name]: [ownership?.value ?? ""] });
	const verified = await call<{ status: string }>("POST", `/domains/${created.body.id}/verify`, { key: t.key });
	doh.spy.mockRestore();
	if (verified.body.status !== "verified") throw new Error(`verify failed: ${JSON.stringify(verified.body)}`);
	return { ...created.body, status: "verified" };
}
