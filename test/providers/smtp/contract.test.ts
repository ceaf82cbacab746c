import { smtp, smtpSettings } from "../../../src/providers/smtp";
import { SmtpProvider } from "../../../src/providers/smtp/client";
import { describeTransportContract } from "../../contract/transport-contract";
import { type FakeSmtpOptions, fakeSmtp } from "../../helpers/smtp";

const SETTINGS = { SMTP_HOST: "smtp.example.net", SMTP_SECURE: "starttls", SMTP_USER: "mailroom", SMTP_PASSWORD: "s3cret" };
const CREDENTIALS = { user: "mailroom", password: "s3cret" };

/** A scripted server: one reply overridden at one step. */
const at =
	(verb: string, reply: string): FakeSmtpOptions["reply"] =>
	(step) =>
		(step.kind === "command" && step.verb === verb) || (step.kind !== "command" && step.kind === verb) ? reply : undefined;

describeTransportContract<FakeSmtpOptions>({
	module: smtp,
	adapter(answer, timeoutMs) {
		const server = fakeSmtp({ credentials: CREDENTIALS, ...answer });
		const provider = new SmtpProvider({ ...smtpSettings(SETTINGS), timeoutMs, stageTimeoutMs: timeoutMs, connect: server.connect });
		return { provider, accepted: () => server.delivered.length, done: () => provider.close() };
	},
	answers: {
		accepted: {},
		acceptedId: /^0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9fc1@acme\.example\.com$/,
		rateLimited: { reply: at("MAIL", "451 4.7.1 Throttled: too many messages, slow down") },
		transient: {
			"a refused connection": { refuse: true },
			"a 421 greeting": { reply: at("greeting", "421 4.3.2 Service shutting down") },
			"a connection lost before MAIL FROM": { reply: at("EHLO", "drop") },
			"a 451 for a recipient": { reply: at("RCPT", "451 4.3.0 Try again later") },
			"a 452 after DATA": { reply: at("DATA", "452 4.3.1 Insufficient system storage") },
			"a 451 final reply": { reply: at("data-end", "451 4.3.0 Temporary failure") },
		},
		uncertain: {
			"a connection lost after the end of data": { reply: at("data-end", "drop") },
		},
		authFailure: { reply: at("AUTH", "535 5.7.8 Authentication credentials invalid") },
		refused: { reply: at("data-end", "554 5.7.1 Message rejected as spam") },
		garbage: {
			"an HTTP answer for a greeting": { answer: { reply: at("greeting", "HTTP/1.1 400 Bad Request") }, left: false },
			"a reply code out of range at MAIL": { answer: { reply: at("MAIL", "999 what") }, left: false },
			"text for a final reply": { answer: { reply: at("data-end", "queued, thanks!") }, left: true },
		},
		noAnswerBefore: { reply: at("greeting", "silence") },
		noAnswerAfter: { reply: at("data-end", "silence") },
	},
});
