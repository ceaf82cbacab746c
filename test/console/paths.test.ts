/** Where sign-in sends a user (console/src/paths.ts): back to the page they were on, if their session may see it. */
import { describe, expect, it } from "vitest";
import { destinationAfterSignIn } from "../../console/src/paths";

const full = { kind: "tenant", token: "t", permission: "full_access" } as const;
const sending = { kind: "tenant", token: "t", permission: "sending_access" } as const;
const operator = { kind: "operator", token: "t" } as const;

describe("the page after sign-in", () => {
	it("is the page the user was on, query included", () => {
		expect(destinationAfterSignIn("/console/emails/abc", full)).toBe("/console/emails/abc");
		expect(destinationAfterSignIn("/console/emails?status=failed", full)).toBe("/console/emails?status=failed");
	});

	it("is the session's home when the page is not for it", () => {
		expect(destinationAfterSignIn("/console/emails/abc", sending)).toBe("/console/send");
		expect(destinationAfterSignIn("/console/emails", operator)).toBe("/console/tenants");
		expect(destinationAfterSignIn("/console/tenants/x", full)).toBe("/console/emails");
	});

	it("never leaves the console or returns to sign-in", () => {
		expect(destinationAfterSignIn("https://elsewhere.example/console/emails", full)).toBe("/console/emails");
		expect(destinationAfterSignIn("//elsewhere.example", full)).toBe("/console/emails");
		expect(destinationAfterSignIn("/console/sign-in?next=x", full)).toBe("/console/emails");
		expect(destinationAfterSignIn(undefined, operator)).toBe("/console/tenants");
	});
});
