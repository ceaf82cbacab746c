import { afterEach, describe, expect, it, vi } from "vitest";
import { ok } from "../../../src/lib/result";
import { createResendProvider } from "../../../src/providers/resend/client";
import type { LookupEvent, LookupQuery } from "../../../src/providers/types";
import { answer, prism } from "../../helpers/providers";

const RESEND_ID = "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794";
const CREATED_AT = "2026-11-20T09:00:00.000Z";
const CREATED_MS = Date.parse(CREATED_AT);
const SENT_AT = Date.parse("2026-11-20T08:59:59.000Z");

const QUERY: LookupQuery = {
	emailId: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f11",
	providerMessageId: RESEND_ID,
	recipients: ["ann@example.com", "bob@example.com"],
	sentAt: SENT_AT,
};

function provider(options: { baseUrl?: string; timeoutMs?: number; fetch?: typeof fetch } = {}) {
	return createResendProvider({
		apiKey: "re_test_key",
		baseUrl: options.baseUrl ?? "https://api.resend.test",
		timeoutMs: options.timeoutMs ?? 5_000,
		fetch: options.fetch,
	});
}

function lookUp(query: Partial<LookupQuery> = {}, options: Parameters<typeof provider>[0] = {}) {
	const resend = provider(options);
	if (!resend.lookup) throw new Error("the Resend adapter has no lookup");
	return resend.lookup({ ...QUERY, ...query });
}

/** resend.openapi.yaml `Email`, as Resend answers `GET /emails/{id}`. */
function emailObject(overrides: Record<string, unknown> = {}) {
	return {
		object: "email",
		id: RESEND_ID,
		message_id: "<202611200900.49a3999c@send.acme.example.com>",
		to: ["Ann <Ann@Example.com>", "bob@example.com"],
		from: "Acme <hello@acme.example.com>",
		created_at: CREATED_AT,
		subject: "Your receipt",
		bcc: [],
		cc: [],
		reply_to: [],
		last_event: "delivered",
		...overrides,
	};
}

function found(events: LookupEvent[]) {
	return ok({ found: true, providerMessageId: RESEND_ID, events });
}

