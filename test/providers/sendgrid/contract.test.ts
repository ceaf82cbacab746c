import { sendgrid } from "../../../src/providers/sendgrid";
import { describeProviderContract } from "../../contract/provider-contract";
import { json } from "../../helpers/send";
import { generatedSigner } from "../../helpers/signers";

const errors = (status: number, message: string, headers: Record<string, string> = {}) =>
	json(status, { errors: [{ message, field: null, help: null }] }, headers);

describeProviderContract({
	module: sendgrid,
	settings: { SENDGRID_API_KEY: "SG.contract", SENDGRID_BASE_URL: "https://sendgrid.test" },
	answers: {
		accepted: () => new Response(null, { status: 202, headers: { "x-message-id": "sg_contract_1" } }),
		acceptedId: "sg_contract_1",
		// SendGrid says when to retry with X-RateLimit-Reset, in epoch seconds.
		rateLimited: () => errors(429, "too many requests", { "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 7) }),
		retryAfterSeconds: 7,
		status: (status) => errors(status, "server error"),
		authFailure: () => errors(401, "The provided authorization grant is invalid, expired, or revoked"),
		garbage: {
			"202 without X-Message-Id": () => new Response(null, { status: 202 }),
			"HTML with 200": () => new Response("<html>ok</html>", { status: 200 }),
			"truncated JSON 400": () => new Response('{"errors":[', { status: 400 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => {
		const signer = await generatedSigner();
		return {
			settings: { SENDGRID_WEBHOOK_PUBLIC_KEY: signer.publicKey },
			async request(event, { emailId, providerMessageId, now }) {
				const rawBody = `${JSON.stringify([
					{
						email: "ann@example.com",
						timestamp: Math.floor(now / 1000),
						event,
						sg_event_id: `evt_${crypto.randomUUID()}`,
						sg_message_id: `${providerMessageId}.filterdrecv-1`,
						mailroom_id: emailId,
						...(event === "bounce" && { type: "bounce", reason: "550 5.1.1 unknown user" }),
						...(event === "click" && { url: "https://example.com" }),
					},
				])}\r\n`;
				const timestamp = String(Math.floor(now / 1000));
				const headers = new Headers({
					"X-Twilio-Email-Event-Webhook-Signature": await signer.sign(timestamp, rawBody),
					"X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
				});
				return { rawBody, headers, now };
			},
		};
	},
});
