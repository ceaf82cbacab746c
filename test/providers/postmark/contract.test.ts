import { postmark } from "../../../src/providers/postmark";
import { describeProviderContract } from "../../contract/provider-contract";
import { json } from "../../helpers/send";

const USER = "postmark-hooks";
const PASSWORD = "contract-password";

describeProviderContract({
	module: postmark,
	settings: { POSTMARK_SERVER_TOKEN: "pm-contract", POSTMARK_BASE_URL: "https://postmark.test" },
	answers: {
		accepted: () =>
			json(200, { To: "ann@example.com", SubmittedAt: new Date().toISOString(), MessageID: "pm_contract_1", ErrorCode: 0, Message: "OK" }),
		acceptedId: "pm_contract_1",
		rateLimited: () => json(429, { ErrorCode: 429, Message: "Rate limit exceeded" }, { "retry-after": "7" }),
		retryAfterSeconds: 7,
		status: (status) => new Response(`${status} error`, { status }),
		authFailure: () => json(401, { ErrorCode: 10, Message: "Bad or missing Server API token." }),
		garbage: {
			"HTML with 200": () => new Response("<html>ok</html>", { status: 200 }),
			"empty 200": () => new Response(null, { status: 200 }),
			"truncated JSON 422": () => new Response('{"ErrorCode":', { status: 422 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => ({
		settings: { POSTMARK_WEBHOOK_USER: USER, POSTMARK_WEBHOOK_PASSWORD: PASSWORD },
		async request(event, { emailId, providerMessageId, now }) {
			const at = new Date(now).toISOString();
			const rawBody = JSON.stringify({
				RecordType: event,
				MessageID: providerMessageId,
				Recipient: "ann@example.com",
				Email: "ann@example.com",
				ID: 42,
				Type: "HardBounce",
				DeliveredAt: at,
				BouncedAt: at,
				ReceivedAt: at,
				OriginalLink: "https://example.com",
				Metadata: { mailroom_id: emailId },
			});
			const headers = new Headers({ "content-type": "application/json", authorization: `Basic ${btoa(`${USER}:${PASSWORD}`)}` });
			return { rawBody, headers, now };
		},
	}),
});
