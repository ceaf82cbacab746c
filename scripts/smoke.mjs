#!/usr/bin/env node
/**
 * `npm run smoke -- <url> <admin-token> [options]`: proves a deployed (or local) Mailroom works end to end, then
 * removes what it created. Exit code 0 when every check passed, 1 otherwise; a short report either way.
 *
 * 1. `GET /health` answers.
 * 2. A throwaway tenant (providers: sandbox, whatever PROVIDERS says) and a key for it.
 * 3. A tenant webhook for email.delivered, pointing at a receiver this script starts (see below), or at --webhook-url.
 * 4. One email to delivered@example.org through the sandbox; `GET /emails/:id` is polled until it is `delivered`.
 * 5. The webhook: with our receiver, the signed `email.delivered` request must arrive and verify (Standard Webhooks,
 *    with the endpoint's secret). With --webhook-url, its delivery must be recorded as delivered (a 2xx answer).
 * 6. `DELETE /admin/tenants/:id`: the tenant leaves the admin API, its key is revoked, its endpoint deleted.
 *
 * Where the receiver listens: for a Worker on this machine (wrangler dev) on 127.0.0.1, which the Worker reaches
 * (local dev allows http:// endpoints). A deployed Worker reaches only public https:// endpoints, so give either
 * --receiver-url (a public https URL that forwards to this machine, e.g. a `cloudflared tunnel --url` to --listen) or
 * --webhook-url (any endpoint of yours that answers 2xx); with neither, the webhook check is skipped and says so.
 *
 * Options: --webhook-url URL, --receiver-url URL, --listen HOST:PORT (default 127.0.0.1:0), --timeout SECONDS (120).
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { request } from "./lib/dev-server.mjs";

const SMOKE_DOMAIN = "smoke.example.com";
const TO = "delivered@example.org";
const POLL_MS = 500;

class SmokeFailure extends Error {
	name = "SmokeFailure";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function usage() {
	return "Usage: npm run smoke -- <worker url> <admin token> [--webhook-url URL | --receiver-url URL [--listen HOST:PORT]] [--timeout SECONDS]";
}

/** A JSON request to the Worker; the status and parsed body. Network failures become a SmokeFailure. */
async function call(base, method, pathname, token, body) {
	try {
		return await request(base, method, pathname, token, body, { timeoutMs: 15_000 });
	} catch (err) {
		const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
		throw new SmokeFailure(`${method} ${pathname} did not answer (${cause}); is ${base} the Worker's URL?`);
	}
}

/** The body of an expected answer, or a SmokeFailure naming the request and what came back. */
function expectStatus(res, status, what) {
	if (res.status === status) return res.json;
	const hint = res.status === 401 || res.status === 403 ? " (is the admin token the deployment's ADMIN_TOKEN?)" : "";
	throw new SmokeFailure(`${what} answered ${res.status}${hint}: ${res.text.slice(0, 300)}`);
}

/** An HTTP receiver for tenant webhooks; resolves once listening. */
function startReceiver(host, port) {
	const received = [];
	const waiters = new Set();
	const server = http.createServer((req, res) => {
		const chunks = [];
		req.on("data", (c) => chunks.push(c));
		req.on("end", () => {
			received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
			res.writeHead(200, { "Content-Type": "application/json" }).end('{"received":true}');
			for (const wake of waiters) wake();
		});
	});
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, host, () => {
			const address = server.address();
			resolve({
				port: typeof address === "object" && address ? address.port : port,
				received,
				/** Resolves when a request arrives or after `ms`. */
				next: (ms) =>
					new Promise((wake) => {
						const done = () => {
							waiters.delete(done);
							wake();
						};
						waiters.add(done);
						setTimeout(done, ms);
					}),
				close: () => new Promise((done) => server.close(() => done())),
			});
		});
	});
}

function isLoopback(url) {
	return ["localhost", "127.0.0.1", "[::1]"].includes(new URL(url).hostname);
}

