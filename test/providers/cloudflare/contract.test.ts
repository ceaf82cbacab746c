import { cloudflare } from "../../../src/providers/cloudflare";
import { createCloudflareProvider } from "../../../src/providers/cloudflare/client";
import { EMAIL_SENDING_EVENTS, parseEmailSendingEvent } from "../../../src/providers/cloudflare/events";
import { describeTransportContract } from "../../contract/transport-contract";
import { bindingError, emailSendingEvent, fakeBinding } from "../../helpers/cloudflare";

/** What the binding does with one send: resolve with a result, or throw. */
type Answer = () => Promise<unknown>;

const unwrap = (parsed: ReturnType<typeof parseEmailSendingEvent>) => (parsed.ok ? parsed.value : { error: parsed.error });

describeTransportContract<Answer>({
	module: cloudflare,
	adapter(answer, timeoutMs) {
		const binding = fakeBinding(answer);
		return { provider: createCloudflareProvider({ binding, timeoutMs }), accepted: () => binding.accepted.length };
	},
	answers: {
		accepted: async () => ({ messageId: "<cf-contract-1@example.com>" }),
		acceptedId: "<cf-contract-1@example.com>",
		rateLimited: async () => {
			throw bindingError("E_RATE_LIMIT_EXCEEDED", "Rate limit exceeded");
		},
		transient: {
			E_INTERNAL_SERVER_ERROR: async () => {
				throw bindingError("E_INTERNAL_SERVER_ERROR", "Email Service temporarily unavailable");
			},
			E_DAILY_LIMIT_EXCEEDED: async () => {
				throw bindingError("E_DAILY_LIMIT_EXCEEDED", "Daily sending quota reached");
			},
		},
		uncertain: {
			"an exception without a code (the call was lost)": async () => {
				throw new Error("Network connection lost.");
			},
		},
		authFailure: async () => {
			throw bindingError("E_SENDER_DOMAIN_NOT_AVAILABLE", "Domain not onboarded to Email Service");
		},
		refused: async () => {
			throw bindingError("E_CONTENT_TOO_LARGE", "Total message size exceeds the maximum");
		},
		garbage: {
			"a result without a messageId": { answer: async () => ({}), left: true },
			"a null result": { answer: async () => null, left: true },
			"an error whose code is not an E_ code": {
				answer: async () => {
					throw Object.assign(new Error("boom"), { code: 500 });
				},
				left: true,
			},
		},
		noAnswerBefore: { none: "a binding call is the send itself; nothing can go unanswered before the message left" },
		noAnswerAfter: () => new Promise(() => undefined),
	},
	events: {
		types: EMAIL_SENDING_EVENTS,
		parse: (type, { providerMessageId, now }) => unwrap(parseEmailSendingEvent(emailSendingEvent(type, providerMessageId), now)),
		garbage: [
			null,
			"delivered",
			{ type: "cf.email.sending.message.delivered" },
			{ type: "cf.email.sending.message.delivered", payload: { eventId: 1 } },
		],
		parseRaw: (body) => unwrap(parseEmailSendingEvent(body, Date.now())),
	},
});
