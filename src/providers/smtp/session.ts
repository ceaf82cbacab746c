/**
 * One SMTP client connection (RFC 5321) over a Workers TCP socket: greeting, EHLO, STARTTLS (RFC 3207), AUTH PLAIN
 * and LOGIN (RFC 4954), and the transaction steps MAIL, RCPT, DATA, the message, RSET and QUIT. It frames commands
 * and replies and keeps time; it decides nothing about emails (./client.ts classifies what it reports).
 *
 * Contracts:
 * - Every step answers the server's complete reply, whatever its code, or a `SmtpFault` when there is none to read
 *   (timeout, connection closed, bytes that are not a reply, a write that failed). After a fault the connection is
 *   closed and unusable.
 * - Each step waits at most until the `deadline` it is given (epoch ms): the client passes the end of its whole
 *   send budget, capped per stage.
 * - `message()` reports whether the end-of-data line (`.` CRLF) had been handed to the socket when a fault happened:
 *   before it the server cannot have accepted the message (RFC 5321 §4.1.1.4: a transaction without its end of data
 *   is aborted); after it, only the final reply says, so its loss leaves the outcome unknown.
 * - Lines are CRLF; the message is dot-stuffed (§4.5.2), bare LF and CR become CRLF.
 * - After STARTTLS the reply buffer must be empty: bytes sent ahead of the TLS handshake are refused rather than
 *   read as if they were protected (the STARTTLS command injection class of bugs).
 */
import { settleWithin } from "../../lib/concurrency";
import { err, ok, type Result } from "../../lib/result";
import { encodeBase64 } from "../../lib/webcrypto";

/** The part of a `cloudflare:sockets` Socket this client uses (tests give it an in-memory one). */
export type SmtpSocket = {
	readonly readable: ReadableStream<Uint8Array>;
	readonly writable: WritableStream<Uint8Array>;
	readonly opened: Promise<unknown>;
	close(): Promise<void>;
	startTls(options?: { expectedServerHostname?: string }): SmtpSocket;
};

/** `connect()` of `cloudflare:sockets`, as this client calls it. */
export type SmtpConnect = (
	address: { hostname: string; port: number },
	options: { secureTransport: "on" | "off" | "starttls"; allowHalfOpen: boolean },
) => SmtpSocket;

export type SmtpReply = {
	code: number;
	/** The enhanced status code (RFC 3463) the reply starts with, like `5.1.1`; null when the server gives none. */
	enhanced: string | null;
	/** The reply's text, lines joined with a space, without codes. */
	text: string;
};

export type SmtpStage = "connect" | "greeting" | "ehlo" | "starttls" | "auth" | "rset" | "mail" | "rcpt" | "data" | "message" | "quit";

/** No usable reply: what happened instead. */
export type SmtpFault = {
	stage: SmtpStage;
	problem: "refused" | "timeout" | "closed" | "garbage" | "tls";
	message: string;
};

export type Capabilities = {
	starttls: boolean;
	smtputf8: boolean;
	eightBitMime: boolean;
	/** Upper-cased SASL mechanisms offered by AUTH. */
	auth: string[];
	/** The SIZE limit in bytes, when the server declares one (0 means none). */
	size: number | null;
};

export type SessionOptions = {
	host: string;
	port: number;
	/** `tls`: TLS from the first byte (port 465); `starttls`: plain, then upgraded (587); `none`: plain throughout. */
	secure: "tls" | "starttls" | "none";
	/** The name this client gives in EHLO. */
	clientName: string;
	credentials: { user: string; password: string } | null;
	connect: SmtpConnect;
	/** Epoch ms by which the connection must be ready (greeting, EHLO, TLS and AUTH included). */
	deadline: number;
	now?: () => number;
};

/** Why opening failed: a fault, or a reply refusing a step (the client classifies it by stage). */
export type OpenFailure = SmtpFault | { stage: SmtpStage; reply: SmtpReply } | { stage: SmtpStage; unsupported: string };

