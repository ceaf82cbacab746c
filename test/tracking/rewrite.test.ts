import { describe, expect, it } from "vitest";
import { type RewriteOptions, rewriteForTracking } from "../../src/tracking/rewrite";
import { verifyToken } from "../../src/tracking/token";
import { linksOf, ORIGIN, SECRET, targetOf, tokenIn } from "./helpers";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f10";
const BOTH: RewriteOptions = { emailId: EMAIL_ID, origin: ORIGIN, open: true, click: true, secret: SECRET };

const rewrite = (html: string, options: Partial<RewriteOptions> = {}) => rewriteForTracking(html, { ...BOTH, ...options });

describe("click tracking", () => {
	it("points every http and https link at /t/c with its URL signed in the token", async () => {
		const html = await rewrite('<a href="https://acme.example.com/a">A</a> <a href="http://acme.example.com/b">B</a>');
		const { hrefs } = await linksOf(html);
		expect(hrefs.every((h) => h.startsWith(`${ORIGIN}/t/c/`))).toBe(true);
		expect(await Promise.all(hrefs.map((h) => targetOf(h)))).toEqual(["https://acme.example.com/a", "http://acme.example.com/b"]);
	});

	it("numbers the tracked links in document order", async () => {
		const html = await rewrite('<a href="https://a.example/1">1</a><a href="mailto:x@a.example">m</a><a href="https://a.example/2">2</a>');
		const tokens = (await linksOf(html)).hrefs.flatMap((h) => tokenIn(h, "c") ?? []);
		const indexes = await Promise.all(tokens.map(async (t) => (await verifyToken(SECRET, t, "click"))?.linkIndex));
		expect(indexes).toEqual([0, 1]);
	});

	it("decodes character references in href, so the redirect goes to the URL the recipient saw", async () => {
		const html = await rewrite('<a href="https://a.example/p?x=1&amp;y=2&#38;z=&quot;q&quot;">x</a>');
		const [href] = (await linksOf(html)).hrefs;
		expect(await targetOf(href ?? "")).toBe("https://a.example/p?x=1&y=2&z=%22q%22");
	});

	it("tracks a link whose scheme is written in capitals", async () => {
		const [href] = (await linksOf(await rewrite('<a href="HTTPS://A.example/Path">x</a>'))).hrefs;
		expect(await targetOf(href ?? "")).toBe("https://a.example/Path");
	});

	it.each([
		["mailto:", '<a href="mailto:help@acme.example.com">mail</a>', "mailto:help@acme.example.com"],
		["tel:", '<a href="tel:+15550100">call</a>', "tel:+15550100"],
		["javascript:", '<a href="javascript:alert(1)">js</a>', "javascript:alert(1)"],
		["an anchor", '<a href="#section">jump</a>', "#section"],
		["a relative link without <base>", '<a href="/account">account</a>', "/account"],
		["an empty href", '<a href="">nothing</a>', ""],
	])("leaves %s alone", async (_, html, href) => {
		expect((await linksOf(await rewrite(html))).hrefs).toEqual([href]);
	});

	it("resolves relative links against <base href>", async () => {
		const html = await rewrite(
			'<html><head><base href="https://acme.example.com/app/"></head><body><a href="settings?tab=1">s</a><a href="/root">r</a></body></html>',
		);
		const targets = await Promise.all((await linksOf(html)).hrefs.map((h) => targetOf(h)));
		expect(targets).toEqual(["https://acme.example.com/app/settings?tab=1", "https://acme.example.com/root"]);
	});

	it("ignores a <base> that is not an http(s) URL and leaves relative links alone", async () => {
		const html = await rewrite('<base href="ftp://files.example/"><a href="report.pdf">r</a>');
		expect((await linksOf(html)).hrefs).toEqual(["report.pdf"]);
	});

	it("leaves URLs in attributes other than an <a>'s href alone", async () => {
		const html =
			'<img src="https://cdn.example/logo.png" data-href="https://a.example/x"><a title="https://a.example/t" name="n">no href</a>' +
			'<div style="background:url(https://cdn.example/bg.png)" data-url="https://a.example/d">x</div>' +
			'<map><area href="https://a.example/area"></map>';
		const out = await rewrite(html, { open: false });
		expect(out).toBe(html);
	});

	it("leaves a link with data-mailroom-track=off as written, without the attribute", async () => {
		const out = await rewrite('<a href="https://a.example/private" data-mailroom-track="OFF">p</a>', { open: false });
		expect(out).toBe('<a href="https://a.example/private">p</a>');
	});

	it("removes data-mailroom-track from a link it tracks", async () => {
		const out = await rewrite('<a href="https://a.example/x" data-mailroom-track="on">x</a>', { open: false });
		expect(out).not.toContain("data-mailroom-track");
		expect(await targetOf((await linksOf(out)).hrefs[0] ?? "")).toBe("https://a.example/x");
	});

	it("honours SendGrid's clicktracking=off", async () => {
		const html = '<a clicktracking="off" href="https://a.example/x">x</a>';
		expect(await rewrite(html, { open: false })).toBe(html);
	});

	it("leaves links alone when only opens are tracked", async () => {
		const { hrefs } = await linksOf(await rewrite('<a href="https://a.example/x">x</a>', { click: false }));
		expect(hrefs).toEqual(["https://a.example/x"]);
	});

	it("leaves a link longer than a token may carry as written", async () => {
		const long = `https://a.example/${"x".repeat(5000)}`;
		expect((await linksOf(await rewrite(`<a href="${long}">x</a>`, { open: false }))).hrefs).toEqual([long]);
	});

	it("keeps the text around links byte for byte", async () => {
		const out = await rewrite('<p>Caf&eacute; &amp; <b>more</b> &lt;3 <a href="mailto:a@b.example">x</a></p>', { open: false });
		expect(out).toBe('<p>Caf&eacute; &amp; <b>more</b> &lt;3 <a href="mailto:a@b.example">x</a></p>');
	});
});

describe("open tracking", () => {
	it("adds one 1×1 pixel for the email just before </body>", async () => {
		const out = await rewrite("<html><body><p>Hi</p></body></html>", { click: false });
		expect(out).toMatch(/<p>Hi<\/p><img src="[^"]+" width="1" height="1" alt="" style="[^"]+"><\/body><\/html>$/);
		const [src] = (await linksOf(out)).images;
		const token = tokenIn(src ?? "", "o");
		expect(src?.startsWith(`${ORIGIN}/t/o/`)).toBe(true);
		expect(await verifyToken(SECRET, token ?? "", "open")).toEqual({ kind: "open", emailId: EMAIL_ID });
	});

	it("appends the pixel at the end of a document without </body>", async () => {
		const out = await rewrite("<p>Hi</p>", { click: false });
		expect(out.startsWith("<p>Hi</p><img ")).toBe(true);
		expect((await linksOf(out)).images).toHaveLength(1);
	});

	it("adds no pixel when only clicks are tracked", async () => {
		expect((await linksOf(await rewrite("<body><p>Hi</p></body>", { open: false }))).images).toEqual([]);
	});

	it("gives the same html when built twice (GET /emails/:id/raw shows what was sent)", async () => {
		const html = '<body><a href="https://a.example/x">x</a></body>';
		expect(await rewrite(html)).toBe(await rewrite(html));
	});
});
