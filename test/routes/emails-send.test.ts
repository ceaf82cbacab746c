import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, counts, email, failNthBatch, seedTenant } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

type ErrorBody = { statusCode: number; name: string; message: string };

describe("POST /emails", () => {
	it("accepts a valid email, stores it queued with a queued event, and enqueues only ids", async () => {
		const t = await seedTenant();
		const send = vi.spyOn(env.SEND_QUEUE, "send");
		const res = await call<{ id: string }>("POST", "/emails", {
			key: t.key,
			body: email(t, {
				to: ["a@example.org", "B <b@example.org>"],
				cc: "c@example.org",
				bcc: ["d@example.org"],
				reply_to: "r@example.org",
				html: "<p>Hi</p>",
				headers: { "X-Entity-Ref-ID": "123" },
				tags: [{ name: "category", value: "welcome" }],
			}),
		});
		expect(res.status).toBe(200);
		expect(Object.keys(res.body)).toEqual(["id"]);
		const row = await env.DB.prepare("SELECT status, last_event, to_addresses, cc_addresses, headers FROM emails WHERE id = ?")
			.bind(res.body.id)
			.first<Record<string, string>>();
		expect(row).toMatchObject({ status: "queued", last_event: "queued" });
		expect(JSON.parse(row?.to_addresses ?? "")).toEqual(["a@example.org", "B <b@example.org>"]);
		expect(JSON.parse(row?.cc_addresses ?? "")).toEqual(["c@example.org"]);
		expect(JSON.parse(row?.headers ?? "")).toEqual({ "X-Entity-Ref-ID": "123" });
		expect(send).toHaveBeenCalledWith({ v: 1, id: res.body.id, tenantId: t.tenantId }, { delaySeconds: 0 });
		const events = await call<{ data: { type: string }[] }>("GET", `/emails/${res.body.id}/events`, { key: t.key });
		expect(events.body.data.map((e) => e.type)).toEqual(["queued"]);
	});

	it("accepts a from address on a subdomain of an allowed domain", async () => {
		const t = await seedTenant();
		const res = await call("POST", "/emails", { key: t.key, body: email(t, { from: `mail@news.${t.domain}` }) });
		expect(res.status).toBe(200);
	});

	it("keeps the row and answers with its id when the queue send fails", async () => {
		const t = await seedTenant();
		vi.spyOn(env.SEND_QUEUE, "send").mockRejectedValue(new Error("queue unavailable"));
		const res = await call<{ id: string }>("POST", "/emails", { key: t.key, body: email(t) });
		expect(res.status).toBe(200);
		const row = await env.DB.prepare("SELECT status FROM emails WHERE id = ?").bind(res.body.id).first("status");
		expect(row).toBe("queued");
	});

	it("writes nothing and answers 500 in the documented shape when the D1 write fails", async () => {
		const t = await seedTenant();
		// A plain send's one batch: the key, the suppression probe and the row together.
		failNthBatch(1, "D1 is unavailable");
		const send = vi.spyOn(env.SEND_QUEUE, "send");
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "d1-down" } });
		vi.restoreAllMocks();
		expect(res.status).toBe(500);
		expect(res.body).toEqual({ statusCode: 500, name: "internal_server_error", message: "An unexpected error occurred." });
		expect(send).not.toHaveBeenCalled();
		// Nothing was written, the key included, so the client's retry with the same key succeeds at once.
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
		const retry = await call("POST", "/emails", { key: t.key, body: email(t), headers: { "Idempotency-Key": "d1-down" } });
		expect(retry.status).toBe(200);
	});

	it("stores base64 attachments in R2 under the email id and records path attachments", async () => {
		const t = await seedTenant();
		const res = await call<{ id: string }>("POST", "/emails", {
			key: t.key,
			body: email(t, {
				attachments: [
					{ filename: "hello.txt", content: btoa("hello world"), content_type: "text/plain" },
					{ filename: "logo.png", content: { type: "Buffer", data: [137, 80, 78, 71] }, content_id: "logo" },
					{ path: "https://files.example.org/report.pdf" },
				],
			}),
		});
		expect(res.status).toBe(200);
		const first = await env.ATTACHMENTS.get(`${res.body.id}/0`);
		expect(await first?.text()).toBe("hello world");
		expect(first?.httpMetadata?.contentType).toBe("text/plain");
		const second = await env.ATTACHMENTS.get(`${res.body.id}/1`);
		expect(new Uint8Array((await second?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(new Uint8Array([137, 80, 78, 71]));
		const stored = await env.DB.prepare("SELECT attachments FROM emails WHERE id = ?").bind(res.body.id).first<string>("attachments");
		expect(JSON.parse(stored ?? "[]")).toEqual([
			{ filename: "hello.txt", contentType: "text/plain", contentId: null, size: 11, r2Key: `${res.body.id}/0`, path: null },
			{ filename: "logo.png", contentType: null, contentId: "logo", size: 4, r2Key: `${res.body.id}/1`, path: null },
			{ filename: null, contentType: null, contentId: null, size: null, r2Key: null, path: "https://files.example.org/report.pdf" },
		]);
	});

	it("removes uploaded attachments when the D1 write fails", async () => {
		const t = await seedTenant();
		failNthBatch(2, "D1 is unavailable");
		const put = vi.spyOn(env.ATTACHMENTS, "put");
		const res = await call("POST", "/emails", {
			key: t.key,
			body: email(t, { attachments: [{ filename: "a.txt", content: btoa("a") }] }),
		});
		vi.restoreAllMocks();
		expect(res.status).toBe(500);
		const key = put.mock.calls[0]?.[0];
		expect(typeof key).toBe("string");
		expect(await env.ATTACHMENTS.head(String(key))).toBeNull();
	});

	it("refuses attachments over the decoded size limit with 422 invalid_attachment and stores nothing", async () => {
		const t = await seedTenant();
		const put = vi.spyOn(env.ATTACHMENTS, "put");
		// MAX_ATTACHMENT_BYTES is 10 MiB: two 6 MiB files exceed it together.
		const six = btoa("x".repeat(6 * 1024 * 1024));
		const res = await call<ErrorBody>("POST", "/emails", {
			key: t.key,
			body: email(t, {
				attachments: [
					{ filename: "a.bin", content: six },
					{ filename: "b.bin", content: six },
				],
			}),
		});
		expect(res.status).toBe(422);
		expect(res.body.name).toBe("invalid_attachment");
		expect(put).not.toHaveBeenCalled();
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});
});

describe("POST /emails rejects bad input with the documented shape and writes nothing", () => {
	const cases: [string, (domain: string) => { body?: unknown; rawBody?: string; headers?: Record<string, string> }, number, string][] = [
		["malformed JSON", () => ({ rawBody: '{"from": ' }), 400, "validation_error"],
		["a JSON array instead of an object", () => ({ rawBody: "[]" }), 422, "validation_error"],
		["a non-JSON content type", () => ({ rawBody: "from=a", headers: { "content-type": "text/plain" } }), 415, "validation_error"],
		["a missing to", (d) => ({ body: { from: `a@${d}`, subject: "s", text: "t" } }), 422, "missing_required_field"],
		["a missing subject", (d) => ({ body: { from: `a@${d}`, to: "u@example.org", text: "t" } }), 422, "missing_required_field"],
		["a missing from", () => ({ body: { to: "u@example.org", subject: "s", text: "t" } }), 422, "missing_required_field"],
		["no html, text or template", (d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s" } }), 422, "validation_error"],
		["a number as subject", (d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: 42, text: "t" } }), 422, "validation_error"],
		["an object as to", (d) => ({ body: { from: `a@${d}`, to: { a: 1 }, subject: "s", text: "t" } }), 422, "validation_error"],
		[
			"51 recipients",
			(d) => ({ body: { from: `a@${d}`, to: Array.from({ length: 51 }, (_, i) => `u${i}@example.org`), subject: "s", text: "t" } }),
			422,
			"validation_error",
		],
		["an empty recipient list", (d) => ({ body: { from: `a@${d}`, to: [], subject: "s", text: "t" } }), 422, "validation_error"],
		["an invalid recipient", (d) => ({ body: { from: `a@${d}`, to: "not-an-address", subject: "s", text: "t" } }), 422, "validation_error"],
		[
			"an invalid cc",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", cc: ["x@"], subject: "s", text: "t" } }),
			422,
			"validation_error",
		],
		["an invalid from", () => ({ body: { from: "nobody", to: "u@example.org", subject: "s", text: "t" } }), 422, "invalid_from_address"],
		[
			"a from outside the allowed domains",
			() => ({ body: { from: "a@evil.example", to: "u@example.org", subject: "s", text: "t" } }),
			422,
			"invalid_from_address",
		],
		[
			"a from on a look-alike domain",
			(d) => ({ body: { from: `a@x${d}`, to: "u@example.org", subject: "s", text: "t" } }),
			422,
			"invalid_from_address",
		],
		[
			"CRLF in the subject",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "hi\r\nBcc: x@evil.example", text: "t" } }),
			422,
			"validation_error",
		],
		[
			"CRLF in a display name",
			(d) => ({ body: { from: `a@${d}`, to: "Eve\r\nBcc: x@evil.example <u@example.org>", subject: "s", text: "t" } }),
			422,
			"validation_error",
		],
		[
			"CRLF in a header value",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", headers: { "X-A": "1\r\nBcc: x@evil.example" } } }),
			422,
			"validation_error",
		],
		[
			"a header name that is not a token",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", headers: { "X A:": "1" } } }),
			422,
			"validation_error",
		],
		[
			"a header that would override From",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", headers: { From: "ceo@evil.example" } } }),
			422,
			"validation_error",
		],
		[
			"a tag with spaces",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", tags: [{ name: "a b", value: "c" }] } }),
			422,
			"validation_error",
		],
		[
			"an attachment with neither content nor path",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", attachments: [{ filename: "a.txt" }] } }),
			422,
			"invalid_attachment",
		],
		[
			"an attachment with invalid base64",
			(d) => ({
				body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", attachments: [{ filename: "a.txt", content: "%%%" }] },
			}),
			422,
			"invalid_attachment",
		],
		[
			"an attachment path into a link-local network",
			(d) => ({
				body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", attachments: [{ path: "http://169.254.169.254/a.pdf" }] },
			}),
			422,
			"invalid_attachment",
		],
		[
			"an unparseable scheduled_at",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", scheduled_at: "next tuesday-ish" } }),
			422,
			"validation_error",
		],
		[
			"a scheduled_at in the past",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", scheduled_at: "2020-01-01T00:00:00Z" } }),
			422,
			"validation_error",
		],
		[
			"a scheduled_at more than 30 days ahead",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t", scheduled_at: "in 31 days" } }),
			422,
			"validation_error",
		],
		[
			"an unknown template",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", template: { id: "welcome" } } }),
			422,
			"validation_error",
		],
		[
			"an empty idempotency key",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t" }, headers: { "Idempotency-Key": "" } }),
			400,
			"invalid_idempotency_key",
		],
		[
			"a 257-character idempotency key",
			(d) => ({ body: { from: `a@${d}`, to: "u@example.org", subject: "s", text: "t" }, headers: { "Idempotency-Key": "k".repeat(257) } }),
			400,
			"invalid_idempotency_key",
		],
	];

	it.each(cases)("%s", async (_label, build, status, name) => {
		const t = await seedTenant();
		const send = vi.spyOn(env.SEND_QUEUE, "send");
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, ...build(t.domain) });
		expect(res.status, JSON.stringify(res.body)).toBe(status);
		expect(res.body).toEqual({ statusCode: status, name, message: expect.any(String) });
		expect(res.body.message.length).toBeGreaterThan(0);
		expect(res.body.message).not.toMatch(/^Invalid `\w+`: Invalid input$/);
		expect(send).not.toHaveBeenCalled();
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("says how many recipients are allowed when there are too many", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", {
			key: t.key,
			body: email(t, { to: Array.from({ length: 51 }, (_, i) => `u${i}@example.org`) }),
		});
		expect(res.body.message).toContain("At most 50 recipients");
	});

	it("refuses a body over the request size limit with 413", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, rawBody: `{"text":"${"x".repeat(40_000_001)}"}` });
		expect(res.status).toBe(413);
		expect(res.body.name).toBe("payload_too_large");
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("refuses html and text over the body size limit", async () => {
		const t = await seedTenant();
		const res = await call<ErrorBody>("POST", "/emails", {
			key: t.key,
			body: email(t, { html: "x".repeat(1_000_000), text: "y".repeat(600_000) }),
		});
		expect(res.status).toBe(422);
		expect(res.body.message).toContain("limit");
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("refuses a send to a suppressed recipient with 422, in any recipient field, case-insensitively", async () => {
		const t = await seedTenant();
		await call("POST", "/suppressions", { key: t.key, body: { email: "Gone@Example.org", reason: "hard_bounce" } });
		for (const field of ["to", "cc", "bcc"]) {
			const res = await call<ErrorBody>("POST", "/emails", { key: t.key, body: email(t, { [field]: "Someone <gone@example.org>" }) });
			expect(res.status).toBe(422);
			expect(res.body.message).toContain("gone@example.org");
		}
		expect((await counts(t.tenantId)).emails).toBe(0);
	});

	it("answers 400, not 500, for a body nested thousands of levels deep", async () => {
		const t = await seedTenant();
		const deep = `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`;
		const body = JSON.stringify(email(t)).replace(/}$/, `,"extra":${deep}}`);
		const res = await call<ErrorBody>("POST", "/emails", { key: t.key, rawBody: body, headers: { "Idempotency-Key": "deep" } });
		expect(res.status).toBe(400);
		expect(res.body.name).toBe("validation_error");
		expect(await counts(t.tenantId)).toEqual({ emails: 0, events: 0, idempotency: 0 });
	});

	it("ignores unknown fields, as Resend does", async () => {
		const t = await seedTenant();
		const res = await call("POST", "/emails", { key: t.key, body: email(t, { topic_id: "t1", unknown: { nested: true } }) });
		expect(res.status).toBe(200);
	});
});
