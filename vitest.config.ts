import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Workers-runtime tests: real local D1, Queues, DO and R2 (miniflare), migrations applied per test file. */
export default defineConfig({
	plugins: [
		cloudflareTest(async () => ({
			wrangler: { configPath: "./wrangler.jsonc" },
			miniflare: {
				bindings: {
					TEST_MIGRATIONS: await readD1Migrations(path.join(import.meta.dirname, "migrations")),
					ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
					ALLOW_HTTP_WEBHOOKS: "true",
				},
			},
		})),
	],
	test: {
		include: ["test/**/*.test.ts"],
		exclude: ["test/e2e/**", "node_modules/**"],
		setupFiles: ["./test/helpers/apply-migrations.ts"],
		// Prism mocks of the Resend and SendGrid specs for the provider conformance tests (test/providers).
		globalSetup: ["./test/helpers/prism-setup.ts"],
	},
});
