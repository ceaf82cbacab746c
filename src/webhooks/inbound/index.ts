/**
 * The inbound webhook adapters by provider name. The sandbox has none: its events are simulated in-process. The
 * route looks an adapter up by the provider segment of its path, verifies, parses, then records.
 */
import { isProviderName, type ProviderName } from "../../providers/catalog";
import { postmarkInbound } from "./postmark";
import { resendInbound } from "./resend";
import { sendgridInbound } from "./sendgrid";
import type { InboundWebhookAdapter } from "./types";

export const INBOUND_ADAPTERS: Partial<Record<ProviderName, InboundWebhookAdapter>> = {
	resend: resendInbound,
	sendgrid: sendgridInbound,
	postmark: postmarkInbound,
};

/**
 * The adapter for a provider name taken from a request; undefined for unknown names and providers without one.
 *
 * @example
 * const adapter = inboundAdapter(c.req.param("provider"));
 * if (!adapter) throw new ApiError("not_found", "Unknown provider");
 */
export function inboundAdapter(name: string): InboundWebhookAdapter | undefined {
	return isProviderName(name) ? INBOUND_ADAPTERS[name] : undefined;
}
