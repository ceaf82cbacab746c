/**
 * A local SMTP server that catches mail: `npm run dev -- --smtp`, the end-to-end tests and the bench send to it.
 * Built on `smtp-server` (Nodemailer's). Plain (STARTTLS not offered) or with STARTTLS when given a certificate;
 * AUTH PLAIN/LOGIN required when given credentials.
 *
 * Scripted replies, by address (so a test or a person trying things can provoke each outcome):
 * - sender local part `drop-before-mail`: the connection is dropped at MAIL FROM (nothing was sent);
 * - recipient `unknown@…`: `550 5.1.1 User unknown`;
 * - recipient `greylist@…`: `451 4.7.1` the first time a sender tries it, accepted afterwards (greylisting);
 * - recipient `drop-after-data@…`: the whole message is read, then the connection dropped before the final reply
 *   (the client cannot know whether it was accepted; it is recorded here with `dropped: true`).
 * Everything else is accepted and recorded (and written to `dir` as `<n>.eml` when one is given).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { generate } from "selfsigned";
import { SMTPServer } from "smtp-server";

/**
 * A self-signed certificate for 127.0.0.1 and localhost (EC P-256), for a catcher that offers STARTTLS. The Worker's
 * TLS trusts it when wrangler runs with NODE_EXTRA_CA_CERTS naming a file that holds `cert`.
 *
 * @returns {Promise<{ key: string, cert: string }>} PEM
 */
export async function localCertificate() {
	const pems = await generate([{ name: "commonName", value: "127.0.0.1" }], {
		keyType: "ec",
		curve: "P-256",
		extensions: [
			{ name: "basicConstraints", cA: true },
			{
				name: "subjectAltName",
				altNames: [
					{ type: 7, ip: "127.0.0.1" },
					{ type: 2, value: "localhost" },
				],
			},
		],
	});
	return { key: pems.private, cert: pems.cert };
}

/**
 * @typedef {object} CaughtMessage
 * @property {string} from envelope sender
 * @property {string[]} to envelope recipients
 * @property {Buffer} raw the message as received
 * @property {boolean} secure whether the session was TLS
 * @property {string | null} user the authenticated user
 * @property {boolean} dropped whether the connection was dropped instead of answering it
 */

/**
 * @param {object} [options]
 * @param {number} [options.port] 0 (default) lets the OS pick
 * @param {string} [options.host] default 127.0.0.1
 * @param {{ key: string, cert: string } | null} [options.tls] offer STARTTLS with this key and certificate (PEM)
 * @param {{ user: string, password: string } | null} [options.auth] require AUTH with these credentials
 * @param {string} [options.dir] write each accepted message there as `<n>.eml`
 * @param {(message: CaughtMessage) => void} [options.onMessage]
 */
export async function startSmtpCatcher(options = {}) {
	const { port = 0, host = "127.0.0.1", tls = null, auth = null, dir, onMessage } = options;
	/** @type {CaughtMessage[]} */
	const messages = [];
	const greylisted = new Set();
	let connections = 0;
	if (dir) await mkdir(dir, { recursive: true });

	const local = (address) => address.slice(0, address.lastIndexOf("@")).toLowerCase();
	const refuse = (code, text) => Object.assign(new Error(text), { responseCode: code });
	const dropConnection = (session) => {
		for (const connection of server.connections) {
			if (connection.session === session || connection.id === session.id) connection._socket.destroy();
		}
	};

	const server = new SMTPServer({
		banner: "Mailroom SMTP catcher",
		logger: false,
		secure: false,
		...(tls ? { key: tls.key, cert: tls.cert } : { disabledCommands: ["STARTTLS"] }),
		authOptional: auth === null,
		allowInsecureAuth: tls === null,
		authMethods: ["PLAIN", "LOGIN"],
		size: 25 * 1024 * 1024,
		onConnect(_session, callback) {
			connections += 1;
			callback();
		},
		onAuth(credentials, _session, callback) {
			if (auth && credentials.username === auth.user && credentials.password === auth.password) {
				callback(null, { user: credentials.username });
			} else {
				callback(refuse(535, "5.7.8 Authentication credentials invalid"));
			}
		},
		onMailFrom(address, session, callback) {
			if (local(address.address) === "drop-before-mail") {
				dropConnection(session);
				return;
			}
			callback();
		},
		onRcptTo(address, session, callback) {
			const who = local(address.address);
			if (who === "unknown") return callback(refuse(550, "5.1.1 User unknown"));
			if (who === "greylist") {
				const key = `${session.envelope.mailFrom ? session.envelope.mailFrom.address : ""}|${address.address}`.toLowerCase();
				if (!greylisted.has(key)) {
					greylisted.add(key);
					return callback(refuse(451, "4.7.1 Greylisted, please try again later"));
				}
			}
			callback();
		},
		onData(stream, session, callback) {
			const chunks = [];
			stream.on("data", (chunk) => chunks.push(chunk));
			stream.on("end", () => {
				const to = session.envelope.rcptTo.map((r) => r.address);
				const drop = to.some((address) => local(address) === "drop-after-data");
				/** @type {CaughtMessage} */
				const message = {
					from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
					to,
					raw: Buffer.concat(chunks),
					secure: Boolean(session.secure),
					user: typeof session.user === "string" ? session.user : null,
					dropped: drop,
				};
				messages.push(message);
				onMessage?.(message);
				const saved = dir ? writeFile(path.join(dir, `${messages.length}.eml`), message.raw) : Promise.resolve();
				saved.then(
					() => (drop ? dropConnection(session) : callback(null, `2.0.0 Ok: queued as ${messages.length}`)),
					(err) => callback(err),
				);
			});
		},
	});
	server.on("error", () => undefined);
	await new Promise((resolve, reject) => {
		server.server.once("error", reject);
		server.listen(port, host, () => resolve(undefined));
	});
	const address = server.server.address();
	return {
		host,
		port: typeof address === "object" && address ? address.port : port,
		messages,
		/** SMTP connections accepted so far. */
		get connections() {
			return connections;
		},
		close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
	};
}
