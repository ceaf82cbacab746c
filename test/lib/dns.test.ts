import { describe, expect, it } from "vitest";
import { lookupTxt, txtValue } from "../../src/lib/dns";
import { normaliseDomainName } from "../../src/lib/domain-name";

describe("txtValue", () => {
	it.each([
		['"v=spf1 -all"', "v=spf1 -all"],
		['"abc" "def"', "abcdef"],
		['"say \\"hi\\""', 'say "hi"'],
		['"back\\\\slash"', "back\\slash"],
		['"caf\\195\\169"', "café"],
		["unquoted-value", "unquoted-value"],
		['""', ""],
	])("reads %s", (data, expected) => {
		expect(txtValue(data)).toBe(expected);
	});

	it.each([['"unterminated'], ['"a" b']])("refuses the malformed %s", (data) => {
		expect(txtValue(data)).toBeNull();
	});
});

describe("lookupTxt", () => {
	const resolver = (answer: () => Promise<Response>) => ({
		url: "https://doh.example/dns-query",
		timeoutMs: 1000,
		fetch: (async () => answer()) as typeof fetch,
	});

	it("asks for TXT records of the name in DoH JSON", async () => {
		let asked: { url: string; accept: string | null } | undefined;
		const found = await lookupTxt("example.com", {
			url: "https://doh.example/dns-query",
			timeoutMs: 1000,
			fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
				asked = { url: String(input), accept: new Headers(init?.headers).get("accept") };
				return Response.json({ Status: 0, Answer: [{ name: "example.com", type: 16, data: '"hello"' }] });
			}) as typeof fetch,
		});
		expect(asked).toEqual({ url: "https://doh.example/dns-query?name=example.com&type=TXT", accept: "application/dns-json" });
		expect(found).toEqual({ ok: true, value: ["hello"] });
	});

	it("skips a CNAME on the way to the TXT records", async () => {
		const found = await lookupTxt(
			"a.example.com",
			resolver(async () =>
				Response.json({
					Status: 0,
					Answer: [
						{ name: "a.example.com", type: 5, data: "b.example.com." },
						{ name: "b.example.com", type: 16, data: '"x"' },
					],
				}),
			),
		);
		expect(found).toEqual({ ok: true, value: ["x"] });
	});

	it("answers no records for NXDOMAIN and for NOERROR without an answer", async () => {
		expect(
			await lookupTxt(
				"x.example",
				resolver(async () => Response.json({ Status: 3 })),
			),
		).toEqual({ ok: true, value: [] });
		expect(
			await lookupTxt(
				"x.example",
				resolver(async () => Response.json({ Status: 0 })),
			),
		).toEqual({ ok: true, value: [] });
	});

	it.each([
		["SERVFAIL", async () => Response.json({ Status: 2 }), "unavailable"],
		["an HTTP 500", async () => new Response("oops", { status: 500 }), "unavailable"],
		["HTML", async () => new Response("<html></html>"), "garbage"],
		["JSON of another shape", async () => Response.json({ answers: [] }), "garbage"],
		["a malformed TXT string", async () => Response.json({ Status: 0, Answer: [{ name: "x", type: 16, data: '"open' }] }), "garbage"],
		[
			"a timeout",
			async () => {
				throw new DOMException("timed out", "TimeoutError");
			},
			"timeout",
		],
		[
			"a lost connection",
			async () => {
				throw new TypeError("Network connection lost.");
			},
			"unavailable",
		],
	])("reports %s as an error value, never a throw", async (_label, answer, kind) => {
		const found = await lookupTxt("x.example", resolver(answer));
		expect(found.ok).toBe(false);
		if (!found.ok) expect(found.error.kind).toBe(kind);
	});
});

describe("normaliseDomainName", () => {
	it.each([
		[" Mail.Acme.COM. ", "mail.acme.com"],
		["acme.co.uk", "acme.co.uk"],
		["acme.github.io", "acme.github.io"],
		["bücher.de", "xn--bcher-kva.de"],
	])("accepts %j as %s", (input, expected) => {
		expect(normaliseDomainName(input)).toEqual({ ok: true, value: expected });
	});

	it.each(["co.uk", "github.io", "com", "-acme.com", "acme..com", "a_b.example.com", `${"a".repeat(64)}.com`, "acme.local"])(
		"refuses %j",
		(input) => {
			expect(normaliseDomainName(input).ok).toBe(false);
		},
	);
});