async function smoke({ base, adminToken, webhookUrl, receiverUrl, listen, timeoutMs, log }) {
	const [host, port] = listen;
	const started = Date.now();
	const deadline = started + timeoutMs;
	const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
	let tenantId;
	let receiver;
	try {
		const health = await call(base, "GET", "/health", "");
		expectStatus(health, 200, "GET /health");
		log(`✓ /health answers`);

		const name = `smoke-${new Date().toISOString().replace(/[:.]/g, "-")}`;
		const tenant = expectStatus(
			await call(base, "POST", "/admin/tenants", adminToken, { name, allowed_from_domains: [SMOKE_DOMAIN], providers: ["sandbox"] }),
			201,
			"POST /admin/tenants",
		);
		tenantId = tenant.id;
		const key = expectStatus(
			await call(base, "POST", `/admin/tenants/${tenantId}/api-keys`, adminToken, { name: "smoke", permission: "full_access" }),
			201,
			"POST /admin/tenants/:id/api-keys",
		);
		log(`✓ created throwaway tenant ${name} and its API key`);

		let endpoint = webhookUrl;
		if (!endpoint && (receiverUrl || isLoopback(base))) {
			receiver = await startReceiver(host, port);
			endpoint = receiverUrl ?? `http://127.0.0.1:${receiver.port}/smoke-webhook`;
			if (receiverUrl) log(`✓ receiver listening on ${host}:${receiver.port}, reached as ${receiverUrl}`);
		}
		let webhook;
		if (endpoint) {
			webhook = expectStatus(
				await call(base, "POST", "/webhooks", key.token, { endpoint, events: ["email.delivered"] }),
				201,
				"POST /webhooks",
			);
			log(`✓ tenant webhook points at ${endpoint}`);
		}

		const sentAt = Date.now();
		const email = expectStatus(
			await call(base, "POST", "/emails", key.token, {
				from: `Mailroom smoke test <smoke@${SMOKE_DOMAIN}>`,
				to: TO,
				subject: `Mailroom smoke test ${randomUUID()}`,
				text: "Sent by npm run smoke through the sandbox provider; nothing leaves Mailroom.",
			}),
			200,
			"POST /emails",
		);
		log(`✓ accepted email ${email.id} (sandbox provider)`);

		let status = "";
		while (status !== "delivered") {
			const read = expectStatus(await call(base, "GET", `/emails/${email.id}`, key.token), 200, "GET /emails/:id");
			status = read.last_event;
			if (["failed", "bounced", "complained", "canceled"].includes(status)) {
				throw new SmokeFailure(`email ${email.id} ended ${status} instead of delivered; see GET /emails/${email.id}/events`);
			}
			if (status === "delivered") break;
			if (Date.now() > deadline) {
				throw new SmokeFailure(`email ${email.id} was still ${status} after ${seconds(timeoutMs)}: is the send queue's consumer running?`);
			}
			await sleep(POLL_MS);
		}
		log(`✓ delivered ${seconds(Date.now() - sentAt)} after the send`);

		if (!webhook) {
			log("– webhook check skipped: a deployed Worker cannot reach this machine; pass --receiver-url or --webhook-url");
		} else if (receiver) {
			const verifier = new Webhook(webhook.signing_secret);
			let verified;
			while (!verified) {
				for (const request of receiver.received.splice(0)) {
					let event;
					try {
						event = verifier.verify(request.body, request.headers);
					} catch (err) {
						throw new SmokeFailure(`a webhook arrived with a signature that does not verify (${err instanceof Error ? err.message : err})`);
					}
					if (event?.type === "email.delivered" && event.data?.email_id === email.id) verified = event;
				}
				if (verified) break;
				if (Date.now() > deadline) throw new SmokeFailure(`no signed email.delivered webhook arrived within ${seconds(timeoutMs)}`);
				await receiver.next(Math.max(0, Math.min(1000, deadline - Date.now())));
			}
			log("✓ signed email.delivered webhook arrived and verified (Standard Webhooks)");
		} else {
			let delivery;
			while (!delivery) {
				const list = expectStatus(
					await call(base, "GET", `/webhooks/${webhook.id}/deliveries`, key.token),
					200,
					"GET /webhooks/:id/deliveries",
				);
				delivery = list.data.find((d) => d.email_id === email.id && d.event_type === "email.delivered" && d.status === "delivered");
				const failedOne = list.data.find((d) => d.email_id === email.id && d.status === "failed");
				if (failedOne) throw new SmokeFailure(`the webhook to ${endpoint} failed: ${failedOne.last_error ?? failedOne.last_status_code}`);
				if (delivery) break;
				if (Date.now() > deadline)
					throw new SmokeFailure(`${endpoint} did not accept the email.delivered webhook within ${seconds(timeoutMs)}`);
				await sleep(POLL_MS);
			}
			log(`✓ email.delivered webhook accepted by ${endpoint} (${delivery.last_status_code})`);
		}
	} finally {
		await receiver?.close();
		if (tenantId) {
			const removed = await call(base, "DELETE", `/admin/tenants/${tenantId}`, adminToken).catch((err) => ({
				status: 0,
				text: String(err),
			}));
			if (removed.status === 200) log("✓ removed the smoke tenant, its key and its webhook");
			else log(`✘ could not remove smoke tenant ${tenantId} (${removed.status}): DELETE /admin/tenants/${tenantId} by hand`);
		}
	}
	return Date.now() - started;
}

async function main() {
	let parsed;
	try {
		parsed = parseArgs({
			allowPositionals: true,
			options: {
				"webhook-url": { type: "string" },
				"receiver-url": { type: "string" },
				listen: { type: "string" },
				timeout: { type: "string" },
			},
		});
	} catch (err) {
		throw new SmokeFailure(`${err instanceof Error ? err.message : err}. ${usage()}`);
	}
	const { values, positionals } = parsed;
	const [url, adminToken] = positionals;
	if (!url || !adminToken || positionals.length > 2) throw new SmokeFailure(usage());
	const base = url.replace(/\/+$/, "");
	const listen = /^(?:(.+):)?(\d+)$/.exec(values.listen ?? "0");
	if (!listen) throw new SmokeFailure(`--listen must be HOST:PORT or PORT: ${values.listen}`);
	const [, host = "127.0.0.1", port = "0"] = listen;
	const timeoutMs = Number(values.timeout ?? 120) * 1000;
	if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SmokeFailure(`--timeout must be a number of seconds: ${values.timeout}`);
	console.log(`Mailroom smoke test against ${base}`);
	const ms = await smoke({
		base,
		adminToken,
		webhookUrl: values["webhook-url"],
		receiverUrl: values["receiver-url"],
		listen: [host, Number(port)],
		timeoutMs,
		log: (line) => console.log(`  ${line}`),
	});
	console.log(`PASS in ${(ms / 1000).toFixed(1)} s`);
}

main().catch((err) => {
	console.error(err instanceof SmokeFailure ? `FAIL: ${err.message}` : `FAIL (unexpected): ${err instanceof Error ? err.stack : err}`);
	process.exit(1);
});
