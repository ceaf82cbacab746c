/**
 * SMTP adapter: one email = one SMTP transaction on a connection of a small pool (./session.ts speaks the
 * protocol). The message is `buildMime` (src/lib/mime.ts), the builder `GET /emails/:id/raw` shows, with
 * `Message-ID: <our id@sender's domain>` and `X-Mailroom-Id`; Bcc recipients are only in the envelope.
 *
 * Outcomes (docs/architecture.md, "Outcome classes"), by the stage reached:
 * - nothing answered before the end-of-data line left (connection refused, lost, timed out, garbage) → `transient`:
 *   a server cannot accept a message whose data never ended, so failing over is safe;
 * - the end-of-data line left and no final reply was read (lost, timed out, garbage) → `uncertain`: SMTP has no
 *   idempotency and no lookup, so it is never sent again blindly (the lifecycle's uncertain rules apply);
 * - 4xx (421, 450, 451, 452, 454…) → `transient`, or `rate_limited` when the text says it is throttling;
 * - 5xx at the greeting, EHLO, STARTTLS or AUTH, or "authentication required" (530, 5.7.0) → `permanent` for the
 *   provider (credentials, policy: fail over); other 5xx (550, 553, 554, 552…) → `permanent` for this email;
 * - RCPT: a 4xx for any recipient → `transient` for the whole email (RSET; nothing is sent to anyone, so a retry
 *   cannot duplicate). 5xx for every recipient → `permanent`, suppressing those refused as unknown (enhanced status
 *   5.1.x, like `550 5.1.1`); 5xx for some → sent to the others, each refused one reported as a bounce (hard, and
 *   so suppressed, for 5.1.x; soft otherwise);
 * - a non-ASCII local part needs SMTPUTF8 (RFC 6531); without it the email fails with that reason. Non-ASCII
 *   domains go out as A-labels when the server lacks SMTPUTF8.
 *
 * Connections: a `SmtpProvider` is built per consumer invocation (the registry's factory), and sockets belong to
 * the invocation that opened them, so its pool never crosses invocations. A connection is reused for up to
 * `messagesPerConnection` emails: taken from the pool only after a successful RSET (a dead or confused connection is
 * dropped and another opened, before anything is sent), and closed with QUIT once idle for IDLE_MS, so idle
 * sockets never hold the Worker's six simultaneous connections while other work of the invocation waits for one.
 */
import { bareAddress, domainOf } from "../../lib/address";
import { buildMime, messageIdOf } from "../../lib/mime";
import { err, ok, type Result } from "../../lib/result";
import type { EmailProvider, FollowUpEvent, OutboundEmail, ProviderError, SendContext, SendOutcome } from "../types";
import { type OpenFailure, type SmtpConnect, type SmtpFault, type SmtpReply, SmtpSession, type SmtpStage } from "./session";

export type SmtpSecurity = "tls" | "starttls" | "none";

export type SmtpProviderOptions = {
	host: string;
	port: number;
	secure: SmtpSecurity;
	user: string | null;
	password: string | null;
	/** The EHLO name (SMTP_HELO_NAME); null: the sender's domain of the email that opens the connection. */
	heloName: string | null;
	/** One send's whole budget (PROVIDER_TIMEOUT_MS): connecting, the handshake and the transaction. */
	timeoutMs: number;
	/** Per stage, within that budget: connecting and each command's reply. The final reply gets what is left. */
	stageTimeoutMs?: number;
	/** Emails one connection carries before it is closed (1: a connection per email). */
	messagesPerConnection: number;
	/** Plain SMTP to a host that is not loopback is refused unless this is set (ALLOW_INSECURE_SMTP). */
	allowInsecure: boolean;
	/** A setting that cannot be used, said by every send (a provider-level error: it fails over). */
	misconfigured?: string | null;
	/** `connect` of `cloudflare:sockets`; tests give their own. */
	connect?: SmtpConnect;
	now?: () => number;
};

/** An idle pooled connection is closed after this long without a send. */
export const IDLE_MS = 250;
const DEFAULT_STAGE_TIMEOUT_MS = 10_000;
const QUIT_MS = 1_000;
const DETAIL_MAX = 300;
const THROTTLING = /throttl|rate limit|too many|slow down/i;
const AUTH_REQUIRED = /auth/i;

