import { describe, expect, it } from "vitest";
import { bareAddress, isDomainAllowed, parseMailbox } from "../../src/lib/address";
import { canonicalJson } from "../../src/lib/crypto";
import { isUuid, newEmailId } from "../../src/lib/ids";
import { parseScheduleTime } from "../../src/lib/time";

describe("parseMailbox", () => {
	it.each([
		["a@example.com", { name: null, address: "a@example.com" }],
		["Acme <a@example.com>", { name: "Acme", address: "a@example.com" }],
		['"Acme, Inc." <a@example.com>', { name: "Acme, Inc.", address: "a@example.com" }],
		["<a@example.com>", { name: null, address: "a@example.com" }],
		["first.last+tag@sub.example.co.uk", { name: null, address: "first.last+tag@sub.example.co.uk" }],
		["josé@exämple.com", { name: null, address: "josé@exämple.com" }],
	])("accepts %s", (input, expected) => {
		expect(parseMailbox(input)).toEqual(expected);
	});

	it.each([
		"",
		"a",
		"a@",
		"@b.com",
		"a@b",
		"a@b.c",
		"a b@c.com",
		"a..b@c.com",
		"a@-b.com",
		"Name <a@b.com",
		"a@b.com\r\nBcc: x@y.com",
		`${"x".repeat(65)}@b.com`,
	])("rejects %j", (input) => {
		expect(parseMailbox(input)).toBeNull();
	});

	it("lower-cases the bare address", () => {
		expect(bareAddress("Bob <Bob@Example.ORG>")).toBe("bob@example.org");
	});
});

describe("isDomainAllowed", () => {
	it("allows the domain and its subdomains only", () => {
		expect(isDomainAllowed("acme.com", ["acme.com"])).toBe(true);
		expect(isDomainAllowed("mail.ACME.com", ["acme.com"])).toBe(true);
		expect(isDomainAllowed("evilacme.com", ["acme.com"])).toBe(false);
		expect(isDomainAllowed("acme.com.evil.io", ["acme.com"])).toBe(false);
	});
});

describe("parseScheduleTime", () => {
	const now = Date.parse("2026-01-01T00:00:00Z");
	it.each([
		["in 10 minutes", now + 600_000],
		["in 1 min", now + 60_000],
		["in 2 hours", now + 7_200_000],
		["In 3 Days", now + 3 * 86_400_000],
		["2026-08-05T11:52:01.858Z", Date.parse("2026-08-05T11:52:01.858Z")],
		["2026-08-05T13:52:01+02:00", Date.parse("2026-08-05T11:52:01Z")],
		["2026-08-05 11:52Z", Date.parse("2026-08-05T11:52:00Z")],
	])("%s", (input, expected) => {
		expect(parseScheduleTime(input, now)).toBe(expected);
	});

	it.each(["tomorrow", "in a while", "2026-08-05", "2026-08-05T11:52:01", "in -5 minutes", "2026-13-45T00:00:00Z"])(
		"rejects %j",
		(input) => {
			expect(parseScheduleTime(input, now)).toBeNull();
		},
	);
});

describe("email ids", () => {
	it("are UUIDv7 that sort by creation time", () => {
		const a = newEmailId(1_700_000_000_000);
		const b = newEmailId(1_700_000_000_001);
		expect(isUuid(a)).toBe(true);
		expect(a[14]).toBe("7");
		expect(a < b).toBe(true);
	});
});

describe("canonicalJson", () => {
	it("sorts keys at every depth but keeps array order", () => {
		expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
	});
});
