import { describe, expect, it } from "vitest";
import { call, email, seedTenant } from "./helpers/api";

describe("smoke", () => {
	it("accepts an email", async () => {
		const t = await seedTenant();
		const res = await call("POST", "/emails", { key: t.key, body: email(t) });
		expect(res.status, JSON.stringify(res.body)).toBe(200);
	});
});
