/** Fixtures shared by the provider adapter tests: an outbound email, a one-answer fetch spy, a Prism recorder. */
import { inject, vi } from "vitest";
import type { OutboundEmail } from "../../src/providers/types";

export const CONTEXT = { attempt: 1 };

/** A full email (cc, bcc, reply-to, headers, tags, an inline and a plain attachment); each test file varies it. */
export function outboundEmail(overrides: Partial<OutboundEmail> = {}): OutboundEmail {
	return {
		id: "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f01",
		tenantId: "tnt_acme",
		from: "Acme <hello@acme.example.com>",
		fromMailbox: { name: "Acme", address: "hello@acme.example.com" },
		to: ["Ann <ann@example.com>", "bob@example.com"],
		cc: ["carol@example.com"],
		bcc: ["dave@example.com"],
		replyTo: ["support@acme.example.com"],
		subject: "Your receipt",
		html: '<p>Thanks</p><img src="cid:logo">',
		text: "Thanks",
		headers: { "X-Entity-Ref-ID": "order-42" },
		tags: [{ name: "category", value: "receipt" }],
		attachments: [
			{ filename: "receipt.pdf", contentType: "application/pdf", content: btoa("%PDF-1.4 receipt"), contentId: null },
			{ filename: "logo.png", contentType: "image/png", content: btoa("\x89PNG logo"), contentId: "logo" },
		],
		...overrides,
	};
}

/** The same email stripped to from, to, subject and text. */
export function minimalOf(email: OutboundEmail): OutboundEmail {
	return { ...email, cc: [], bcc: [], replyTo: [], html: null, headers: {}, tags: [], attachments: [] };
}

/** Every provider call answers `status` with `body` (JSON unless a string; null for no body). */
export function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
	const text = body === null ? null : typeof body === "string" ? body : JSON.stringify(body);
	return vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response(text, { status, headers }));
}

export function sentRequest(spy: ReturnType<typeof answer>): { url: string; method: string | undefined; headers: Headers; body: unknown } {
	const [input, init] = spy.mock.calls[0] ?? [];
	return { url: String(input), method: init?.method, headers: new Headers(init?.headers), body: JSON.parse(String(init?.body)) };
}

/**
 * The real Prism mock of a provider's spec (started by prism-setup.ts), through a fetch that keeps Prism's
 * `sl-violations` header, so a rejected request explains itself (error bodies are the spec's examples).
 */
export function prism(which: "prismResendUrl" | "prismSendGridUrl" | "prismSendGridActivityUrl" | "prismMailtrapUrl" | "prismMailgunUrl"): {
	baseUrl: string;
	fetch: typeof fetch;
	violations: string[];
} {
	const violations: string[] = [];
	const recording: typeof fetch = async (input, init) => {
		const response = await fetch(input, init);
		const found = response.headers.get("sl-violations");
		if (found !== null) violations.push(found);
		return response;
	};
	return { baseUrl: inject(which), fetch: recording, violations };
}