const encoder = new TextEncoder();
/** A reply line longer than this without CRLF is not SMTP (RFC 5321 §4.5.3.1.5 allows 512 octets). */
const MAX_REPLY_LINE = 4096;
const MAX_REPLY_LINES = 200;

export class SmtpSession {
	#socket: SmtpSocket;
	#reader: ReadableStreamDefaultReader<Uint8Array>;
	#writer: WritableStreamDefaultWriter<Uint8Array>;
	#buffer = "";
	#decoder = new TextDecoder();
	#closed = false;
	readonly #now: () => number;
	capabilities: Capabilities = { starttls: false, smtputf8: false, eightBitMime: false, auth: [], size: null };
	/** Messages this connection has carried (the client caps reuse with it). */
	messages = 0;

	private constructor(socket: SmtpSocket, now: () => number) {
		this.#socket = socket;
		this.#reader = socket.readable.getReader();
		this.#writer = socket.writable.getWriter();
		this.#now = now;
	}

	get usable(): boolean {
		return !this.#closed;
	}

	/** Connects, reads the greeting, says EHLO, upgrades to TLS and authenticates as `options` say. */
	static async open(options: SessionOptions): Promise<Result<SmtpSession, OpenFailure>> {
		const now = options.now ?? Date.now;
		let socket: SmtpSocket;
		try {
			const secureTransport = options.secure === "tls" ? "on" : options.secure === "starttls" ? "starttls" : "off";
			socket = options.connect({ hostname: options.host, port: options.port }, { secureTransport, allowHalfOpen: false });
		} catch (e) {
			return err({ stage: "connect", problem: "refused", message: `connect() refused ${options.host}:${options.port}: ${describe(e)}` });
		}
		const opened = await within(socket.opened, options.deadline - now());
		if (opened !== "done") {
			socket.close().catch(() => undefined);
			return err({
				stage: "connect",
				problem: opened === "timeout" ? "timeout" : "refused",
				message:
					opened === "timeout"
						? `no connection to ${options.host}:${options.port} in time`
						: `connection to ${options.host}:${options.port} failed: ${opened.error}`,
			});
		}
		const session = new SmtpSession(socket, now);
		const ready = await session.#handshake(options);
		if (!ready.ok) {
			await session.close();
			return ready;
		}
		return ok(session);
	}

