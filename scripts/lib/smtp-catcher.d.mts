/** Types of scripts/lib/smtp-catcher.mjs, for the TypeScript tests that import it. */

export interface CaughtMessage {
	/** Envelope sender. */
	from: string;
	/** Envelope recipients. */
	to: string[];
	/** The message as received. */
	raw: Buffer;
	/** Whether the session was TLS (after STARTTLS). */
	secure: boolean;
	/** The authenticated user, if any. */
	user: string | null;
	/** Whether the connection was dropped instead of answering the message (`drop-after-data@`). */
	dropped: boolean;
}

export interface SmtpCatcherOptions {
	/** 0 (default) lets the OS pick. */
	port?: number;
	/** Defaults to 127.0.0.1. */
	host?: string;
	/** Offer STARTTLS with this key and certificate (PEM). */
	tls?: { key: string; cert: string } | null;
	/** Require AUTH PLAIN or LOGIN with these credentials. */
	auth?: { user: string; password: string } | null;
	/** Write each accepted message there as `<n>.eml`. */
	dir?: string;
	onMessage?: (message: CaughtMessage) => void;
}

export interface SmtpCatcher {
	host: string;
	port: number;
	/** Every message received, in order (dropped ones included, flagged). */
	messages: CaughtMessage[];
	/** SMTP connections accepted so far. */
	readonly connections: number;
	close(): Promise<void>;
}

export declare function startSmtpCatcher(options?: SmtpCatcherOptions): Promise<SmtpCatcher>;

/** A self-signed certificate (PEM) for 127.0.0.1 and localhost; trust it in wrangler dev with NODE_EXTRA_CA_CERTS. */
export declare function localCertificate(): Promise<{ key: string; cert: string }>;
