import { describe, expect, it } from "vitest";
import { base64url, base64urlBytes } from "../../src/lib/ids";
import { signToken, verifyToken } from "../../src/tracking/token";
import { SECRET } from "./helpers";

const EMAIL_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f20";
const OTHER_ID = "0193b1e2-7c4a-7d2e-9f3b-5a6c7d8e9f21";
const URL_ = "https://acme.example.com/orders/42?ref=mail";

async function clickToken(emailId = EMAIL_ID, url = URL_, linkIndex = 3): Promise<string> {
	const token = await signToken(SECRET, { kind: "click", emailId, linkIndex, url });
	if (token === null) throw new Error("not signed");
	return token;
}

/** The token with its bytes changed by `change`, re-encoded. */
function tampered(token: string, change: (bytes: Uint8Array) => void): string {
	const bytes = base64urlBytes(token, 10_000);
	if (!bytes) throw new Error("not base64url");
	change(bytes);
	return base64url(bytes);
}

describe("tracking tokens", () => {
	it("carry the email, the link's index and its URL", async () => {
		expect(await verifyToken(SECRET, await clickToken(), "click")).toEqual({ kind: "click", emailId: EMAIL_ID, linkIndex: 3, url: URL_ });
	});

	it("carry the email for the open pixel, in 44 characters", async () => {
		const token = await signToken(SECRET, { kind: "open", emailId: EMAIL_ID });
		expect(token).toHaveLength(44);
		expect(await verifyToken(SECRET, token ?? "", "open")).toEqual({ kind: "open", emailId: EMAIL_ID });
	});

	it("refuse a token whose URL was altered", async () => {
		const token = tampered(await clickToken(), (b) => {
			b[b.length - 20] = (b[b.length - 20] ?? 0) ^ 1;
		});
		expect(await verifyToken(SECRET, token, "click")).toBeNull();
	});

	it("refuse a token whose email id was swapped for another email's", async () => {
		const other = (base64urlBytes(await clickToken(OTHER_ID), 10_000) ?? new Uint8Array()).subarray(1, 17);
		const token = tampered(await clickToken(), (b) => b.set(other, 1));
		expect(await verifyToken(SECRET, token, "click")).toBeNull();
	});

	it("refuse a truncated token", async () => {
		const token = await clickToken();
		for (const cut of [1, 4, 17, token.length - 30]) {
			expect(await verifyToken(SECRET, token.slice(0, token.length - cut), "click")).toBeNull();
		}
	});

	it("refuse a token signed with another secret", async () => {
		const token = await signToken("another-secret-0123456789", { kind: "click", emailId: EMAIL_ID, linkIndex: 0, url: URL_ });
		expect(await verifyToken(SECRET, token ?? "", "click")).toBeNull();
	});

	it("refuse an open token used as a link and a link token used as a pixel", async () => {
		const open = await signToken(SECRET, { kind: "open", emailId: EMAIL_ID });
		expect(await verifyToken(SECRET, open ?? "", "click")).toBeNull();
		expect(await verifyToken(SECRET, await clickToken(), "open")).toBeNull();
	});

	it.each([
		["an empty string", ""],
		["not base64url", "abc$def"],
		["padding", "AAAA=="],
		["a huge string", "A".repeat(20_000)],
	])("refuse %s", async (_, text) => {
		expect(await verifyToken(SECRET, text, "click")).toBeNull();
		expect(await verifyToken(SECRET, text, "open")).toBeNull();
	});

	it("sign no link to a non-http URL, nor one beyond the link limit", async () => {
		expect(await signToken(SECRET, { kind: "click", emailId: EMAIL_ID, linkIndex: 0, url: "x".repeat(5000) })).toBeNull();
		expect(await signToken(SECRET, { kind: "click", emailId: EMAIL_ID, linkIndex: 1000, url: URL_ })).toBeNull();
		expect(await signToken(SECRET, { kind: "open", emailId: "not-a-uuid" })).toBeNull();
	});
});
