import { mailtrap } from "../../../src/providers/mailtrap";
import { describeProviderContract } from "../../contract/provider-contract";
import { json } from "../../helpers/send";
import { mailtrapSignature } from "../../helpers/signers";

const SECRET = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
const MESSAGE_ID = "0c7fd939-02cf-11ed-88c2-0a58a9feac02";
const errors = (status: number, ...messages: string[]) => json(status, { success: false, errors: messages });

describeProviderContract({
	module: mailtrap,
	settings: { MAILTRAP_API_TOKEN: "mt-contract", MAILTRAP_BASE_URL: "https://send.mailtrap.test" },
	answers: {
		accepted: () => json(200, { success: true, message_ids: [MESSAGE_ID, "1d8fe04a-02cf-11ed-88c2-0a58a9feac02"] }),
		acceptedId: MESSAGE_ID,
		// Mailtrap documents no retry header for its 429; a standard Retry-After is honoured.
		rateLimited: () => json(429, { errors: "Rate limit exceeded" }, { "retry-after": "7" }),
		retryAfterSeconds: 7,
		status: (status) => errors(status, status === 503 ? "Service unavailable" : "Internal server error"),
		authFailure: () => errors(401, "Unauthorized"),
		garbage: {
			"HTML with 200": () => new Response("<html>ok</html>", { status: 200 }),
			"empty 200": () => new Response(null, { status: 200 }),
			"success false with 200": () => json(200, { success: false, errors: ["?"] }),
			"truncated JSON 400": () => new Response('{"success":false,"err', { status: 400 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => ({
		settings: { MAILTRAP_WEBHOOK_SECRET: SECRET },
		async request(event, { emailId, providerMessageId, now }) {
			const rawBody = JSON.stringify({
				events: [
					{
						event,
						timestamp: Math.floor(now / 1000),
						sending_stream: "transactional",
						category: "receipt",
						custom_variables: { mailroom_id: emailId, mailroom_tenant: "tnt_acme" },
						message_id: providerMessageId,
						email: "ann@example.com",
						event_id: crypto.randomUUID(),
						sending_domain_name: "acme.example.com",
						...(event === "bounce" && { response: "550 5.1.1 unknown user", response_code: 550, bounce_category: "badmailbox" }),
						...(event === "click" && { url: "https://example.com", ip: "198.51.100.50" }),
						...((event === "reject" || event === "suspension") && { reason: "Recipient in suppression list" }),
					},
				],
			});
			const headers = new Headers({ "content-type": "application/json", "mailtrap-signature": await mailtrapSignature(SECRET, rawBody) });
			return { rawBody, headers, now };
		},
	}),
});