type Pooled = { session: SmtpSession; timer: ReturnType<typeof setTimeout> | undefined };

export class SmtpProvider implements EmailProvider {
	readonly name = "smtp" as const;
	readonly supportsIdempotency = false;
	readonly #options: SmtpProviderOptions;
	readonly #idle: Pooled[] = [];
	readonly #now: () => number;

	constructor(options: SmtpProviderOptions) {
		this.#options = options;
		this.#now = options.now ?? Date.now;
	}

	async send(email: OutboundEmail, _context?: SendContext): Promise<SendOutcome> {
		const refusal = this.#options.misconfigured ?? insecureRefusal(this.#options);
		if (refusal) return err({ kind: "permanent", scope: "provider", message: refusal });
		const deadline = this.#now() + this.#options.timeoutMs;
		const messageId = messageIdOf(email);
		const content = mimeOf(email, this.#now(), messageId);
		if (!content.ok) return content;
		const acquired = await this.#acquire(deadline, this.#options.heloName ?? domainOf(email.fromMailbox.address));
		if (!acquired.ok) return err(openError(acquired.error, this.#options.host));
		const session = acquired.value;
		try {
			return await this.#transaction(session, email, { content: content.value, messageId }, deadline);
		} finally {
			this.#release(session);
		}
	}

	/** Closes every pooled connection (tests and the bench; the pool also empties itself when idle). */
	async close(): Promise<void> {
		const idle = this.#idle.splice(0);
		await Promise.all(idle.map((p) => this.#retire(p)));
	}

	async #acquire(deadline: number, clientName: string): Promise<Result<SmtpSession, OpenFailure>> {
		while (this.#idle.length > 0) {
			const pooled = this.#idle.pop() as Pooled;
			if (pooled.timer !== undefined) clearTimeout(pooled.timer);
			const reset = await pooled.session.command("rset", "RSET", Math.min(deadline, this.#now() + this.#stageMs()));
			if (reset.ok && reset.value.code === 250) return ok(pooled.session);
			await pooled.session.close();
		}
		const { host, port, secure, user, password } = this.#options;
		const connect = this.#options.connect ?? (await defaultConnect());
		return SmtpSession.open({
			host,
			port,
			secure,
			clientName,
			credentials: user !== null && password !== null ? { user, password } : null,
			connect,
			deadline: Math.min(deadline, this.#now() + 3 * this.#stageMs()),
			now: this.#now,
		});
	}

	#release(session: SmtpSession): void {
		if (!session.usable || session.messages >= this.#options.messagesPerConnection) {
			void session.quit(this.#now() + QUIT_MS);
			return;
		}
		const pooled: Pooled = { session, timer: undefined };
		pooled.timer = setTimeout(() => {
			const index = this.#idle.indexOf(pooled);
			if (index >= 0) this.#idle.splice(index, 1);
			void this.#retire(pooled);
		}, IDLE_MS);
		this.#idle.push(pooled);
	}

	async #retire(pooled: Pooled): Promise<void> {
		if (pooled.timer !== undefined) clearTimeout(pooled.timer);
		await pooled.session.quit(this.#now() + QUIT_MS);
	}

	#stageMs(): number {
		return this.#options.stageTimeoutMs ?? DEFAULT_STAGE_TIMEOUT_MS;
	}

	async #transaction(
		session: SmtpSession,
		email: OutboundEmail,
		{ content, messageId }: { content: string; messageId: string },
		deadline: number,
	): Promise<SendOutcome> {
		const caps = session.capabilities;
		const envelope = envelopeOf(email, caps.smtputf8);
		if (!envelope.ok) {
			await this.#reset(session, deadline);
			return err({ kind: "permanent", scope: "message", message: `${envelope.error} and ${this.#options.host} does not offer SMTPUTF8` });
		}
		const size = new TextEncoder().encode(content).byteLength;
		if (caps.size !== null && caps.size > 0 && size > caps.size) {
			await this.#reset(session, deadline);
			return err({
				kind: "permanent",
				scope: "message",
				message: `the message is ${size} bytes; ${this.#options.host} takes at most ${caps.size}`,
			});
		}
		const step = () => Math.min(deadline, this.#now() + this.#stageMs());
		const params = [
			...(envelope.value.utf8 ? ["SMTPUTF8"] : []),
			...(caps.eightBitMime ? ["BODY=8BITMIME"] : []),
			...(caps.size !== null ? [`SIZE=${size}`] : []),
		];
		const mail = await session.command("mail", `MAIL FROM:<${envelope.value.from}>${params.map((p) => ` ${p}`).join("")}`, step());
		if (!mail.ok) return err(faultError(mail.error, false));
		if (mail.value.code !== 250) return this.#refused(session, "mail", mail.value, deadline);

		const refused: { address: string; reply: SmtpReply }[] = [];
		let accepted = 0;
		for (const address of envelope.value.recipients) {
			const rcpt = await session.command("rcpt", `RCPT TO:<${address}>`, step());
			if (!rcpt.ok) return err(faultError(rcpt.error, false));
			const code = rcpt.value.code;
			if (code === 250 || code === 251) accepted += 1;
			else if (code >= 400 && code < 500) return this.#refused(session, "rcpt", rcpt.value, deadline, address);
			else refused.push({ address, reply: rcpt.value });
		}
		if (accepted === 0) {
			await this.#reset(session, deadline);
			const unknown = refused.filter((r) => isUnknownAddress(r.reply)).map((r) => r.address);
			const first = refused[0]?.reply;
			return err({
				kind: "permanent",
				scope: "message",
				message: `every recipient was refused: ${refused.map((r) => `${r.address} (${replyText(r.reply)})`).join("; ")}`.slice(0, 1000),
				...(first && { status: first.code, code: first.enhanced ?? String(first.code) }),
				...(unknown.length > 0 && { suppress: unknown }),
			});
		}

		const data = await session.command("data", "DATA", step());
		if (!data.ok) return err(faultError(data.error, false));
		if (data.value.code !== 354) return this.#refused(session, "data", data.value, deadline);
		const final = await session.message(content, deadline);
		if (!final.ok) return err(faultError(final.error, final.error.markerSent));
		if (final.value.code !== 250) return err(replyError("message", final.value, this.#options.host));
		const providerMessageId = messageId.slice(1, -1);
		const followUps = refused.map((r) => refusedRecipient(r.address, r.reply, this.#now()));
		return ok({ providerMessageId, ...(followUps.length > 0 && { followUps }) });
	}

	/** A refusal before the message left: reset the transaction (the connection stays usable) and classify. */
	async #refused(session: SmtpSession, stage: SmtpStage, reply: SmtpReply, deadline: number, recipient?: string): Promise<SendOutcome> {
		await this.#reset(session, deadline);
		const error = replyError(stage, reply, this.#options.host);
		return err(recipient ? { ...error, message: `${recipient}: ${error.message}` } : error);
	}

	async #reset(session: SmtpSession, deadline: number): Promise<void> {
		if (!session.usable) return;
		const reset = await session.command("rset", "RSET", Math.min(deadline, this.#now() + this.#stageMs()));
		if (!reset.ok || reset.value.code !== 250) await session.close();
	}
}

/** The message, or why it cannot be built (nothing was sent: a failure of this email, never an uncertain one). */
function mimeOf(email: OutboundEmail, now: number, messageId: string): Result<string, ProviderError> {
	try {
		return ok(buildMime(email, { date: new Date(now), messageId }));
	} catch (e) {
		return err({
			kind: "permanent",
			scope: "message",
			message: `the message cannot be built: ${e instanceof Error ? e.message : String(e)}`,
		});
	}
}

/** Why the configured transport must not be used, if it must not: plain text over a network to a non-loopback host. */
export function insecureRefusal(options: Pick<SmtpProviderOptions, "secure" | "host" | "allowInsecure">): string | null {
	if (options.secure !== "none" || options.allowInsecure || isLoopback(options.host)) return null;
	return `SMTP_SECURE=none would send credentials and mail in clear text to ${options.host}; use tls or starttls, or set ALLOW_INSECURE_SMTP=true`;
}

export function isLoopback(host: string): boolean {
	const h = host.toLowerCase().replace(/^\[|\]$/g, "");
	return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/**
 * A server reply refusing a step, as an outcome. Pure.
 *
 * @example replyError("rcpt", { code: 550, enhanced: "5.1.1", text: "User unknown" }, "smtp.example.com").kind // "permanent"
 */
export function replyError(stage: SmtpStage, reply: SmtpReply, host: string): ProviderError {
	const message = `${host} answered ${stage.toUpperCase()} with ${replyText(reply)}`;
	const status = reply.code;
	const code = reply.enhanced ?? String(reply.code);
	if (reply.code < 500) {
		return THROTTLING.test(reply.text) ? { kind: "rate_limited", message, status } : { kind: "transient", message, status };
	}
	const providerWide =
		stage === "greeting" ||
		stage === "ehlo" ||
		stage === "starttls" ||
		stage === "auth" ||
		reply.code === 530 ||
		(reply.enhanced === "5.7.0" && AUTH_REQUIRED.test(reply.text)) ||
		reply.enhanced === "5.7.8";
	return { kind: "permanent", scope: providerWide ? "provider" : "message", message, status, code };
}

/** No usable reply: definite before the end-of-data line left, uncertain after. */
export function faultError(fault: SmtpFault, markerSent: boolean): ProviderError {
	if (markerSent) {
		return { kind: "uncertain", message: `the message was sent and no final reply came: ${fault.message}` };
	}
	return { kind: "transient", message: `nothing was sent: ${fault.message}` };
}

function openError(failure: OpenFailure, host: string): ProviderError {
	if ("reply" in failure) return replyError(failure.stage, failure.reply, host);
	if ("unsupported" in failure) return { kind: "permanent", scope: "provider", message: failure.unsupported };
	return faultError(failure, false);
}

/** The enhanced status says the address itself is bad (5.1.x: unknown user, bad domain or syntax). */
function isUnknownAddress(reply: SmtpReply): boolean {
	return reply.code >= 500 && reply.enhanced?.startsWith("5.1.") === true;
}

function refusedRecipient(address: string, reply: SmtpReply, now: number): FollowUpEvent {
	return {
		type: "bounced",
		bounce: isUnknownAddress(reply) ? "hard" : "soft",
		afterMs: 1,
		recipient: address,
		detail: { smtp_status: reply.code, ...(reply.enhanced && { enhanced_status: reply.enhanced }), message: replyText(reply), at: now },
	};
}

function replyText(reply: SmtpReply): string {
	return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ""} ${reply.text}`.trim().slice(0, DETAIL_MAX);
}

type Envelope = { from: string; recipients: string[]; utf8: boolean };

/**
 * MAIL FROM and RCPT TO addresses: bare, each recipient once (to, cc, bcc). Non-ASCII domains become A-labels
 * unless the server takes SMTPUTF8; a non-ASCII local part needs it (`utf8`), and without it is refused here.
 */
export function envelopeOf(email: OutboundEmail, smtputf8: boolean): Result<Envelope, string> {
	const from = email.fromMailbox.address;
	const recipients = [...new Set([...email.to, ...email.cc, ...email.bcc].map(bareAddress))];
	const all = [from, ...recipients];
	const utf8Local = all.find((a) => !isAscii(a.slice(0, a.lastIndexOf("@"))));
	if (utf8Local !== undefined && !smtputf8) return err(`${utf8Local} has a non-ASCII local part`);
	const utf8 = smtputf8 && all.some((a) => !isAscii(a));
	const ascii = (a: string) => (utf8 ? a : `${a.slice(0, a.lastIndexOf("@"))}@${toALabels(a.slice(a.lastIndexOf("@") + 1))}`);
	return ok({ from: ascii(from), recipients: recipients.map(ascii), utf8 });
}

function isAscii(text: string): boolean {
	return /^\p{ASCII}*$/u.test(text);
}

/** IDNA A-labels, by the URL parser (punycode), as the domain was validated at accept time. */
function toALabels(domain: string): string {
	if (isAscii(domain)) return domain;
	try {
		return new URL(`http://${domain}`).hostname;
	} catch {
		return domain;
	}
}

/**
 * `connect` from `cloudflare:sockets`, imported when the first connection is opened: a module-level import would
 * stop the operator scripts, which bundle the provider registry for Node (scripts/lib/worker-code.mjs).
 */
async function defaultConnect(): Promise<SmtpConnect> {
	const sockets = await import("cloudflare:sockets");
	return sockets.connect as SmtpConnect;
}