	async #handshake(options: SessionOptions): Promise<Result<void, OpenFailure>> {
		const greeting = await this.#read("greeting", options.deadline);
		if (!greeting.ok) return greeting;
		if (greeting.value.code !== 220) return err({ stage: "greeting", reply: greeting.value });
		const hello = await this.#ehlo(options);
		if (!hello.ok) return hello;
		if (options.secure === "starttls") {
			if (!this.capabilities.starttls) return err({ stage: "starttls", unsupported: `${options.host} does not offer STARTTLS` });
			const upgraded = await this.#starttls(options);
			if (!upgraded.ok) return upgraded;
			const again = await this.#ehlo(options);
			if (!again.ok) return again;
		}
		if (options.credentials) return this.#authenticate(options.credentials, options);
		return ok(undefined);
	}

	async #ehlo(options: SessionOptions): Promise<Result<void, OpenFailure>> {
		const reply = await this.command("ehlo", `EHLO ${options.clientName}`, options.deadline);
		if (!reply.ok) return reply;
		if (reply.value.code !== 250) return err({ stage: "ehlo", reply: reply.value });
		this.capabilities = parseCapabilities(this.#lastLines);
		return ok(undefined);
	}

	async #starttls(options: SessionOptions): Promise<Result<void, OpenFailure>> {
		const reply = await this.command("starttls", "STARTTLS", options.deadline);
		if (!reply.ok) return reply;
		if (reply.value.code !== 220) return err({ stage: "starttls", reply: reply.value });
		if (this.#buffer !== "") {
			return this.#fault({ stage: "starttls", problem: "garbage", message: "the server sent data ahead of the TLS handshake" });
		}
		try {
			this.#reader.releaseLock();
			this.#writer.releaseLock();
			this.#socket = this.#socket.startTls({ expectedServerHostname: options.host });
			this.#reader = this.#socket.readable.getReader();
			this.#writer = this.#socket.writable.getWriter();
		} catch (e) {
			return this.#fault({ stage: "starttls", problem: "tls", message: `STARTTLS upgrade failed: ${describe(e)}` });
		}
		return ok(undefined);
	}

	/** AUTH PLAIN where offered (one round trip), else AUTH LOGIN. */
	async #authenticate(credentials: { user: string; password: string }, options: SessionOptions): Promise<Result<void, OpenFailure>> {
		const offered = this.capabilities.auth;
		if (offered.includes("PLAIN")) {
			const token = base64(`\0${credentials.user}\0${credentials.password}`);
			const reply = await this.command("auth", `AUTH PLAIN ${token}`, options.deadline);
			if (!reply.ok) return reply;
			return reply.value.code === 235 ? ok(undefined) : err({ stage: "auth", reply: reply.value });
		}
		if (offered.includes("LOGIN")) {
			for (const [line, expect] of [
				["AUTH LOGIN", 334],
				[base64(credentials.user), 334],
				[base64(credentials.password), 235],
			] as const) {
				const reply = await this.command("auth", line, options.deadline);
				if (!reply.ok) return reply;
				if (reply.value.code !== expect) return err({ stage: "auth", reply: reply.value });
			}
			return ok(undefined);
		}
		const what = offered.length > 0 ? `only ${offered.join(", ")}` : "no AUTH";
		return err({ stage: "auth", unsupported: `${options.host} offers ${what}; Mailroom speaks AUTH PLAIN and LOGIN` });
	}

	/** Sends one command line and reads its reply. */
	async command(stage: SmtpStage, line: string, deadline: number): Promise<Result<SmtpReply, SmtpFault>> {
		const written = await this.#write(stage, `${line}\r\n`, deadline);
		if (!written.ok) return written;
		return this.#read(stage, deadline);
	}

	/**
	 * Writes the message (after DATA's 354) and reads the final reply. `markerSent` in a fault says whether the
	 * end-of-data line had been handed to the socket (then the server may have accepted the message).
	 */
	async message(content: string, deadline: number): Promise<Result<SmtpReply, SmtpFault & { markerSent: boolean }>> {
		const body = await this.#write("message", dotStuff(content), deadline);
		if (!body.ok) return err({ ...body.error, markerSent: false });
		const marker = await this.#write("message", ".\r\n", deadline);
		if (!marker.ok) return err({ ...marker.error, markerSent: true });
		const reply = await this.#read("message", deadline);
		if (!reply.ok) return err({ ...reply.error, markerSent: true });
		this.messages += 1;
		return reply;
	}

	/** QUIT, politely and briefly, then close; never fails. */
	async quit(deadline: number): Promise<void> {
		if (!this.#closed) await this.command("quit", "QUIT", deadline);
		await this.close();
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#reader.cancel().catch(() => undefined);
		this.#writer.abort().catch(() => undefined);
		await this.#socket.close().catch(() => undefined);
	}

	/** The lines of the last reply (EHLO capabilities are read from them). */
	#lastLines: string[] = [];

	async #write(stage: SmtpStage, text: string, deadline: number): Promise<Result<void, SmtpFault>> {
		if (this.#closed) return err({ stage, problem: "closed", message: "the connection is closed" });
		const written = await within(this.#writer.write(encoder.encode(text)), deadline - this.#now());
		if (written === "done") return ok(undefined);
		if (written === "timeout") return this.#fault({ stage, problem: "timeout", message: `${stage}: could not write in time` });
		return this.#fault({ stage, problem: "closed", message: `${stage}: connection lost while writing (${written.error})` });
	}

	/** Reads one complete reply: `NNN-text` lines, then `NNN text`. */
	async #read(stage: SmtpStage, deadline: number): Promise<Result<SmtpReply, SmtpFault>> {
		const lines: string[] = [];
		while (true) {
			const line = await this.#line(stage, deadline);
			if (!line.ok) return line;
			const match = /^(\d{3})(?:([ -])(.*))?$/.exec(line.value);
			const code = Number(match?.[1]);
			const first = lines.length === 0 ? code : Number(/^\d{3}/.exec(lines[0] ?? "")?.[0]);
			if (!match || code < 200 || code > 599 || code !== first || lines.length >= MAX_REPLY_LINES) {
				return this.#fault({
					stage,
					problem: "garbage",
					message: `${stage}: not an SMTP reply: ${JSON.stringify(line.value.slice(0, 200))}`,
				});
			}
			lines.push(line.value);
			if (match[2] !== "-") {
				this.#lastLines = lines;
				const texts = lines.map((l) => l.slice(4));
				const enhanced = /^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/.exec(texts[0] ?? "")?.[1] ?? null;
				const text = texts.map((t, i) => (i === 0 && enhanced ? t.slice(enhanced.length).trim() : t.trim())).join(" ");
				return ok({ code, enhanced, text });
			}
		}
	}

	async #line(stage: SmtpStage, deadline: number): Promise<Result<string, SmtpFault>> {
		while (true) {
			const end = this.#buffer.indexOf("\n");
			if (end >= 0) {
				const line = this.#buffer.slice(0, end).replace(/\r$/, "");
				this.#buffer = this.#buffer.slice(end + 1);
				return ok(line);
			}
			if (this.#buffer.length > MAX_REPLY_LINE) {
				return this.#fault({ stage, problem: "garbage", message: `${stage}: a reply line longer than ${MAX_REPLY_LINE} bytes` });
			}
			if (this.#closed) return err({ stage, problem: "closed", message: "the connection is closed" });
			const read = this.#reader.read();
			const result = await within(read, deadline - this.#now());
			if (result === "timeout") return this.#fault({ stage, problem: "timeout", message: `${stage}: no reply in time` });
			if (result !== "done") {
				return this.#fault({ stage, problem: "closed", message: `${stage}: connection lost (${result.error})` });
			}
			const chunk = await read;
			if (chunk.done) return this.#fault({ stage, problem: "closed", message: `${stage}: the server closed the connection` });
			this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
		}
	}

	async #fault(fault: SmtpFault): Promise<{ ok: false; error: SmtpFault }> {
		await this.close();
		return err(fault);
	}
}

