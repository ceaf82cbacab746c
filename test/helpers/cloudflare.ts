/** Fixtures for the Cloudflare Email Sending tests: a scripted `EMAIL` binding, its errors, its queue events. */

/** A `send_email` binding that records what it was given and answers as `answer` says. */
export function fakeBinding(answer: (message: unknown) => Promise<unknown>) {
	const sent: unknown[] = [];
	const accepted: unknown[] = [];
	const binding = {
		sent,
		accepted,
		async send(message: unknown) {
			sent.push(message);
			const result = await answer(message);
			if (typeof result === "object" && result !== null && "messageId" in result) accepted.push(message);
			return result;
		},
	};
	return binding as typeof binding & SendEmail;
}

/** An error as the binding throws it: an `Error` with a string `code`. */
export function bindingError(code: string, message: string): Error {
	return Object.assign(new Error(message), { code });
}

/** An event as a Queues event subscription delivers it, shaped as Cloudflare's documentation shows. */
export function emailSendingEvent(type: string, messageId: string, payload: Record<string, unknown> = {}) {
	const kind = type.replace("cf.email.sending.message.", "");
	const extra: Record<string, Record<string, unknown>> = {
		delivered: { delivery: { status: "delivered", smtpStatusCode: "250", smtpEnhancedStatusCode: "2.0.0", smtpResponse: "250 2.0.0 OK" } },
		deferred: {
			delivery: { status: "deferred", smtpStatusCode: "451", smtpResponse: "451 4.2.0 Temporary mailbox error" },
			bounce: { type: "soft", classification: "temporary_failure", reason: "451 4.2.0 Temporary mailbox error" },
		},
		bounced: {
			delivery: { status: "bounced", smtpStatusCode: "550", smtpEnhancedStatusCode: "5.1.1", smtpResponse: "550 5.1.1 User unknown" },
			bounce: { type: "hard", classification: "permanent_failure", reason: "550 5.1.1 User unknown" },
		},
		failed: { delivery: { status: "failed" }, failure: { reason: "delivery_failed" } },
		rejected: { delivery: { status: "rejected" }, rejection: { reason: "spam", party: "sender", detail: "Rejected as spam" } },
		complained: { delivery: { status: "complained" }, complaint: { type: "abuse" } },
	};
	return {
		type,
		source: { type: "email.sending", zoneId: "023e105f4ecef8ad9ca31a8372d0c353", domain: "example.com" },
		payload: {
			eventId: `evt-${kind}-${messageId}`,
			messageId,
			sender: "noreply@example.com",
			recipient: "User@Example.net",
			subject: "Welcome",
			terminal: kind !== "deferred",
			...extra[kind],
			...payload,
		},
		metadata: {
			accountId: "f9f79265f388666de8122cfb508d7776",
			eventSubscriptionId: "1830c4bb612e43c3af7f4cada31fbf3f",
			eventSchemaVersion: 1,
			eventTimestamp: "2026-06-01T02:48:57.132Z",
		},
	};
}
