import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, counts, email, seedTenant } from "../helpers/api";
import { createTemplate, publishTemplate } from "../helpers/templates";

/** A small deterministic PRNG so a failure reproduces from its seed. */
function prng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s * 1664525 + 1013904223) >>> 0;
		return s / 2 ** 32;
	};
}

const NASTY = [
	"",
	" ",
	"\r\n",
	"a\r\nBcc: x@evil.example",
	"\u0000",
	"😀",
	"ü@ö.de",
	"x".repeat(5000),
	"<script>",
	"' OR 1=1 --",
	"%",
	"_",
	"../..",
	"null",
];

function junk(rand: () => number, depth = 0): unknown {
	const pick = Math.floor(rand() * (depth > 2 ? 6 : 9));
	switch (pick) {
		case 0:
			return null;
		case 1:
			return rand() < 0.5;
		case 2:
			return Math.floor(rand() * 2 ** 40) * (rand() < 0.5 ? -1 : 1);
		case 3:
			return rand() * 1e6;
		case 4:
		case 5:
			return NASTY[Math.floor(rand() * NASTY.length)];
		case 6:
			return Array.from({ length: Math.floor(rand() * 4) }, () => junk(rand, depth + 1));
		default: {
			const keys = [
				"from",
				"to",
				"cc",
				"bcc",
				"reply_to",
				"subject",
				"html",
				"text",
				"headers",
				"tags",
				"attachments",
				"scheduled_at",
				"template",
				"name",
				"email",
				"permission",
				"alias",
				"variables",
				"key",
				"type",
				"fallback_value",
				"version",
			];
			return Object.fromEntries(
				Array.from({ length: Math.floor(rand() * 6) }, () => [keys[Math.floor(rand() * keys.length)], junk(rand, depth + 1)]),
			);
		}
	}
}

describe("fuzzed requests", () => {
	it("never answer 5xx and never write rows when rejected", async () => {
		const t = await seedTenant();
		const rand = prng(20261122);
		const template = await createTemplate(t, {
			alias: "fuzz",
			html: "<p>{{A}} {{{B}}}</p>",
			variables: [{ key: "A", type: "number", fallback_value: 1 }],
		});
		await publishTemplate(t, template);
		const routes: [string, string][] = [
			["POST", "/emails"],
			["POST", "/emails/batch"],
			["PATCH", "/emails/01a20272-83cd-7f38-ad9c-cc35d5e1ae75"],
			["POST", "/api-keys"],
			["POST", "/suppressions"],
			["POST", "/templates"],
			["PATCH", `/templates/${template}`],
			["POST", "/templates/fuzz/render"],
		];
		for (let i = 0; i < 400; i++) {
			const [method, path] = routes[i % routes.length] as [string, string];
			// Half the bodies start from a valid email and corrupt one field, to get past the first checks.
			const body = rand() < 0.5 ? { ...email(t), ...(junk(rand, 1) as object) } : junk(rand);
			// fetch itself refuses control and non-ASCII characters in header values, so keys are printable ASCII.
			const idempotencyKey = String(NASTY[i % NASTY.length])
				.replace(/[^\x20-\x7e]/g, "")
				.slice(0, 300);
			const headers: Record<string, string> = rand() < 0.2 ? { "Idempotency-Key": idempotencyKey } : {};
			const res = await call(method, path, { key: t.key, body, headers });
			expect(res.status, `${method} ${path} ${JSON.stringify(body).slice(0, 300)} → ${JSON.stringify(res.body)}`).toBeLessThan(500);
			if (res.status >= 400) {
				expect(res.body).toEqual({ statusCode: res.status, name: expect.any(String), message: expect.any(String) });
			}
		}
		// Every stored email is whole (its acceptance is the row itself: a status, a creation time), and no event lacks
		// its email (the consumer may have added events since, so counts alone would not say this).
		const broken = await env.DB.prepare(
			"SELECT count(*) AS n FROM emails m WHERE m.tenant_id = ? AND (m.status IS NULL OR m.created_at IS NULL OR m.recipients = '[]')",
		)
			.bind(t.tenantId)
			.first<number>("n");
		expect(broken).toBe(0);
		expect((await counts(t.tenantId)).emails).toBeGreaterThan(0);
		const orphans = await env.DB.prepare(
			"SELECT count(*) AS n FROM email_events e LEFT JOIN emails m ON m.id = e.email_id WHERE m.id IS NULL",
		).first<number>("n");
		expect(orphans).toBe(0);
	}, 60_000); // 400 requests can take longer than vitest's 5 s default on a busy machine
});
