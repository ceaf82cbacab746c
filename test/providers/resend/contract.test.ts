import { Webhook } from "standardwebhooks";
import { resend } from "../../../src/providers/resend";
import { describeProviderContract } from "../../contract/provider-contract";
import { json } from "../../helpers/send";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const error = (status: number, name: string, headers: Record<string, string> = {}) =>
	json(status, { statusCode: status, name, message: `${name} happened` }, headers);

describeProviderContract({
	module: resend,
	settings: { RESEND_API_KEY: "re_contract", RESEND_BASE_URL: "https://resend.test" },
	answers: {
		accepted: () => json(200, { id: "re_contract_1" }),
		acceptedId: "re_contract_1",
		rateLimited: () => error(429, "rate_limit_exceeded", { "retry-after": "7" }),
		retryAfterSeconds: 7,
		status: (status) => error(status, status === 503 ? "service_unavailable" : "internal_server_error"),
		authFailure: () => error(401, "invalid_api_key"),
		garbage: {
			"HTML with 200": () => new Response("<html>ok</html>", { status: 200 }),
			"empty 200": () => new Response(null, { status: 200 }),
			"truncated JSON 200": () => new Response('{"id":', { status: 200 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => ({
		settings: { RESEND_WEBHOOK_SECRET: SECRET },
		async request(event, { emailId, providerMessageId, now }) {
			const rawBody = JSON.stringify({
				type: event,
				created_at: new Date(now).toISOString(),
				data: {
					email_id: providerMessageId,
					to: ["ann@example.com"],
					tags: { mailroom_id: emailId },
					...(event === "email.bounced" && { bounce: { type: "Permanent", message: "no such user" } }),
					...(event === "email.clicked" && { click: { link: "https://example.com" } }),
				},
			});
			const id = `msg_${crypto.randomUUID()}`;
			const signature = new Webhook(SECRET).sign(id, new Date(now), rawBody);
			const headers = new Headers({ "svix-id": id, "svix-timestamp": String(Math.floor(now / 1000)), "svix-signature": signature });
			return { rawBody, headers, now };
		},
	}),
});
