import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";

const SHELL = '<!doctype html><title>Mailroom console</title><div id="app"></div>';

/** The Worker with an assets binding that holds only the console's index (the real one is tested in e2e/console). */
async function fetchWithAssets(path: string, assets: Record<string, string> = { "/console/": SHELL }) {
	const seen: string[] = [];
	const ASSETS = {
		fetch: async (input: RequestInfo | URL) => {
			const url = new URL(input instanceof Request ? input.url : String(input));
			seen.push(url.pathname);
			const body = assets[url.pathname];
			return body === undefined
				? new Response("Not Found", { status: 404 })
				: new Response(body, { headers: { "content-type": "text/html" } });
		},
		connect: () => {
			throw new Error("not used");
		},
	} as unknown as Fetcher;
	const res = await createApp().fetch(new Request(`http://mailroom.test${path}`), { ...env, ASSETS });
	return { res, seen };
}

describe("/console", () => {
	it("answers a deep link into the console with the app shell", async () => {
		const { res, seen } = await fetchWithAssets("/console/emails/0190a3c4-0000-7000-8000-000000000000");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("text/html");
		expect(await res.text()).toBe(SHELL);
		expect(seen).toEqual(["/console/"]);
	});

	it("answers 404 for a missing file instead of the shell", async () => {
		const { res, seen } = await fetchWithAssets("/console/assets/index-old.js");
		expect(res.status).toBe(404);
		expect(await res.json()).toEqual({ statusCode: 404, name: "not_found", message: "File not found" });
		expect(seen).toEqual([]);
	});

	it("says how to build the console when it is not built", async () => {
		const { res } = await fetchWithAssets("/console/emails", {});
		expect(res.status).toBe(404);
		expect(((await res.json()) as { message: string }).message).toContain("npm run build:console");
	});

	it("redirects /console to /console/", async () => {
		const res = await exports.default.fetch("http://mailroom.test/console", { redirect: "manual" });
		expect(res.status).toBe(308);
		expect(res.headers.get("location")).toBe("/console/");
	});
});
