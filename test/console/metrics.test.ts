/** The console's reader of `GET /metrics` (console/src/metrics.ts) understands what the Worker actually answers. */
import { describe, expect, it } from "vitest";
import { byLabel, parseMetrics, single } from "../../console/src/metrics";
import { OPEN_STATUSES } from "../../src/db/schema";
import { ADMIN_TOKEN, call } from "../helpers/api";

describe("the console's metrics reader", () => {
	it("reads emails by status, provider circuits and single gauges from /metrics", async () => {
		const res = await call<string>("GET", "/metrics", { key: ADMIN_TOKEN });
		expect(res.status).toBe(200);
		const samples = parseMetrics(res.body);
		expect(Object.keys(byLabel(samples, "mailroom_open_emails", "status"))).toEqual([...OPEN_STATUSES]);
		expect(byLabel(samples, "mailroom_provider_circuit_open", "provider")).toEqual({ sandbox: 0 });
		expect(single(samples, "mailroom_tenants")).toEqual(expect.any(Number));
	});

	it("unescapes label values and skips comments", () => {
		const samples = parseMetrics('# HELP x y\n# TYPE x gauge\nx{name="a \\"b\\"",other="c"} 2.5\n\nbroken line\n');
		expect(samples).toEqual([{ name: "x", labels: { name: 'a "b"', other: "c" }, value: 2.5 }]);
	});
});
