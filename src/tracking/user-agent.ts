/**
 * Who fetched a tracking pixel or followed a tracked link, as far as the user agent tells, in a few classes. Only the
 * class is kept (README "Tracking", privacy): never the user agent string, never the IP address.
 *
 * Heuristics, as the hosted providers apply them:
 * - `apple_mail_proxy`: Apple Mail Privacy Protection fetches every image through Apple's proxy when the message
 *   arrives, whether or not anyone reads it, with the user agent `Mozilla/5.0` and nothing after it. A machine.
 *   (Apple's egress IP ranges are not consulted: the user agent alone is the documented tell, and the ranges
 *   change.)
 * - `gmail_proxy` (`GoogleImageProxy`) and `yahoo_proxy` (`YahooMailProxy`): these fetch an image when the
 *   recipient opens the message, then cache it, so the first open is a person's and later ones are not seen.
 *   Counted as human.
 * - `scanner`: security gateways, link checkers, crawlers and HTTP libraries that name themselves. A machine.
 * - `mail_client` (Outlook, Thunderbird…), `browser` (a `Mozilla/5.0 (…)` user agent with its tokens), `other`
 *   (anything else that names itself) and `unknown` (no user agent): counted as human.
 */

export const USER_AGENT_CLASSES = [
	"browser",
	"mail_client",
	"gmail_proxy",
	"yahoo_proxy",
	"apple_mail_proxy",
	"scanner",
	"other",
	"unknown",
] as const;
export type UserAgentClass = (typeof USER_AGENT_CLASSES)[number];

const MACHINE_CLASSES: ReadonlySet<UserAgentClass> = new Set(["apple_mail_proxy", "scanner"]);

/**
 * Names that security scanners, link checkers, preview bots and HTTP libraries give themselves. Bots by `…bot/`,
 * `…bot-`, a lone `bot` word or a `+http…` info link, so that a phone named CUBOT is not one.
 */
const SCANNER =
	/[a-z]bot\/|bot-|\bbot\b|\+https?:|telegrambot|facebookexternalhit|crawler|spider|scanner|preview|barracuda|mimecast|proofpoint|symantec|messagelabs|trend ?micro|fortiguard|forcepoint|sophos|safelinks|linkscan|urldefense|cisco|ironport|zscaler|headless|phantomjs|python|curl\/|wget|go-http-client|java\/|okhttp|axios|node-fetch|undici|libwww|httpclient|guzzle|ruby|scrapy|zgrab|masscan/i;
const MAIL_CLIENT = /microsoft outlook|ms-office|outlook-|thunderbird|airmail|spark\/|postbox|mailbird|em client|apple ?mail/i;

export function classifyUserAgent(userAgent: string | null | undefined): UserAgentClass {
	const ua = (userAgent ?? "").trim();
	if (ua === "") return "unknown";
	if (ua === "Mozilla/5.0") return "apple_mail_proxy";
	if (/GoogleImageProxy/i.test(ua)) return "gmail_proxy";
	if (/YahooMailProxy/i.test(ua)) return "yahoo_proxy";
	if (SCANNER.test(ua)) return "scanner";
	if (MAIL_CLIENT.test(ua)) return "mail_client";
	if (/^Mozilla\/5\.0 \(/.test(ua)) return "browser";
	return "other";
}

/** Whether a hit from this class is a machine's, never a person's. */
export function isMachineClass(userAgentClass: UserAgentClass): boolean {
	return MACHINE_CLASSES.has(userAgentClass);
}
