/**
 * The console in a real browser: Debian's chromium, driven by playwright-core, against `wrangler dev` (one browser,
 * one dev server, one signed-in tab that walks through the pages in order). Every test fails on a console error, an
 * uncaught page error, or any request that leaves the Worker's origin (such a request is also blocked); the few
 * refusals a test provokes on purpose (a wrong key, a revoked one) are declared where they happen. Each page is
 * checked with axe-core (WCAG 2 A/AA: labels, landmarks, contrast).
 *
 * `npm run screenshots` runs this file with UPDATE_SCREENSHOTS=1, which also writes docs/screenshots/*.png.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS } from "../../scripts/lib/chromium.mjs";
import { type DevServer, ensureDevTenant, findFreePort, PROJECT_ROOT, startDevServer } from "../../scripts/lib/dev-server.mjs";

const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(PROJECT_ROOT, "docs", "screenshots") : null;
const FROM = "Acme <hello@example.com>";

let server: DevServer | undefined;
let stateDir: string | undefined;
let profileDir: string | undefined;
let context: BrowserContext | undefined;
let page: Page;
let origin = "";
let adminToken = "";
let tenantId = "";
let apiKey = "";
let apiKeyId = "";
let hooks: Server | undefined;
let axeSource = "";

/**
 * The browser globals the page functions below use, typed here because this file compiles without the DOM library
 * (the test project has the Workers types). Page functions run in the browser: they reach them through globalThis.
 */
