/**
 * Amazon SES v2 (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html): SigV4-signed `SendEmail`
 * with our id as the `mailroom_id` email tag; events from a configuration set's SNS event destination, verified as SNS
 * signs them (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html). SES has no idempotency
 * key and no lookup Mailroom can use. A new production account may send 14 emails a second
 * (https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html): that is the default rate, which its
 * throttling answers adapt; raise it with PROVIDER_RATES to the account's quota.
 */
import type { ProviderModule } from "../types";
import { createSesProvider } from "./client";
import { sesInbound } from "./webhook";

export const ses = {
	name: "ses",
	title: "Amazon SES",
	requiredSettings: ["SES_REGION", "SES_ACCESS_KEY_ID", "SES_SECRET_ACCESS_KEY"],
	optionalSettings: { SES_BASE_URL: "https://email.<SES_REGION>.amazonaws.com", SES_CONFIGURATION_SET: "" },
	defaultRate: { per_second: 14, burst: 14 },
	deduplicatesById: false,
	create: (settings, { timeoutMs }) => {
		const region = settings.SES_REGION ?? "";
		return createSesProvider({
			region,
			accessKeyId: settings.SES_ACCESS_KEY_ID ?? "",
			secretAccessKey: settings.SES_SECRET_ACCESS_KEY ?? "",
			baseUrl: settings.SES_BASE_URL ?? `https://email.${region}.amazonaws.com`,
			...(settings.SES_CONFIGURATION_SET !== undefined && { configurationSet: settings.SES_CONFIGURATION_SET }),
			timeoutMs,
		});
	},
	webhook: sesInbound,
	tracking: {
		settings: "message",
		how: "`ConfigurationOverrides.Tracking` (`OpenTrackingEnabled`, `ClickTrackingEnabled`: `ENABLED`/`DISABLED`) in each request (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_TrackingConfigurationOverrides.html); the Open and Click events reach Mailroom only through a configuration set (SES_CONFIGURATION_SET) whose SNS event destination includes them. Per-link opt-out: `ses:no-track`.",
	},
	noLookup:
		"SES cannot be asked about one email by our id (GetMessageInsights needs the Virtual Deliverability Manager and SES's own id): an uncertain SES send is resolved by its SNS events (Send, Delivery, Bounce…), and one that gets none ends failed with reason unresolved_at_provider after UNRESOLVED_AFTER_SECONDS (a day), visible, with a dead letter an operator may replay.",
} as const satisfies ProviderModule<"ses">;
