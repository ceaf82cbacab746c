/**
 * Vitest globalSetup (runs in Node): a real SMTP server (scripts/lib/smtp-catcher.mjs: plain, AUTH required) for
 * the Workers-runtime tests that connect with the real `cloudflare:sockets`, and a small HTTP view of what it
 * received (`GET /` → `{ connections, messages: [{ from, to, raw (base64) }] }`), since those tests run in workerd
 * and cannot read this process's memory. Provides `smtpCatcherPort`, `smtpCatcherAuth` and `smtpCatcherViewUrl`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { startSmtpCatcher } from "../../scripts/lib/smtp-catcher.mjs";

declare module "vitest" {
	export interface ProvidedContext {
		smtpCatcherPort: number;
		/** e.g. `http://127.0.0.1:41234` */
		smtpCatcherViewUrl: string;
		/** The AUTH credentials it requires. */
		smtpCatcherAuth: { user: string; password: string };
	}
}

const SMTP_CATCHER_AUTH = { user: "catcher", password: "catcher-password" };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
	const catcher = await startSmtpCatcher({ auth: SMTP_CATCHER_AUTH });
	const view = createServer((_req, res) => {
		const messages = catcher.messages.map((m) => ({ from: m.from, to: m.to, raw: m.raw.toString("base64"), dropped: m.dropped }));
		res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ connections: catcher.connections, messages }));
	});
	await new Promise<void>((resolve) => view.listen(0, "127.0.0.1", resolve));
	project.provide("smtpCatcherPort", catcher.port);
	project.provide("smtpCatcherAuth", SMTP_CATCHER_AUTH);
	project.provide("smtpCatcherViewUrl", `http://127.0.0.1:${(view.address() as AddressInfo).port}`);
	return async () => {
		await new Promise<void>((resolve) => view.close(() => resolve()));
		await catcher.close();
	};
}
