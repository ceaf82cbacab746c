import type { D1Migration } from "cloudflare:test";

declare global {
	namespace Cloudflare {
		interface Env {
			TEST_MIGRATIONS: D1Migration[];
			RESEND_WEBHOOK_SECRET: string;
			SENDGRID_WEBHOOK_PUBLIC_KEY: string;
			TEST_SENDGRID_PRIVATE_KEY: string;
			POSTMARK_WEBHOOK_USER: string;
			POSTMARK_WEBHOOK_PASSWORD: string;
			BREVO_WEBHOOK_TOKEN: string;
			MAILTRAP_WEBHOOK_SECRET: string;
			MAILGUN_WEBHOOK_SIGNING_KEY: string;
			SES_SNS_TOPIC_ARN: string;
		}
	}
}