/** EHLO keywords after the first line (RFC 5321 §4.1.1.1): the extensions this client uses. */
export function parseCapabilities(lines: readonly string[]): Capabilities {
	const caps: Capabilities = { starttls: false, smtputf8: false, eightBitMime: false, auth: [], size: null };
	for (const line of lines.slice(1)) {
		const [keyword = "", ...params] = line
			.slice(4)
			.trim()
			.split(/[\s=]+/);
		switch (keyword.toUpperCase()) {
			case "STARTTLS":
				caps.starttls = true;
				break;
			case "SMTPUTF8":
				caps.smtputf8 = true;
				break;
			case "8BITMIME":
				caps.eightBitMime = true;
				break;
			case "AUTH":
				caps.auth = [...new Set([...caps.auth, ...params.map((p) => p.toUpperCase())])];
				break;
			case "SIZE": {
				const size = Number(params[0] ?? 0);
				caps.size = Number.isSafeInteger(size) && size >= 0 ? size : null;
				break;
			}
		}
	}
	return caps;
}

/** CRLF line ends, a dot doubled at the start of a line, and a final CRLF (the marker line follows). */
export function dotStuff(content: string): string {
	const lines = content.replace(/\r\n|\r|\n/g, "\n").split("\n");
	if (lines[lines.length - 1] === "") lines.pop();
	return lines
		.map((line) => (line.startsWith(".") ? `.${line}` : line))
		.join("\r\n")
		.concat("\r\n");
}

function base64(text: string): string {
	return encodeBase64(encoder.encode(text));
}

/** Waits for `promise` at most `ms`: "done", "timeout", or what it rejected with. */
async function within(promise: Promise<unknown>, ms: number): Promise<"done" | "timeout" | { error: string }> {
	const settled = await settleWithin(promise, ms);
	if (settled.kind === "value") return "done";
	return settled.kind === "timeout" ? "timeout" : { error: describe(settled.error) };
}

function describe(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}
