import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compareResults, direction, flatten, formatComparison } from "../../bench/compare.mjs";
import { costPerMillion, costScenarios, DO_BILLED_GB, type Prices, quantitiesPerEmail } from "../../bench/cost.mjs";
import { median, options } from "../../bench/lib.mjs";
import { bundleModules, type CpuProfile, moduleAt, ownerOf, summariseProfile } from "../../bench/profile.mjs";
import { PROJECT_ROOT } from "../../scripts/lib/dev-server.mjs";

const prices = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "bench", "prices.json"), "utf8")) as Prices;
const usd = (item: string) => prices.items[item]?.usd ?? Number.NaN;

const totals = {
	emails: 100,
	requests: 102,
	cpu_ms: 800,
	d1_rows_read: 3_000,
	d1_rows_written: 2_500,
	queue_messages: 100,
	queue_bytes: 10_000,
	do_rpcs: 4,
	do_ms_per_rpc: 0.5,
	do_rows_written_per_rpc: 2,
};

describe("bench cost", () => {
	it("turns measured totals into billable quantities per email", () => {
		const q = quantitiesPerEmail(totals);
		expect(q.workers_requests).toBeCloseTo(1.02);
		expect(q.workers_cpu_ms).toBeCloseTo(8);
		expect(q.d1_rows_written).toBeCloseTo(25);
		expect(q.queues_operations).toBeCloseTo(3);
		expect(q.do_requests).toBeCloseTo(0.04);
		expect(q.do_duration_gb_s).toBeCloseTo((0.04 * 0.5 * DO_BILLED_GB) / 1000, 12);
		expect(q.do_rows_written).toBeCloseTo(0.08);
		expect(q.r2_class_a).toBe(0);
	});

	it("bills a queue message over 64 KB as more than one operation of each kind", () => {
		const q = quantitiesPerEmail({ ...totals, queue_bytes: 100 * 70_000 });
		expect(q.queues_operations).toBeCloseTo(6);
	});

	it("prices each line item per 1,000,000 emails and sums them", () => {
		const table = costPerMillion({ d1_rows_written: 10, workers_requests: 1 }, prices);
		const byItem = Object.fromEntries(table.items.map((i) => [i.item, i]));
		expect(byItem.d1_rows_written?.usd_per_million).toBeCloseTo(10 * usd("d1_rows_written"));
		expect(byItem.workers_requests?.usd_per_million).toBeCloseTo(usd("workers_requests"));
		expect(table.total_usd_per_million).toBeCloseTo(10 * usd("d1_rows_written") + usd("workers_requests"));
		expect(table.items.reduce((sum, i) => sum + i.share, 0)).toBeCloseTo(1, 3);
	});

	it("refuses a quantity that has no price", () => {
		expect(() => costPerMillion({ carrier_pigeons: 1 }, prices)).toThrow(/no price for carrier_pigeons/);
	});

	it("builds the single-send scenario by swapping the pipeline's batch accept for the single-send accept", () => {
		const results = {
			pipeline_counts: {
				totals: {
					delivered: 100,
					requests: 202,
					cpu_ms: 900,
					d1_rows_read: 3_000,
					d1_rows_written: 3_600,
					queue_messages: 100,
					queue_bytes: 10_100,
					do_rpcs: 4,
					do_ms: 2,
				},
				per_delivered_email: {
					accept: { invocations: 0.01, d1_rows_read: 1.2, d1_rows_written: 11, queue_messages: 1, queue_bytes: 101, do_rpcs: 0.01 },
				},
			},
			calls_per_send: { mailroom: { single: { d1_rows_read: 3, d1_rows_written: 12, queue_sends: 1, queue_bytes: 101, do_rpcs: 1 } } },
			isolate: { mailroom: { cpu_ms: 2, do_ms: 0.3 } },
			batch: { cpu_ms_per_email: 0.25 },
			limiter: { do_rows_written_per_admit: 2 },
		};
		const scenarios = costScenarios(results, prices);
		const item = (table: { items: { item: string; per_email: number }[] } | null | undefined, key: string) =>
			table?.items.find((i) => i.item === key)?.per_email;
		expect(item(scenarios?.batch_of_100, "workers_requests")).toBeCloseTo(2.02);
		expect(item(scenarios?.batch_of_100, "d1_rows_written")).toBeCloseTo(36);
		expect(item(scenarios?.single_sends, "workers_requests")).toBeCloseTo(2.02 - 0.01 + 1);
		expect(item(scenarios?.single_sends, "workers_cpu_ms")).toBeCloseTo(9 - 0.25 + 2);
		expect(item(scenarios?.single_sends, "d1_rows_written")).toBeCloseTo(36 - 11 + 12);
		expect(item(scenarios?.single_sends, "do_requests")).toBeCloseTo(0.04 - 0.01 + 1);
		expect(item(scenarios?.single_sends, "do_rows_written")).toBeCloseTo((0.04 - 0.01 + 1) * 2);
	});

	it("has no cost table before the pipeline has run", () => {
		expect(costScenarios({}, prices)).toBeNull();
	});

	it("keeps every price with its unit, source URL and the date it was read", () => {
		expect(prices.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
		for (const price of Object.values(prices.items)) {
			expect(price.usd).toBeGreaterThan(0);
			expect(price.source).toMatch(/^https:\/\/developers\.cloudflare\.com\//);
		}
	});
});

describe("bench compare", () => {
	it("flattens numeric leaves to dotted paths and skips lists and text", () => {
		expect(flatten({ a: { b: 1, c: "x", d: [1, 2] }, e: 2.5 })).toEqual({ "a.b": 1, e: 2.5 });
	});

	it("reads which way is better from a metric's name", () => {
		expect(direction("accept.c16.rps")).toBe("higher");
		expect(direction("pipeline.emails_per_second")).toBe("higher");
		expect(direction("accept_vs_floor.rps_ratio")).toBe("higher");
		expect(direction("accept.c16.p99_ms")).toBe("lower");
		expect(direction("isolate.mailroom.cpu_ms")).toBe("lower");
		expect(direction("accept_vs_floor.cpu_ratio")).toBe("lower");
		expect(direction("calls_per_send.mailroom.single.total")).toBe("lower");
		expect(direction("cost.batch_of_100.total_usd_per_million")).toBe("lower");
		expect(direction("pipeline.emails")).toBeNull();
		expect(direction("date")).toBeNull();
	});

	it("flags a change for the worse beyond the threshold, in either direction", () => {
		const rows = compareResults(
			{ accept: { c16: { rps: 100, p99_ms: 100 } }, x: { cpu_ms: 1 } },
			{ accept: { c16: { rps: 85, p99_ms: 105 } }, x: { cpu_ms: 1.2 }, floor: { c16: { rps: 300 } } },
			10,
		);
		const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
		expect(byName["accept.c16.rps"]).toMatchObject({ change_pct: -15, worse: true });
		expect(byName["accept.c16.p99_ms"]).toMatchObject({ change_pct: 5, worse: false });
		expect(byName["x.cpu_ms"]).toMatchObject({ change_pct: 20, worse: true });
		expect(byName["floor.c16.rps"]).toMatchObject({ before: null, change_pct: null, worse: false });
		expect(formatComparison(rows, 10)).toMatch(/accept\.c16\.rps\s+100\s+85\s+-15\s+WORSE/);
	});

	it("does not flag an improvement", () => {
		const [row] = compareResults({ accept: { c16: { rps: 100 } } }, { accept: { c16: { rps: 150 } } }, 10);
		expect(row).toMatchObject({ change_pct: 50, worse: false });
	});
});

describe("bench profile", () => {
	const source = [
		"var x = 1;",
		"// node_modules/drizzle-orm/sqlite-core/db.js",
		"function drizzle() {}",
		"// ../../src/durable-objects/rate-limiter.ts",
		"class RateLimiter {}",
		"// src/routes/emails.ts",
		"function route() {}",
		"// @__NO_SIDE_EFFECTS__",
		"function more() {}",
	].join("\n");
	const modules = bundleModules(source);

	it("finds where each bundled module starts from esbuild's path comments", () => {
		expect(modules).toEqual([
			{ line: 2, module: "node_modules/drizzle-orm/sqlite-core/db.js" },
			{ line: 4, module: "src/durable-objects/rate-limiter.ts" },
			{ line: 6, module: "src/routes/emails.ts" },
		]);
		expect(moduleAt(modules, 1)).toBe("(bundle)");
		expect(moduleAt(modules, 3)).toBe("node_modules/drizzle-orm/sqlite-core/db.js");
		expect(moduleAt(modules, 9)).toBe("src/routes/emails.ts");
	});

	it("names a package by its node_modules folder and keeps our files as they are", () => {
		expect(ownerOf("node_modules/drizzle-orm/sqlite-core/db.js")).toBe("drizzle-orm");
		expect(ownerOf("node_modules/@hono/zod-openapi/dist/index.js")).toBe("@hono/zod-openapi");
		expect(ownerOf("src/services/accept.ts")).toBe("src/services/accept.ts");
	});

	it("splits a profile's samples into idle, the Worker's code, runtime, native, GC, program and Durable Object time", () => {
		const frame = (functionName: string, url: string, lineNumber: number) => ({
			functionName,
			scriptId: url === "bundle" ? "7" : "0",
			url,
			lineNumber,
			columnNumber: 0,
		});
		const profile: CpuProfile = {
			nodes: [
				{ id: 1, callFrame: frame("(root)", "", -1), children: [2, 3, 4, 5, 8, 9] },
				{ id: 2, callFrame: frame("(idle)", "", -1) },
				{ id: 3, callFrame: frame("(program)", "", -1) },
				{ id: 4, callFrame: frame("(garbage collector)", "", -1) },
				{ id: 5, callFrame: frame("route", "bundle", 6), children: [6, 10, 11] },
				{ id: 6, callFrame: frame("select", "bundle", 2) },
				{ id: 8, callFrame: frame("admit", "bundle", 4), children: [12] },
				{ id: 9, callFrame: frame("_send", "cloudflare-internal:d1-api", 10) },
				{ id: 10, callFrame: frame("fetch", "", -1) },
				{ id: 11, callFrame: frame("route", "bundle", 6) },
				{ id: 12, callFrame: frame("exec", "", -1) },
			],
			startTime: 0,
			endTime: 10_000,
			// Each sample lasts until the next: 1000 µs each, the last one until endTime.
			samples: [2, 3, 4, 6, 6, 12, 9, 10, 11, 2],
			timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
		};
		const s = summariseProfile(profile, {
			bundle: { scriptId: "7", url: "file:///x/.wrangler/tmp/dev-a/index.js", modules },
			phases: [
				[/rate-limiter/, "durable_object"],
				[/^src\/routes\/emails\.ts$/, "accept"],
			],
		});
		expect(s.idle_ms).toBeCloseTo(2);
		expect(s.program_ms).toBeCloseTo(1);
		expect(s.gc_ms).toBeCloseTo(1);
		expect(s.bundle_ms).toBeCloseTo(3);
		expect(s.do_ms).toBeCloseTo(1);
		expect(s.runtime_ms).toBeCloseTo(1);
		expect(s.native_ms).toBeCloseTo(1);
		expect(s.cpu_ms).toBeCloseTo(8);
		expect(s.worker_ms).toBeCloseTo(7);
		expect(s.self[0]).toEqual({ name: "drizzle-orm", ms: 2 });
		expect(s.phases).toMatchObject({ accept: 4, durable_object: 1, unattributed: 3 });
	});
});

describe("bench options", () => {
	it("reads numbers, words and flags, and refuses unknown options", () => {
		const defaults = { seconds: 10, phases: "accept", compare: false };
		expect(options(defaults, ["--seconds", "5", "--compare", "--phases", "accept,batch"])).toEqual({
			seconds: 5,
			phases: "accept,batch",
			compare: true,
		});
		expect(() => options(defaults, ["--second", "5"])).toThrow(/Unknown option --second/);
	});

	it("takes the median of an odd and an even number of runs", () => {
		expect(median([3, 1, 2])).toBe(2);
		expect(median([4, 1, 3, 2])).toBe(2.5);
	});
});
