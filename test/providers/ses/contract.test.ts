import { ses } from "../../../src/providers/ses";
import { describeProviderContract } from "../../contract/provider-contract";
import { json } from "../../helpers/send";
import { serveSnsCertificate, sesEvent, snsNotification, TOPIC_ARN } from "../../helpers/sns";

const MESSAGE_ID = "0102019a1b2c3d4e-5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c-000000";

/** Sections making each mapped SES event what the suite expects (a permanent bounce for Bounce). */
const SECTIONS: Record<string, Record<string, unknown>> = {
	Delivery: { delivery: { timestamp: "2026-11-22T09:00:02.000Z", recipients: ["alice@example.com"], smtpResponse: "250 2.6.0 OK" } },
	Bounce: {
		bounce: {
			bounceType: "Permanent",
			bounceSubType: "General",
			timestamp: "2026-11-22T09:00:03.000Z",
			bouncedRecipients: [
				{ emailAddress: "alice@example.com", action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" },
			],
		},
	},
	Complaint: {
		complaint: {
			timestamp: "2026-11-22T09:00:04.000Z",
			complaintFeedbackType: "abuse",
			complainedRecipients: [{ emailAddress: "alice@example.com" }],
		},
	},
	DeliveryDelay: {
		deliveryDelay: {
			timestamp: "2026-11-22T09:00:05.000Z",
			delayType: "MailboxFull",
			delayedRecipients: [{ emailAddress: "alice@example.com", status: "4.2.2", diagnosticCode: "smtp; 452 4.2.2 Mailbox full" }],
		},
	},
	Reject: { reject: { reason: "Bad content" } },
	"Rendering Failure": { failure: { errorMessage: "Attribute 'name' is not present", templateName: "welcome" } },
	Open: { open: { timestamp: "2026-11-22T09:00:06.000Z", ipAddress: "192.0.2.1", userAgent: "Mozilla/5.0" } },
	Click: { click: { timestamp: "2026-11-22T09:00:07.000Z", link: "https://acme.example.com/receipt", ipAddress: "192.0.2.1" } },
};

describeProviderContract({
	module: ses,
	settings: {
		SES_REGION: "eu-west-1",
		SES_ACCESS_KEY_ID: "AKIDEXAMPLE",
		SES_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		SES_BASE_URL: "https://ses.test",
	},
	answers: {
		accepted: () => json(200, { MessageId: MESSAGE_ID }),
		acceptedId: MESSAGE_ID,
		rateLimited: () =>
			json(
				429,
				{ message: "Maximum sending rate exceeded." },
				{ "x-amzn-ErrorType": "TooManyRequestsException:http://internal.amazon.com/coral/com.amazonaws.sesv2/" },
			),
		retryAfterSeconds: 1,
		status: (status) => json(status, { message: "We encountered an internal error." }),
		authFailure: () =>
			json(
				403,
				{ message: "The security token included in the request is invalid." },
				{ "x-amzn-ErrorType": "UnrecognizedClientException" },
			),
		garbage: {
			"HTML with 200": () => new Response("<html>ok</html>", { status: 200 }),
			"empty 200": () => new Response(null, { status: 200 }),
			"truncated JSON 400": () => new Response('{"message":', { status: 400 }),
			"HTML 502": () => new Response("<html>Bad Gateway</html>", { status: 502 }),
		},
	},
	webhook: async () => ({
		settings: { SES_SNS_TOPIC_ARN: TOPIC_ARN },
		async request(event, { emailId, providerMessageId, now }) {
			// The receiver fetches SNS's signing certificate: served here for the verification that follows.
			serveSnsCertificate();
			const envelope = await snsNotification(sesEvent(event, { emailId, messageId: providerMessageId }, SECTIONS[event]));
			return { rawBody: JSON.stringify(envelope), headers: new Headers({ "content-type": "text/plain; charset=UTF-8" }), now };
		},
	}),
});
