import { mailgun } from "../../../src/providers/mailgun";
import { describeProviderContract } from "../../contract/provider-contract";
import { mailgunEventData, mailgunWebhook } from "../../helpers/mailgun";
import { json } from "../../helpers/send";

const SIGNING_KEY = "key-contract-0123456789abcdef";
const MESSAGE_ID = "20261122091500.1.ABCDEF0123456789@mg.acme.example.com";

/** Fields making each mapped event what the suite expects (a permanent bounce for `failed`). */
const FIELDS: Record<string, Record<string, unknown>> = {
	failed: { severity: "permanent", reason: "bounce", "delivery-status": { code: 550, message: "5.1.1 No such user" } },
	rejected: { reject: { reason: "Sandbox subdomains are for test purposes only" } },
	clicked: { url: "https://acme.example.com/receipt" },
};

describeProviderContract({
	module: mailgun,
	settings: { MAILGUN_API_KEY: "key-contract", MAILGUN_DOMAIN: "mg.acme.example.com", MAILGUN_BASE_URL: "https://mailgun.test" },
	answers: {
		accepted: () => json(200, { id: `<${MESSAGE_ID}>`, message: "Queued. Thank you." }),
		acceptedId: MESSAGE_ID,
		rateLimited: () =>
			json(429, {
				message: "Domain mg.acme.example.com is not allowed to send: account-requests-per-sec limit exceeded, try again after 120 seconds",
			}),
		retryAfterSeconds: 120,
		status: (status) => json(status, { message: "Internal Server Error" }),
		authFailure: () => new Response("Forbidden", { status: 401 }),
		garbage: {
			"HTML with 200": () => new Response("<html>ok</html>", { status: 200 }),
			"empty 200": () => new Response(null, { status: 200 }),
			"200 with an empty id": () => json(200, { id: "<>", message: "Queued. Thank you." }),
			"truncated JSON 400": () => new Response('{"message":', { status: 400 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => ({
		settings: { MAILGUN_WEBHOOK_SIGNING_KEY: SIGNING_KEY },
		request: (event, { emailId, providerMessageId, now }) =>
			mailgunWebhook(SIGNING_KEY, mailgunEventData(event, { emailId, messageId: providerMessageId, at: now }, FIELDS[event]), { now }),
	}),
});
