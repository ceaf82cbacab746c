/**
 * Resend resources Mailroom does not offer answer one error, whatever the method: 404 `feature_not_offered` naming the
 * feature, so an SDK call fails clearly instead of with "not found" for the wrong reason (e.g. `/emails/receiving` read
 * as an email id). 404 rather than 501: nothing is wrong with the server and nothing is worth retrying (see errors.ts).
 * Listed here once; the README's API table marks the same resources as not offered.
 */
import { ApiError } from "../errors";
import { createRouter } from "./router";

export const NOT_OFFERED: readonly { paths: readonly string[]; feature: string }[] = [
	{ paths: ["/emails/receiving", "/emails/receiving/*"], feature: "receiving emails (inbound mail)" },
	{ paths: ["/emails/:id/share"], feature: "sharing emails through public links" },
	{ paths: ["/domains/claim", "/domains/:id/claim", "/domains/:id/claim/*"], feature: "domain claims" },
	{ paths: ["/contacts", "/contacts/*", "/contact-properties", "/contact-properties/*"], feature: "contacts" },
	{ paths: ["/audiences", "/audiences/*", "/segments", "/segments/*"], feature: "audiences and segments" },
	{ paths: ["/broadcasts", "/broadcasts/*"], feature: "broadcasts" },
	{ paths: ["/topics", "/topics/*"], feature: "topics (subscription preferences)" },
	{ paths: ["/automations", "/automations/*", "/events", "/events/*"], feature: "automations and their events" },
	{ paths: ["/inboxes", "/inboxes/*"], feature: "inboxes" },
	{ paths: ["/logs", "/logs/*"], feature: "API request logs" },
	{ paths: ["/oauth/grants", "/oauth/grants/*"], feature: "OAuth grants" },
];

export const notOfferedRoutes = createRouter();

for (const { paths, feature } of NOT_OFFERED) {
	for (const path of paths) {
		notOfferedRoutes.all(path, () => {
			throw new ApiError(
				"feature_not_offered",
				`Mailroom does not offer ${feature}: it implements Resend's sending API (emails, templates, domains, API keys, webhooks, suppressions, usage)`,
			);
		});
	}
}
