/**
 * A scripted SMTP server behind an in-memory socket, for the Workers-runtime tests: the network boundary of
 * src/providers/smtp/session.ts, with exact control over every reply and over where a connection breaks. (The
 * e2e tests use a real `smtp-server` over real sockets.)
 *
 * By default it behaves: 220 greeting; EHLO lists `capabilities`; STARTTLS 220 (the client's `startTls()` is
 * recorded); AUTH PLAIN/LOGIN accept `credentials`; MAIL, RCPT 250; DATA 354; the end of data 250; RSET 250;
 * QUIT 221. `reply` overrides any step: return a reply (lines joined with CRLF), `"drop"` to close the connection,
 * `"silence"` to never answer, or undefined for the default.
 */
import type { SmtpConnect, SmtpSocket } from "../../src/providers/smtp/session";

export type Step = { kind: "greeting" } | { kind: "command"; verb: string; line: string } | { kind: "data-end"; message: string };

export type Reply = string | "drop" | "silence" | undefined;

export type Transaction = { from: string; mailParams: string[]; recipients: string[]; message: string };

export type FakeSmtpOptions = {
	capabilities?: string[];
	credentials?: { user: string; password: string };
	reply?: (step: Step, connection: FakeConnection) => Reply;
	/** Every connect() fails as a refused connection would. */
	refuse?: boolean;
};

export type FakeConnection = {
	index: number;
	secureTransport: string;
	tls: boolean;
	commands: string[];
	closedByServer: boolean;
};

const DEFAULT_CAPABILITIES = ["PIPELINING", "SIZE 10240000", "STARTTLS", "AUTH PLAIN LOGIN", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"];

export function fakeSmtp(options: FakeSmtpOptions = {}) {
	const connections: FakeConnection[] = [];
	const delivered: Transaction[] = [];
	const capabilities = options.capabilities ?? DEFAULT_CAPABILITIES;
	const encoder = new TextEncoder();
	const decoder = new TextDecoder();

	const connect: SmtpConnect = (_address, socketOptions) => {
		const connection: FakeConnection = {
			index: connections.length,
			secureTransport: socketOptions.secureTransport,
			tls: socketOptions.secureTransport === "on",
			commands: [],
			closedByServer: false,
		};
		connections.push(connection);
		let push: (text: string) => void = () => undefined;
		let end: () => void = () => undefined;
		let input = "";
		let mode: "command" | "data" | "auth-user" | "auth-pass" = "command";
		let transaction: Transaction | null = null;

		const send = (reply: Reply, fallback: string) => {
			const chosen = reply ?? fallback;
			if (chosen === "silence") return;
			if (chosen === "drop") {
				connection.closedByServer = true;
				end();
				return;
			}
			push(`${chosen}\r\n`);
		};
		const answer = (step: Step, fallback: string) => send(options.reply?.(step, connection), fallback);

		const onCommand = (line: string) => {
			connection.commands.push(line);
			if (mode === "auth-user") {
				mode = "auth-pass";
				return answer({ kind: "command", verb: "AUTH-USER", line }, "334 UGFzc3dvcmQ6");
			}
			if (mode === "auth-pass") {
				mode = "command";
				return answer({ kind: "command", verb: "AUTH-PASS", line }, "235 2.7.0 Authentication successful");
			}
			const verb = line.split(" ")[0]?.toUpperCase() ?? "";
			const step: Step = { kind: "command", verb, line };
			switch (verb) {
				case "EHLO":
					return answer(
						step,
						["250-fake.test", ...capabilities.map((c, i) => `250${i === capabilities.length - 1 ? " " : "-"}${c}`)].join("\r\n"),
					);
				case "STARTTLS":
					return answer(step, "220 2.0.0 Ready to start TLS");
				case "AUTH": {
					const [, mechanism, token] = line.split(" ");
					if (mechanism?.toUpperCase() === "LOGIN") {
						mode = "auth-user";
						return answer(step, "334 VXNlcm5hbWU6");
					}
					const expected = options.credentials ? btoa(`\0${options.credentials.user}\0${options.credentials.password}`) : token;
					return answer(step, token === expected ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication credentials invalid");
				}
				case "MAIL": {
					const match = /^MAIL FROM:<([^>]*)>(.*)$/i.exec(line);
					transaction = {
						from: match?.[1] ?? "",
						mailParams: (match?.[2] ?? "").trim().split(/\s+/).filter(Boolean),
						recipients: [],
						message: "",
					};
					return answer(step, "250 2.1.0 Ok");
				}
				case "RCPT": {
					const reply = options.reply?.(step, connection);
					const address = /<([^>]*)>/.exec(line)?.[1] ?? "";
					if ((reply === undefined || reply.startsWith("25")) && transaction) transaction.recipients.push(address);
					return send(reply, "250 2.1.5 Ok");
				}
				case "DATA": {
					const reply = options.reply?.(step, connection);
					if (reply === undefined || reply.startsWith("354")) mode = "data";
					return send(reply, "354 End data with <CR><LF>.<CR><LF>");
				}
				case "RSET":
					transaction = null;
					return answer(step, "250 2.0.0 Ok");
				case "QUIT":
					answer(step, "221 2.0.0 Bye");
					connection.closedByServer = true;
					return end();
				default:
					return answer(step, "502 5.5.2 Error: command not recognized");
			}
		};

		const feed = (text: string) => {
			input += text;
			while (true) {
				if (mode === "data") {
					const endOfData = input.indexOf("\r\n.\r\n");
					const startsWithEnd = input.startsWith(".\r\n");
					if (endOfData < 0 && !startsWithEnd) return;
					const body = startsWithEnd ? "" : input.slice(0, endOfData + 2);
					input = input.slice(startsWithEnd ? 3 : endOfData + 5);
					mode = "command";
					const message = body.replace(/^\.\./gm, ".");
					const reply = options.reply?.({ kind: "data-end", message }, connection);
					if (transaction && (reply === undefined || reply.startsWith("250"))) delivered.push({ ...transaction, message });
					transaction = null;
					send(reply, "250 2.0.0 Ok: queued as FAKE");
					continue;
				}
				const lineEnd = input.indexOf("\r\n");
				if (lineEnd < 0) return;
				const line = input.slice(0, lineEnd);
				input = input.slice(lineEnd + 2);
				onCommand(line);
				if (connection.closedByServer) return;
			}
		};

		const socketOver = (): SmtpSocket => {
			const readable = new ReadableStream<Uint8Array>({
				start(controller) {
					push = (text) => {
						if (!connection.closedByServer) controller.enqueue(encoder.encode(text));
					};
					end = () => {
						try {
							controller.close();
						} catch {
							// already closed
						}
					};
				},
			});
			const writable = new WritableStream<Uint8Array>({
				write(chunk) {
					if (connection.closedByServer) throw new Error("Network connection lost.");
					feed(decoder.decode(chunk));
				},
			});
			return {
				readable,
				writable,
				opened: options.refuse ? Promise.reject(new Error("connection refused")) : Promise.resolve({}),
				close: async () => end(),
				startTls: () => {
					connection.tls = true;
					return socketOver();
				},
			};
		};
		const socket = socketOver();
		if (!options.refuse) queueMicrotask(() => answer({ kind: "greeting" }, "220 fake.test ESMTP"));
		return socket;
	};

	return { connect, connections, delivered };
}
