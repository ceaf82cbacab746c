import { defineConfig } from "vitest/config";

/**
 * Node-side tests. test/e2e: a real `wrangler dev` (started by the tests themselves) driven over HTTP by the official
 * `resend` SDK and by the smoke script, and the console driven in Debian's chromium by playwright-core. test/scripts:
 * the operator scripts (deploy against a stub wrangler, the generated environments). Plain Node, no Workers pool: the
 * Worker runs in wrangler's workerd, not in the test process.
 */
export default defineConfig({
	test: {
		// Quiet on success: what a test logs is printed only when that test fails (expected-failure logs included).
		silent: "passed-only",
		include: ["test/e2e/**/*.test.ts", "test/scripts/**/*.test.ts"],
		// Builds the console and makes sure chromium is there (the console's browser test).
		globalSetup: ["./test/e2e/global-setup.ts"],
		environment: "node",
		// Starting wrangler dev (migrations, bundling, workerd) takes a few seconds, more on a cold or busy machine.
		testTimeout: 120_000,
		hookTimeout: 120_000,
		// Each file starts its own dev server on a free port; keep them from competing for the CPU.
		fileParallelism: false,
	},
});
