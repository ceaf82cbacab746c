/** Reading what tracking put into an email's html: the tracked links' and the pixel's tokens, decoded. */

import { verifyToken } from "../../src/tracking/token";
import { ADMIN_TOKEN } from "../helpers/api";

/** The tests' tracking secret: no TRACKING_SECRET is set, so ADMIN_TOKEN signs. */
export const SECRET = ADMIN_TOKEN;
export const ORIGIN = "https://mail.example.net";

/** Every `href` of an `<a>` and every `src` of an `<img>`, in document order, read by the runtime's own parser. */
export async function linksOf(html: string): Promise<{ hrefs: string[]; images: string[] }> {
	const hrefs: string[] = [];
	const images: string[] = [];
	await new HTMLRewriter()
		.on("a", { element: (e) => void hrefs.push(e.getAttribute("href") ?? "") })
		.on("img", { element: (e) => void images.push(e.getAttribute("src") ?? "") })
		.transform(new Response(html))
		.text();
	return { hrefs, images };
}

/** The token of a `/t/c/…` or `/t/o/…` URL, or null when the URL is not one. */
export function tokenIn(url: string, kind: "c" | "o"): string | null {
	const match = new RegExp(`/t/${kind}/([A-Za-z0-9_-]+)$`).exec(url);
	return match?.[1] ?? null;
}

/** Where a tracked link leads (its signed URL), or null when it is not a valid tracked link. */
export async function targetOf(href: string, secret = SECRET): Promise<string | null> {
	const token = tokenIn(href, "c");
	return token === null ? null : ((await verifyToken(secret, token, "click"))?.url ?? null);
}
