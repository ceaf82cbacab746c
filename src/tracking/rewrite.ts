/**
 * Rewrites an email's html for the tracking Mailroom does itself (README "Tracking"), with the Workers runtime's
 * streaming HTML parser (`HTMLRewriter`, lol-html), never regular expressions:
 *
 * - Clicks: the `href` of every `<a>` whose target is an absolute `http(s)` URL — or a relative one when the document
 *   has a `<base href>` with such a URL, resolved against it — becomes `<origin>/t/c/<token>`, the token carrying the
 *   target (src/tracking/token.ts). Attribute values are read with their character references decoded (`&amp;`),
 *   since `HTMLRewriter` hands them over raw. Left alone: `mailto:`, `tel:` and every other scheme, `#fragment` links,
 *   relative links without a usable `<base>`, URLs in any attribute but an `<a>`'s `href` (images, `<area>`, styles,
 *   `data-*`), links past MAX_TRACKED_LINKS or longer than MAX_TRACKED_URL_BYTES, and links that opt out with
 *   `data-mailroom-track="off"` (which is then removed) or SendGrid's `clicktracking="off"` (kept). The
 *   `List-Unsubscribe` header and the text part are never touched: only the html passes through here.
 * - Opens: a 1×1 `<img>` to `<origin>/t/o/<token>` just before `</body>`, or at the end of the document when it has
 *   no `</body>`.
 *
 * Tokens are deterministic, so building the same email again (`GET /emails/:id/raw`) gives the same html.
 */
import { decodeHTMLAttribute } from "entities/decode";
import { isTrackableUrl, MAX_TRACKED_LINKS, signToken } from "./token";

export type RewriteOptions = {
	emailId: string;
	/** Where `/t/o` and `/t/c` are served, without a trailing slash. */
	origin: string;
	open: boolean;
	click: boolean;
	/** TRACKING_SECRET or ADMIN_TOKEN (src/config.ts). */
	secret: string;
};

/** Mailroom's per-link opt-out attribute; `off` (any case) opts out. */
export const OPT_OUT_ATTRIBUTE = "data-mailroom-track";
/** SendGrid's per-link opt-out, honoured as well (tenants moving from SendGrid keep their markup). */
const FOREIGN_OPT_OUT_ATTRIBUTE = "clicktracking";

export async function rewriteForTracking(html: string, options: RewriteOptions): Promise<string> {
	const { emailId, origin, secret } = options;
	let base: URL | null = null;
	let links = 0;
	let pixelPlaced = false;
	const pixel = async (): Promise<string> => {
		const token = await signToken(secret, { kind: "open", emailId });
		return `<img src="${origin}/t/o/${token}" width="1" height="1" alt="" style="width:1px;height:1px;border:0;margin:0;padding:0">`;
	};

	let rewriter = new HTMLRewriter()
		.on("base[href]", {
			element(element) {
				if (base !== null) return;
				const href = decodeHTMLAttribute(element.getAttribute("href") ?? "").trim();
				if (isTrackableUrl(href)) base = new URL(href);
			},
		})
		.on("a[href]", {
			async element(element) {
				const optOut = element.getAttribute(OPT_OUT_ATTRIBUTE);
				if (optOut !== null) element.removeAttribute(OPT_OUT_ATTRIBUTE);
				if (!options.click || optOut?.trim().toLowerCase() === "off") return;
				if (element.getAttribute(FOREIGN_OPT_OUT_ATTRIBUTE)?.trim().toLowerCase() === "off") return;
				const target = targetOf(element.getAttribute("href") ?? "", base);
				if (target === null || links >= MAX_TRACKED_LINKS) return;
				const token = await signToken(secret, { kind: "click", emailId, linkIndex: links, url: target });
				if (token === null) return;
				links += 1;
				element.setAttribute("href", `${origin}/t/c/${token}`);
			},
		});
	if (options.open) {
		rewriter = rewriter
			.on("body", {
				element(element) {
					element.onEndTag(async (end) => {
						if (pixelPlaced) return;
						pixelPlaced = true;
						end.before(await pixel(), { html: true });
					});
				},
			})
			.onDocument({
				async end(end) {
					if (!pixelPlaced) end.append(await pixel(), { html: true });
				},
			});
	}
	return rewriter.transform(new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } })).text();
}

/** The absolute http(s) URL a raw `href` value leads to, or null when it is not a link to track. */
function targetOf(raw: string, base: URL | null): string | null {
	const href = decodeHTMLAttribute(raw).trim();
	if (href === "" || href.startsWith("#")) return null;
	if (isTrackableUrl(href)) return new URL(href).href;
	// Relative (no scheme): only with a base. Any other scheme (mailto:, tel:, javascript:, data:) stays as it is.
	if (base === null || /^[a-z][a-z0-9+.-]*:/i.test(href)) return null;
	const resolved = URL.parse(href, base.href);
	return resolved && isTrackableUrl(resolved.href) ? resolved.href : null;
}
