import { describe, expect, it, vi } from "vitest";
import { fetchWithinPolicy, urlProblem } from "../../src/lib/url-policy";
import { call, seedTenant } from "../helpers/api";

const STRICT = { allowInsecure: false };
const LOCAL = { allowInsecure: true };

describe("the URL policy", () => {
	it.each([
		"https://files.example.com/report.pdf",
		"HTTPS://files.example.com/report.pdf",
		"https://files.example.com:8443/report.pdf",
		"https://files.example.com./report.pdf",
		"https://[2606:4700::1111]/x",
		"https://8.8.8.8/x",
	])("allows %s", (url) => {
		expect(urlProblem(url, STRICT)).toBeNull();
	});

	it.each([
		["http://files.example.com/x", "https"],
		["https:x", "absolute"],
		["https:/files.example.com/x", "absolute"],
		["ftp://files.example.com/x", "absolute"],
		["https://user:pass@files.example.com/x", "user name"],
		["https://files.example.com:22/x", "port"],
		["https://files.example.com:8080/x", "port"],
		["https://localhost/x", "public"],
		["https://localhost./x", "public"],
		["https://api.localhost/x", "public"],
		["https://foo.local./x", "public"],
		["https://db.internal/x", "public"],
		["https://intranet/x", "public"],
		["https://127.0.0.1/x", "public"],
		["https://10.1.2.3/x", "public"],
		["https://172.16.0.1/x", "public"],
		["https://192.168.1.1/x", "public"],
		["https://169.254.169.254/latest/meta-data", "public"],
		["https://100.64.0.1/x", "public"],
		["https://198.18.0.1/x", "public"],
		["https://198.19.255.255/x", "public"],
		["https://224.0.0.1/x", "public"],
		["https://239.255.255.250/x", "public"],
		["https://255.255.255.255/x", "public"],
		["https://0.0.0.0/x", "public"],
		["https://2130706433/x", "public"],
		["https://0x7f000001/x", "public"],
		["https://[::1]/x", "public"],
		["https://[::]/x", "public"],
		["https://[fe80::1]/x", "public"],
		["https://[fd00::1]/x", "public"],
		["https://[ff02::1]/x", "public"],
		["https://[::ffff:127.0.0.1]/x", "public"],
		["https://[::ffff:169.254.169.254]/x", "public"],
	])("refuses %s (%s)", (url, why) => {
		expect(urlProblem(url, STRICT)).toContain(why);
	});

	it("allows http, loopback and any port for local work, and nothing else more", () => {
		expect(urlProblem("http://127.0.0.1:8795/x", LOCAL)).toBeNull();
		expect(urlProblem("http://localhost:3000/x", LOCAL)).toBeNull();
		expect(urlProblem("https://user:pass@127.0.0.1:8795/x", LOCAL)).toContain("user name");
		expect(urlProblem("http://169.254.169.254/x", LOCAL)).toContain("public");
		expect(urlProblem("http://10.0.0.5/x", LOCAL)).toContain("public");
	});

	it("refuses a redirect off the policy without requesting it", async () => {
		const fetcher = vi.fn(async (input: RequestInfo | URL) =>
			String(input).startsWith("https://files.example.com")
				? new Response(null, { status: 302, headers: { location: "https://169.254.169.254/latest" } })
				: new Response("secret"),
		);
		const result = await fetchWithinPolicy("https://files.example.com/a", {}, STRICT, fetcher as unknown as typeof fetch);
		expect(result).toEqual({ ok: false, blocked: expect.stringContaining("redirected to a URL that must be on a public host") });
		expect(fetcher).toHaveBeenCalledTimes(1);
	});

	it("follows a redirect within the policy", async () => {
		const fetcher = vi.fn(async (input: RequestInfo | URL) =>
			String(input) === "https://files.example.com/a"
				? new Response(null, { status: 301, headers: { location: "/b" } })
				: new Response("bytes", { status: 200 }),
		);
		const result = await fetchWithinPolicy("https://files.example.com/a", {}, STRICT, fetcher as unknown as typeof fetch);
		expect(result.ok && (await result.response.text())).toBe("bytes");
		expect(fetcher.mock.calls.map((c) => String(c[0]))).toEqual(["https://files.example.com/a", "https://files.example.com/b"]);
	});
});

describe("the URL policy at accept", () => {
	it.each(["https://user:pass@127.0.0.1:8795/a.pdf", "https://169.254.169.254/latest/meta-data", "https:x", "https://10.0.0.8/a.pdf"])(
		"refuses an attachment path %s with 422 invalid_attachment, writing nothing",
		async (path) => {
			const t = await seedTenant();
			const res = await call<{ name: string; message: string }>("POST", "/emails", {
				key: t.key,
				body: { from: `a@${t.domain}`, to: "u@example.org", subject: "s", text: "t", attachments: [{ path }] },
			});
			expect(res.status).toBe(422);
			expect(res.body).toMatchObject({ name: "invalid_attachment", message: expect.stringContaining("attachments[0].path") });
			expect((await call<{ data: unknown[] }>("GET", "/emails", { key: t.key })).body.data).toEqual([]);
		},
	);

	it.each(["https://user:pass@hooks.example.org/x", "https://169.254.169.254/x", "http://198.18.0.1/x"])(
		"refuses a webhook endpoint %s",
		async (endpoint) => {
			const t = await seedTenant();
			const res = await call<{ name: string }>("POST", "/webhooks", { key: t.key, body: { endpoint, events: ["email.sent"] } });
			expect(res.status).toBe(422);
			expect((await call<{ data: unknown[] }>("GET", "/webhooks", { key: t.key })).body.data).toEqual([]);
		},
	);
});
