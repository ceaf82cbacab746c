import { describe, expect, it } from "vitest";
import doc from "../../docs/architecture.md?raw";
import { TRANSITIONS, transitionTableMarkdown } from "../../src/lifecycle/transitions";

/** Every source file, as text, to check who writes `emails.status`. */
const sources = import.meta.glob<string>("../../src/**/*.ts", { query: "?raw", import: "default", eager: true });

describe("the lifecycle's transition table", () => {
	it("is shown in docs/architecture.md exactly as the code defines it", () => {
		expect(doc).toContain(transitionTableMarkdown());
	});

	it("names a status for every transition's source and target", () => {
		for (const [name, t] of Object.entries(TRANSITIONS)) {
			expect(t.to.length, name).toBeGreaterThan(0);
			expect(t.why.length, name).toBeGreaterThan(0);
		}
	});
});

describe("src/lifecycle is the only writer of emails.status", () => {
	it("no other source file sets `status` on an update of emails", () => {
		const files = Object.keys(sources);
		expect(files.length).toBeGreaterThan(50);
		const writers = files.filter((file) => {
			const text = sources[file] ?? "";
			// An UPDATE of the emails table whose SET names `status`: drizzle (`.update(emails).set({ … status: …`, up to its
			// `.where(`) or raw SQL.
			const drizzleSets = text
				.split(".update(emails)")
				.slice(1)
				.map((rest) => rest.split(".where(")[0] ?? "");
			return drizzleSets.some((set) => /\bstatus\s*:/.test(set)) || /UPDATE\s+"?emails"?\s+SET[^;]*\bstatus\s*=/i.test(text);
		});
		expect(writers.filter((file) => !file.includes("/src/lifecycle/"))).toEqual([]);
		expect(writers.some((file) => file.includes("/src/lifecycle/"))).toBe(true);
	});
});
