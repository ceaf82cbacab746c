import { brevo } from "../../../src/providers/brevo";
import { describeProviderContract } from "../../contract/provider-contract";
import { json } from "../../helpers/send";

const TOKEN = "brevo-contract-token";
/** Brevo's message ids are RFC 5322 Message-IDs, angle brackets included. */
const MESSAGE_ID = "<202611220900.12345678901@smtp-relay.mailin.fr>";
const error = (status: number, code: string, headers: Record<string, string> = {}) =>
	json(status, { code, message: `${code} happened` }, headers);

describeProviderContract({
	module: brevo,
	settings: { BREVO_API_KEY: "xkeysib-contract", BREVO_BASE_URL: "https://brevo.test" },
	answers: {
		accepted: () => json(201, { messageId: MESSAGE_ID }),
		acceptedId: MESSAGE_ID,
		// Brevo says when to retry with x-sib-ratelimit-reset, in seconds from now.
		rateLimited: () =>
			error(429, "too_many_requests", { "x-sib-ratelimit-limit": "1000", "x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "7" }),
		retryAfterSeconds: 7,
		status: (status) => error(status, status === 503 ? "service_unavailable" : "internal_error"),
		authFailure: () => error(401, "unauthorized"),
		garbage: {
			"HTML with 201": () => new Response("<html>ok</html>", { status: 201 }),
			"empty 201": () => new Response(null, { status: 201 }),
			"truncated JSON 201": () => new Response('{"messageId":', { status: 201 }),
			"truncated JSON 400": () => new Response('{"code":"invalid_par', { status: 400 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => ({
		settings: { BREVO_WEBHOOK_TOKEN: TOKEN },
		async request(event, { emailId, providerMessageId, now }) {
			const rawBody = JSON.stringify({
				event,
				email: "ann@example.com",
				id: 1234567,
				date: "2026-11-22 10:00:00",
				ts: Math.floor(now / 1000),
				"message-id": providerMessageId,
				ts_event: Math.floor(now / 1000),
				subject: "Your receipt",
				"X-Mailin-custom": JSON.stringify({ mailroom_id: emailId }),
				sending_ip: "185.41.28.109",
				ts_epoch: now,
				tags: ["receipt", `mailroom_id:${emailId}`],
				...((event === "soft_bounce" || event === "hard_bounce" || event === "blocked") && { reason: "550 5.1.1 unknown user" }),
				...(event === "click" && { link: "https://example.com" }),
			});
			const headers = new Headers({ "content-type": "application/json", authorization: `Bearer ${TOKEN}` });
			return { rawBody, headers, now };
		},
	}),
});
