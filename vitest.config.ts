import { generateKeyPairSync, randomBytes } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Provider webhook credentials for the route tests. SendGrid signs with a P-256 key: the Worker gets the public key
 * (base64 SPKI, as SendGrid's dashboard shows it) and the tests get the private one to sign requests.
 */
const sendgridKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
const webhookSettings = {
	RESEND_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString("base64")}`,
	SENDGRID_WEBHOOK_PUBLIC_KEY: sendgridKey.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
	TEST_SENDGRID_PRIVATE_KEY: sendgridKey.privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
	POSTMARK_WEBHOOK_USER: "postmark-hooks",
	POSTMARK_WEBHOOK_PASSWORD: randomBytes(16).toString("hex"),
	BREVO_WEBHOOK_TOKEN: randomBytes(24).toString("base64url"),
	// Mailtrap's signing secrets are 32 hex characters, used as the HMAC key text.
	MAILTRAP_WEBHOOK_SECRET: randomBytes(16).toString("hex"),
	MAILGUN_WEBHOOK_SIGNING_KEY: `key-${randomBytes(16).toString("hex")}`,
	// The topic test/helpers/sns.ts signs for (its SNS certificate is served by the tests' fetch fake).
	SES_SNS_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:mailroom-ses-events",
	// Credentials (never used against a real host) so the Worker's own crons can build these adapters in tests.
	SENDGRID_API_KEY: "SG.test",
	SENDGRID_BASE_URL: "https://sendgrid.test",
	RESEND_API_KEY: "re_test",
	RESEND_BASE_URL: "https://resend.test",
};

const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
// wrangler checks `secrets.required` of wrangler.jsonc against the environment when it reads the config.
process.env.ADMIN_TOKEN ??= ADMIN_TOKEN;

/** Workers-runtime tests: real local D1, Queues, DO and R2 (miniflare), migrations applied per test file. */
export default defineConfig({
	plugins: [
		cloudflareTest(async () => ({
			wrangler: { configPath: "./wrangler.jsonc" },
			miniflare: {
				bindings: {
					TEST_MIGRATIONS: await readD1Migrations(path.join(import.meta.dirname, "migrations")),
					ADMIN_TOKEN,
					ALLOW_HTTP_WEBHOOKS: "true",
					...webhookSettings,
				},
			},
		})),
	],
	test: {
		// Quiet on success: what a test logs is printed only when that test fails (expected-failure logs included).
		silent: "passed-only",
		include: ["test/**/*.test.ts"],
		exclude: ["test/e2e/**", "test/scripts/**", "node_modules/**"],
		setupFiles: ["./test/helpers/apply-migrations.ts"],
		// Prism mocks of the providers' specs for the provider conformance tests (test/providers), and a real SMTP server.
		globalSetup: ["./test/helpers/prism-setup.ts", "./test/helpers/smtp-setup.ts"],
	},
});