type Element = { id: string; textContent: string | null; blur(): void };
type Canvas = {
	width: number;
	height: number;
	getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
};
type Browser = {
	document: {
		activeElement: Element | null;
		documentElement: Element & { scrollWidth: number };
		querySelector(selector: string): Canvas | null;
	};
	sessionStorage: { length: number; key(index: number): string | null; getItem(key: string): string | null };
	getComputedStyle(element: unknown): { backgroundColor: string; getPropertyValue(name: string): string };
	axe?: { run(options: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> };
};

/** What went wrong in the browser during the current test. */
const problems: string[] = [];
/** HTTP statuses the current step provokes on purpose; Chrome logs each refused request as a console error. */
const expectedRefusals = { statuses: new Set<number>(), seen: 0 };

async function api<T>(method: string, pathname: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
	const res = await fetch(`${origin}${pathname}`, {
		method,
		headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	return { status: res.status, body: (await res.json()) as T };
}

async function mintKey(permission: "full_access" | "sending_access"): Promise<{ id: string; token: string }> {
	const key = await api<{ id: string; token: string }>("POST", `/admin/tenants/${tenantId}/api-keys`, adminToken, {
		name: `browser ${permission}`,
		permission,
	});
	expect(key.status).toBe(201);
	return key.body;
}

/**
 * Runs `step`, accepting refused requests with these statuses from then until the end of the test (a page may make
 * several requests with the refused key, answered in any order), and checks that at least one happened.
 */
async function expectingRefusals<T>(statuses: number[], step: () => Promise<T>): Promise<T> {
	for (const status of statuses) expectedRefusals.statuses.add(status);
	expectedRefusals.seen = 0;
	const result = await step();
	await vi.waitFor(() => expect(expectedRefusals.seen).toBeGreaterThan(0), { timeout: 5_000 });
	return result;
}

/**
 * WCAG 2 A/AA violations axe-core finds on the current page. Loaded and run through the DevTools protocol, which the
 * console's CSP does not apply to (a script tag would be refused, as it should be).
 */
async function expectAccessible(): Promise<void> {
	if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axeSource);
	const violations = await page.evaluate(async () => {
		const { axe } = globalThis as unknown as Browser;
		const result = await axe?.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
		return (result?.violations ?? [{ id: "axe-core did not load", nodes: [] }]).map(
			(v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`,
		);
	});
	expect(violations).toEqual([]);
}

async function shot(name: string, options: { fullPage?: boolean } = {}): Promise<void> {
	if (!SCREENSHOT_DIR) return;
	await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: options.fullPage ?? true, animations: "disabled" });
}

async function nav(label: string): Promise<void> {
	await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: label, exact: true }).click();
	await page.getByRole("heading", { level: 1 }).waitFor();
}

async function signIn(token: string, as: "tenant" | "operator" = "tenant"): Promise<void> {
	if (as === "operator") await page.getByLabel("The operator, with the admin token").check();
	await page.getByLabel(as === "operator" ? "Admin token" : "API key", { exact: true }).fill(token);
	await page.getByRole("button", { name: "Sign in" }).click();
}

/** A local endpoint for the tenant's webhook: answers 200 to everything. */
async function startHookReceiver(): Promise<string> {
	const receiver = createServer((req, res) => {
		req.resume();
		req.on("end", () => res.writeHead(200).end("ok"));
	});
	hooks = receiver;
	await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
	return `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
}

beforeAll(async () => {
	axeSource = await readFile(path.join(PROJECT_ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
	if (SCREENSHOT_DIR) await mkdir(SCREENSHOT_DIR, { recursive: true });
	stateDir = await mkdtemp(path.join(tmpdir(), "mailroom-e2e-console-"));
	adminToken = randomBytes(32).toString("hex");
	server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(stateDir, "state"),
		vars: {
			ADMIN_TOKEN: adminToken,
			// A flaky@ email runs out of attempts within seconds: a dead letter to replay.
			MAX_ATTEMPTS: "2",
			RETRY_BASE_SECONDS: "1",
			RETRY_MAX_SECONDS: "1",
			ALLOW_HTTP_WEBHOOKS: "true",
		},
	});
	origin = server.url;
	const tenant = await ensureDevTenant({ url: origin, adminToken, stateFile: path.join(stateDir, "dev-tenant.json") });
	tenantId = tenant.tenantId;
	apiKey = tenant.token;
	apiKeyId = tenant.apiKeyId;

	profileDir = await mkdtemp(path.join(tmpdir(), "mailroom-chromium-"));
	context = await chromium.launchPersistentContext(profileDir, {
		executablePath: CHROMIUM,
		args: CHROMIUM_ARGS,
		viewport: { width: 1280, height: 860 },
		colorScheme: "light",
		locale: "en-US",
		timezoneId: "UTC",
	});
	context.setDefaultTimeout(20_000);
	context.on("console", (message) => {
		if (message.type() !== "error") return;
		const refused = /the server responded with a status of (\d{3})/.exec(message.text());
		if (refused && expectedRefusals.statuses.has(Number(refused[1]))) {
			expectedRefusals.seen += 1;
			return;
		}
		problems.push(`console error: ${message.text()} (${message.location().url})`);
	});
	context.on("weberror", (error) => problems.push(`page error: ${error.error().message}`));
	await context.route("**/*", (route) => {
		const url = route.request().url();
		if (new URL(url).origin === origin) return route.continue();
		problems.push(`request left the Worker's origin: ${url}`);
		return route.abort("blockedbyclient");
	});
	page = context.pages()[0] ?? (await context.newPage());
});

afterAll(async () => {
	await context?.close();
	await server?.stop();
	await new Promise<void>((resolve) => (hooks ? hooks.close(() => resolve()) : resolve()));
	for (const dir of [stateDir, profileDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
	problems.length = 0;
	expectedRefusals.statuses = new Set();
	onTestFailed(() => console.log(`--- page ${page.url()} ---\n--- wrangler dev log (tail) ---\n${server?.output() ?? "(not started)"}`));
});

afterEach(() => {
	expect(problems).toEqual([]);
});

describe("the console in a browser", () => {
	let emailId = "";
	let subject = "";
	let deadEmailId = "";

	it("sends a signed-out visitor to sign-in and refuses a wrong key in words", async () => {
		// A flaky@ email, sent now so its dead letter is there by the time the dead-letter test runs.
		const flaky = await api<{ id: string }>("POST", "/emails", apiKey, {
			from: FROM,
			to: "flaky@example.org",
			subject: "Flaky",
			text: "x",
		});
		deadEmailId = flaky.body.id;

		await page.goto(`${origin}/console/emails`);
		await page.waitForURL(`${origin}/console/sign-in?next=%2Fconsole%2Femails`);
		await expectAccessible();
		await shot("sign-in");
		await expectingRefusals([403], async () => {
			await signIn(`mr_${randomBytes(32).toString("base64url")}`);
			await page.getByRole("alert").filter({ hasText: "That API key is not valid" }).waitFor();
		});
		expect(await page.evaluate(() => (globalThis as unknown as Browser).sessionStorage.length)).toBe(0);
	});

	it("signs in with an API key and opens the page that was asked for", async () => {
		await signIn(apiKey);
		await page.waitForURL(`${origin}/console/emails`);
		await page.getByRole("heading", { level: 1, name: "Emails" }).waitFor();
		const stored = await page.evaluate(() => {
			const { sessionStorage } = globalThis as unknown as Browser;
			return Array.from({ length: sessionStorage.length }, (_, i) => sessionStorage.key(i));
		});
		expect(stored).toEqual(["mailroom.console.session"]);
	});

	it("moves keyboard focus to the page's content with the skip link", async () => {
		await page.reload();
		await page.getByRole("heading", { level: 1, name: "Emails" }).waitFor();
		await page.keyboard.press("Tab");
		expect(await page.evaluate(() => (globalThis as unknown as Browser).document.activeElement?.textContent)).toBe("Skip to content");
		await page.keyboard.press("Enter");
		expect(await page.evaluate(() => (globalThis as unknown as Browser).document.activeElement?.id)).toBe("main");
	});

	it("sends a test email and follows it to delivered", async () => {
		subject = `Console test ${randomUUID().slice(0, 8)}`;
		await nav("Send");
		await page.getByLabel("From").fill(FROM);
		await page.getByRole("button", { name: "Use delivered@example.org" }).click();
		expect(await page.getByLabel("To", { exact: true }).inputValue()).toBe("delivered@example.org");
		await page.getByLabel("Subject").fill(subject);
		await page.getByLabel("HTML", { exact: true }).check();
		await page.getByLabel("HTML body").fill(`<h1 style="color:#1d4ed8">Hello</h1><p>Sent from the <b>console</b>.</p>`);
		await expectAccessible();
		await shot("send");
		await page.getByRole("button", { name: "Send", exact: true }).click();
		await page.waitForURL(/\/console\/emails\/[0-9a-f-]{36}$/);
		emailId = page.url().split("/").at(-1) ?? "";
		await page.locator(".status-line").getByText("Delivered", { exact: true }).waitFor({ timeout: 30_000 });
		await page.getByRole("heading", { level: 1, name: subject }).waitFor();
	});

	it("opens the email's timeline from the list, with its provider, html and raw message", async () => {
		await nav("Emails");
		const row = page.getByRole("row").filter({ hasText: subject });
		await row.getByText("Delivered", { exact: true }).waitFor();
		await expectAccessible();
		await shot("emails");
		await row.getByRole("link", { name: subject }).click();
		await page.waitForURL(`${origin}/console/emails/${emailId}`);
		const timeline = page.locator(".timeline > li");
		await timeline.filter({ hasText: "Delivered" }).waitFor();
		expect(await timeline.locator(".badge").allTextContents()).toEqual(["Queued", "Sent", "Delivered"]);
		expect(await timeline.filter({ hasText: "Sent" }).textContent()).toContain("via sandbox");
		const html = page.frameLocator("iframe.email-html");
		await html.getByRole("heading", { name: "Hello" }).waitFor();
		await page.getByRole("button", { name: "Show the raw message" }).click();
		await expect
			.poll(() => page.getByRole("region", { name: "Raw MIME message" }).textContent())
			.toContain(`Message-ID: <${emailId}@example.com>`);
		await expectAccessible();
		await shot("email");
	});

	it("sends with a published template: its variables, a preview, and the template on the email's page", async () => {
		const alias = `welcome-${randomUUID().slice(0, 8)}`;
		const created = await api<{ id: string }>("POST", "/templates", apiKey, {
			name: "Welcome",
			alias,
			from: FROM,
			subject: "Welcome, {{{NAME}}}",
			html: "<h1>Hello {{NAME}}</h1><p>Plan: {{PLAN}}</p>",
			variables: [
				{ key: "NAME", type: "string" },
				{ key: "PLAN", type: "string", fallback_value: "free" },
			],
		});
		expect(created.status).toBe(201);
		expect((await api("POST", `/templates/${created.body.id}/publish`, apiKey)).status).toBe(200);
		await nav("Send");
		await page.getByLabel("Send with a template").selectOption({ label: `Welcome (${alias})` });
		await page.getByLabel("NAME (string)").fill("Ada <b>");
		await page.getByLabel("To", { exact: true }).fill("delivered@example.org");
		await page.getByRole("button", { name: "Preview" }).click();
		// {{NAME}} is HTML-escaped in the html: the heading shows the angle brackets as text.
		await page.frameLocator(".preview iframe").getByRole("heading", { name: "Hello Ada <b>" }).waitFor();
		await expectAccessible();
		await shot("send-template");
		await page.getByRole("button", { name: "Send", exact: true }).click();
		await page.waitForURL(/\/console\/emails\/[0-9a-f-]{36}$/);
		await page.getByRole("heading", { level: 1, name: "Welcome, Ada <b>" }).waitFor();
		expect(await page.locator("dl.facts").first().textContent()).toContain(created.body.id);
	});

	it("adds and removes a suppression", async () => {
		const address = `blocked-${randomUUID().slice(0, 8)}@example.org`;
		await nav("Suppressions");
		await page.getByLabel("Address", { exact: true }).fill(address);
		await page.getByLabel("Reason (optional)").fill("asked to stop");
		await page.getByRole("button", { name: "Suppress" }).click();
		await page
			.getByRole("status")
			.filter({ hasText: `${address} is suppressed.` })
			.waitFor();
		await page.getByRole("row").filter({ hasText: address }).waitFor();
		await expectAccessible();
		await shot("suppressions");
		await page.getByRole("button", { name: `Remove ${address}` }).click();
		await page
			.getByRole("status")
			.filter({ hasText: `${address} was removed` })
			.waitFor();
		await expect.poll(() => page.getByRole("row").filter({ hasText: address }).count()).toBe(0);
		const listed = await api<{ data: { email: string }[] }>("GET", "/suppressions", apiKey);
		expect(listed.body.data.map((s) => s.email)).not.toContain(address);
	});

	it("replays a dead letter through a chosen provider", async () => {
		await vi.waitFor(
			async () => {
				const letters = await api<{ data: { email_id: string }[] }>("GET", "/dead-letters", apiKey);
				expect(letters.body.data.map((l) => l.email_id)).toContain(deadEmailId);
			},
			{ timeout: 30_000, interval: 500 },
		);
		await nav("Dead letters");
		const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: `${deadEmailId.slice(0, 8)}…` }) });
		await row.waitFor();
		await expectAccessible();
		await shot("dead-letters");
		await row.getByLabel(`Provider for the replay of ${deadEmailId}`).selectOption("sandbox");
		await row.getByRole("button", { name: "Replay" }).click();
		await page
			.getByRole("status")
			.filter({ hasText: `Email ${deadEmailId} is queued again through sandbox.` })
			.waitFor();
		await row.getByText("Replayed").waitFor();
		const events = await api<{ data: { type: string; detail: Record<string, unknown> | null }[] }>(
			"GET",
			`/emails/${deadEmailId}/events`,
			apiKey,
		);
		expect(events.body.data.some((e) => e.type === "queued" && e.detail?.provider === "sandbox")).toBe(true);
		// Its page shows every attempt, the provider's error and the retry delay.
		await row.getByRole("link", { name: `${deadEmailId.slice(0, 8)}…` }).click();
		const failed = page.locator(".timeline > li").filter({ hasText: "Attempt failed" }).first();
		await failed.getByText("Sandbox: flaky failure on attempt 1").waitFor();
		expect(await failed.textContent()).toMatch(/Retry in\s*[01] s/);
		await shot("email-retries");
	});

	it("draws the analytics chart with the day's emails", async () => {
		await nav("Analytics");
		const delivered = page.getByRole("list", { name: "Totals for the range" }).getByRole("listitem").filter({ hasText: "Delivered" });
		await expect.poll(async () => Number(await delivered.locator("strong").textContent())).toBeGreaterThan(0);
		// The delivered series is drawn: pixels of its colour on the canvas.
		const painted = () =>
			page.evaluate(() => {
				const { document, getComputedStyle } = globalThis as unknown as Browser;
				const canvas = document.querySelector("[data-testid=chart] canvas");
				const hex = getComputedStyle(document.documentElement).getPropertyValue("--chart-delivered").trim();
				if (!canvas || !/^#[0-9a-f]{6}$/i.test(hex)) return -1;
				const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
				const { data } = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height) ?? { data: [] };
				let n = 0;
				for (let i = 0; i < data.length; i += 4) {
					if (
						Math.abs((data[i] ?? 0) - (r ?? 0)) < 8 &&
						Math.abs((data[i + 1] ?? 0) - (g ?? 0)) < 8 &&
						Math.abs((data[i + 2] ?? 0) - (b ?? 0)) < 8
					)
						n++;
				}
				return n;
			});
		await expect.poll(painted).toBeGreaterThan(20);
		await expectAccessible();
		await shot("analytics");
	});

	it("adds a webhook endpoint, shows its secret once, and lists deliveries with their attempts", async () => {
		const endpoint = await startHookReceiver();
		await nav("Webhooks");
		await page.getByLabel("Endpoint URL").fill(endpoint);
		await page.getByRole("button", { name: "Add endpoint" }).click();
		const secret = page.getByRole("region", { name: "Signing secret" });
		expect(await secret.locator("code").textContent()).toMatch(/^whsec_/);
		await page.getByRole("link", { name: "Open the new endpoint" }).click();
		await page.getByRole("heading", { level: 1, name: "Webhook endpoint" }).waitFor();
		await api("POST", "/emails", apiKey, { from: FROM, to: "delivered@example.org", subject: "For the webhook", text: "x" });
		// The page follows new deliveries by itself.
		const row = page.getByRole("row").filter({ hasText: "email.delivered" }).first();
		await row.getByText("Delivered", { exact: true }).waitFor({ timeout: 30_000 });
		await row.getByText("1 attempt").click();
		await row.getByText("HTTP 200").first().waitFor();
		await expectAccessible();
		await shot("webhook");
	});

	it("creates an API key shown once and revokes it", async () => {
		const name = `temp ${randomUUID().slice(0, 6)}`;
		await nav("API keys");
		await page.getByLabel("Name", { exact: true }).fill(name);
		await page.getByLabel("Permission").selectOption("sending_access");
		await page.getByRole("button", { name: "Create key" }).click();
		const token = await page
			.getByRole("region", { name: `New API key “${name}”` })
			.locator("code")
			.textContent();
		expect(token).toMatch(/^mr_/);
		expect((await api("GET", "/emails", token ?? "")).status).toBe(401);
		await expectAccessible();
		await shot("api-keys");
		page.once("dialog", (dialog) => void dialog.accept());
		await page.getByRole("button", { name: `Revoke ${name}` }).click();
		await page
			.getByRole("status")
			.filter({ hasText: `“${name}” is revoked.` })
			.waitFor();
		expect((await api("GET", "/emails", token ?? "")).status).toBe(403);
	});

	it("shows the tenant's provider health", async () => {
		await nav("Health");
		// A tenant sees its own attempts and error rate per provider; circuits are the operator's (shared by tenants).
		const sandbox = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "sandbox" }) });
		await sandbox.getByRole("cell", { name: "yes" }).waitFor();
		expect(await page.getByRole("columnheader", { name: "Circuit" }).count()).toBe(0);
		await expectAccessible();
		await shot("health");
	});

	it("fits a phone's width and follows the system's dark mode", async () => {
		await page.setViewportSize({ width: 390, height: 844 });
		await page.emulateMedia({ colorScheme: "dark" });
		try {
			for (const target of [`/console/emails`, `/console/emails/${emailId}`, "/console/send"]) {
				await page.goto(`${origin}${target}`);
				await page.getByRole("heading", { level: 1 }).waitFor();
				expect(await page.evaluate(() => (globalThis as unknown as Browser).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
			}
			const background = await page.evaluate(() => {
				const { document, getComputedStyle } = globalThis as unknown as Browser;
				return getComputedStyle(document.documentElement).backgroundColor;
			});
			const [r = 255, g = 255, b = 255] = (background.match(/\d+/g) ?? []).map(Number);
			expect(r + g + b).toBeLessThan(150);
			await expectAccessible();
			await shot("send-phone-dark");
			await page.goto(`${origin}/console/emails/${emailId}`);
			await page.locator(".status-line").getByText("Delivered").waitFor();
			await shot("email-phone-dark");
		} finally {
			await page.setViewportSize({ width: 1280, height: 860 });
			await page.emulateMedia({ colorScheme: "light" });
		}
	});

	it("returns to sign-in when the key stops working, and back to the same page after signing in again", async () => {
		const url = `${origin}/console/emails/${emailId}`;
		await page.goto(url);
		await page.getByRole("heading", { level: 1, name: subject }).waitFor();
		expect((await api("DELETE", `/admin/api-keys/${apiKeyId}`, adminToken)).status).toBe(200);
		await expectingRefusals([403], async () => {
			await page.reload();
			await page.waitForURL(`${origin}/console/sign-in?next=${encodeURIComponent(`/console/emails/${emailId}`)}`);
			await page.getByRole("status").filter({ hasText: "Your session ended" }).waitFor();
		});
		const fresh = await mintKey("full_access");
		apiKey = fresh.token;
		apiKeyId = fresh.id;
		await signIn(apiKey);
		await page.waitForURL(url);
		await page.getByRole("heading", { level: 1, name: subject }).waitFor();
	});

	it("shows a sending-only key what it may do, and says in words what it may not", async () => {
		const sending = await mintKey("sending_access");
		await page.getByRole("button", { name: "Sign out" }).click();
		// Sign-in tells the two kinds of key apart by GET /api-keys: a sending-only key is refused with 401.
		await expectingRefusals([401], async () => {
			await signIn(sending.token);
			await page.waitForURL(`${origin}/console/send`);
		});
		const links = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allTextContents();
		expect(links).toEqual(["Send", "API reference"]);
		await page.getByLabel("From").fill(FROM);
		await page.getByLabel("To", { exact: true }).fill("delivered@example.org");
		await page.getByLabel("Subject").fill("From a sending-only key");
		await page.getByLabel("Text body").fill("Hello");
		await page.getByRole("button", { name: "Send", exact: true }).click();
		await page.getByRole("status").filter({ hasText: "Accepted: email" }).waitFor();
		await expectingRefusals([401], async () => {
			await page.goto(`${origin}/console/emails`);
			await page.getByRole("alert").filter({ hasText: "This API key can only send emails" }).waitFor();
		});
	});

	it("signs out and forgets the key", async () => {
		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("status").filter({ hasText: "You are signed out." }).waitFor();
		expect(page.url()).toContain("/console/sign-in");
		expect(await page.evaluate(() => (globalThis as unknown as Browser).sessionStorage.getItem("mailroom.console.session"))).toBeNull();
	});

	it("lets the operator see tenants, change a tenant's limits, see its keys and the providers' health", async () => {
		await signIn(adminToken, "operator");
		await page.waitForURL(`${origin}/console/tenants`);
		const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "dev", exact: true }) });
		await row.waitFor();
		await expectAccessible();
		await shot("tenants");
		await row.getByRole("link", { name: "dev", exact: true }).click();
		await page.getByRole("heading", { level: 1, name: "dev" }).waitFor();
		await page.getByRole("row").filter({ hasText: "browser sending_access" }).first().waitFor();
		await page.getByLabel("Daily quota (emails per UTC day)").fill("123456");
		await page.getByRole("button", { name: "Save changes" }).click();
		await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
		expect((await api<{ daily_quota: number }>("GET", `/admin/tenants/${tenantId}`, adminToken)).body.daily_quota).toBe(123456);
		await expectAccessible();
		await shot("tenant");
		await nav("Providers");
		await page
			.getByRole("row")
			.filter({ has: page.getByRole("rowheader", { name: "sandbox" }) })
			.getByText("Closed")
			.waitFor();
		await page.getByText("Ready", { exact: true }).waitFor();
		await expectAccessible();
		await shot("providers");
	});

	it("renders the API reference's operations offline at /docs", async () => {
		await page.goto(`${origin}/docs`);
		await page.getByRole("heading", { name: "Liveness" }).waitFor({ timeout: 30_000 });
		await page.getByRole("button", { name: "Open Group - Emails" }).click();
		await page.getByRole("link", { name: "Send an email" }).first().click();
		await page.getByRole("heading", { name: "Send an email" }).first().waitFor();
		await shot("docs", { fullPage: false });
	});
});