function resendError(status: number, name: string, headers: Record<string, string> = {}) {
	return answer(status, { statusCode: status, name, message: `${name} happened` }, headers);
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("Resend lookup against the Resend OpenAPI spec (Prism)", () => {
	// Prism's static Email fills `last_event` with the enum's first value (`bounced`) and `created_at` with its example.
	it("reads the spec's Email object for GET /emails/{email_id}", async () => {
		const mock = prism("prismResendUrl");
		const result = await lookUp({}, mock);
		expect(mock.violations).toEqual([]);
		expect(result).toEqual(
			found([
				{
					type: "bounced",
					bounce: "hard",
					at: Date.parse("2023-04-03 22:13:42.674981+00"),
					recipient: "delivered@resend.dev",
					detail: {},
				},
			]),
		);
	});
});

describe("Resend lookup request", () => {
	it("gets the email by Resend's id with the API key", async () => {
		const spy = answer(200, emailObject());
		await lookUp();
		const [input, init] = spy.mock.calls[0] ?? [];
		expect(String(input)).toBe(`https://api.resend.test/emails/${RESEND_ID}`);
		expect(init?.method).toBe("GET");
		expect(new Headers(init?.headers).get("authorization")).toBe("Bearer re_test_key");
		expect(init?.body).toBeUndefined();
	});

	it("percent-encodes the id in the path", async () => {
		const spy = answer(200, emailObject());
		await lookUp({ providerMessageId: "a/b c" });
		expect(String(spy.mock.calls[0]?.[0])).toBe("https://api.resend.test/emails/a%2Fb%20c");
	});

	it("refuses a lookup without Resend's id, asking nothing", async () => {
		const spy = answer(200, emailObject());
		expect(await lookUp({ providerMessageId: null })).toEqual({
			ok: false,
			error: { kind: "permanent", scope: "provider", message: "Resend lookup needs the provider message id" },
		});
		expect(spy).not.toHaveBeenCalled();
	});
});

describe("Resend last_event mapping", () => {
	it.each([
		["sent", [{ type: "sent", at: CREATED_MS, detail: {} }]],
		["delivered", [{ type: "delivered", at: CREATED_MS, detail: {} }]],
		["delivery_delayed", [{ type: "delivery_delayed", at: CREATED_MS, detail: {} }]],
		["bounced", [{ type: "bounced", bounce: "hard", at: CREATED_MS, recipient: "ann@example.com", detail: {} }]],
		["complained", [{ type: "complained", at: CREATED_MS, recipient: "ann@example.com", detail: {} }]],
		[
			"opened",
			[
				{ type: "delivered", at: CREATED_MS, detail: {} },
				{ type: "opened", at: CREATED_MS, detail: {} },
			],
		],
		[
			"clicked",
			[
				{ type: "delivered", at: CREATED_MS, detail: {} },
				{ type: "clicked", at: CREATED_MS, detail: {} },
			],
		],
		["failed", [{ type: "failed", at: CREATED_MS, detail: {} }]],
		["suppressed", [{ type: "failed", at: CREATED_MS, detail: { reason: "suppressed" } }]],
		["canceled", [{ type: "failed", at: CREATED_MS, detail: { reason: "canceled" } }]],
		["queued", []],
		["scheduled", []],
		["archived_in_some_future_api", []],
	] as [string, LookupEvent[]][])("maps last_event %s", async (lastEvent, events) => {
		answer(200, emailObject({ last_event: lastEvent }));
		expect(await lookUp()).toEqual(found(events));
	});

	it("reports a found email without events when last_event is missing", async () => {
		answer(200, emailObject({ last_event: undefined }));
		expect(await lookUp()).toEqual(found([]));
	});

	it("dates events from sentAt when created_at cannot be read", async () => {
		answer(200, emailObject({ created_at: "yesterday-ish" }));
		expect(await lookUp()).toEqual(found([{ type: "delivered", at: SENT_AT, detail: {} }]));
	});

	it("dates events now when neither created_at nor sentAt is known", async () => {
		vi.spyOn(Date, "now").mockReturnValue(1_800_000_000_000);
		answer(200, emailObject({ created_at: undefined }));
		expect(await lookUp({ sentAt: null })).toEqual(found([{ type: "delivered", at: 1_800_000_000_000, detail: {} }]));
	});

	it("names the first to address as a bounce's recipient when to is a single string", async () => {
		answer(200, emailObject({ to: "Carol <CAROL@example.com>", last_event: "bounced" }));
		expect(await lookUp()).toEqual(
			found([{ type: "bounced", bounce: "hard", at: CREATED_MS, recipient: "carol@example.com", detail: {} }]),
		);
	});
});

describe("Resend lookup outcomes", () => {
	it("reports no such email on 404 not_found", async () => {
		resendError(404, "not_found");
		expect(await lookUp()).toEqual(ok({ found: false }));
	});

	it("treats a 404 that is not Resend's not_found as a provider-level permanent error", async () => {
		answer(404, "<html>Not Found</html>");
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider", status: 404 } });
	});

	it("treats 429 as rate limited for Retry-After seconds", async () => {
		resendError(429, "rate_limit_exceeded", { "Retry-After": "3" });
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "rate_limited", status: 429, retryAfterSeconds: 3 } });
	});

	it.each([500, 503])("treats HTTP %i as transient", async (status) => {
		resendError(status, "internal_server_error");
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient", status } });
	});

	it.each([
		[401, "missing_api_key"],
		[403, "invalid_api_key"],
		[422, "invalid_parameter"],
	])("treats HTTP %i %s as a provider-level permanent error", async (status, name) => {
		resendError(status, name);
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "permanent", scope: "provider", status, code: name } });
	});

	it("treats a 200 without an email object as transient", async () => {
		answer(200, "<html>ok</html>");
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats a network error as transient", async () => {
		vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
		expect(await lookUp()).toMatchObject({ ok: false, error: { kind: "transient" } });
	});

	it("treats no answer within timeoutMs as transient (a lookup may be asked again)", async () => {
		vi.spyOn(globalThis, "fetch").mockImplementation(
			(_input, init) =>
				new Promise((_resolve, reject) => {
					init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
				}),
		);
		expect(await lookUp({}, { timeoutMs: 50 })).toMatchObject({
			ok: false,
			error: { kind: "transient", message: "no answer within 50 ms" },
		});
	});
});
