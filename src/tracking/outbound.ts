/**
 * The decision taken at send time, for each attempt and the provider it uses: the provider tracks (it is told the
 * email's settings where it takes them per message), or Mailroom does (the html is rewritten) — never both. Built
 * into the outbound email by src/services/outbound.ts.
 */
import type { EmailRow } from "../db/schema";
import { errorFields, log } from "../lib/log";
import { providerModule } from "../providers/registry";
import type { TrackingSettings } from "../providers/types";
import { rewriteForTracking } from "./rewrite";

export type OutboundTracking = {
	/** The provider this attempt sends through. */
	provider: string;
	/** TRACKING_SECRET, else ADMIN_TOKEN (src/config.ts). */
	secret: string;
};

/** The html to send and the tracking to ask of the provider, for `row` sent through `options.provider`. */
export async function trackedContent(
	row: Pick<EmailRow, "id" | "html" | "tracking">,
	options: OutboundTracking,
): Promise<{ html: string | null; tracking?: TrackingSettings }> {
	const settings = row.tracking;
	const own = providerModule(options.provider)?.tracking;
	if (own) {
		if (own.settings === "account") return { html: row.html };
		return { html: row.html, tracking: { open: settings?.open ?? false, click: settings?.click ?? false } };
	}
	if (settings === null || row.html === null) return { html: row.html };
	try {
		return {
			html: await rewriteForTracking(row.html, {
				emailId: row.id,
				origin: settings.origin,
				open: settings.open,
				click: settings.click,
				secret: options.secret,
			}),
		};
	} catch (e) {
		// Delivery matters more than measuring it: the email goes out as the tenant wrote it.
		log.error("tracking_rewrite_failed", { emailId: row.id, ...errorFields(e) });
		return { html: row.html };
	}
}
