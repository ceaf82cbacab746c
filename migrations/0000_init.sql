CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`permission` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `email_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`at` integer NOT NULL,
	`provider` text,
	`detail` text,
	`dedupe_key` text
);
--> statement-breakpoint
CREATE INDEX `email_events_email` ON `email_events` (`email_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `email_events_dedupe` ON `email_events` (`dedupe_key`) WHERE dedupe_key IS NOT NULL;--> statement-breakpoint
CREATE TABLE `emails` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`status` text NOT NULL,
	`last_event` text NOT NULL,
	`from_address` text NOT NULL,
	`to_addresses` text NOT NULL,
	`cc_addresses` text NOT NULL,
	`bcc_addresses` text NOT NULL,
	`reply_to` text NOT NULL,
	`subject` text NOT NULL,
	`html` text,
	`text_body` text,
	`headers` text,
	`tags` text NOT NULL,
	`attachments` text,
	`template_id` text,
	`template_variables` text,
	`scheduled_at` integer,
	`provider` text,
	`provider_message_id` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`lease_until` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `emails_tenant_id` ON `emails` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `emails_tenant_status` ON `emails` (`tenant_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `emails_status_scheduled` ON `emails` (`status`,`scheduled_at`);--> statement-breakpoint
CREATE INDEX `emails_status_updated` ON `emails` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `emails_provider_message` ON `emails` (`provider_message_id`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`tenant_id` text NOT NULL,
	`endpoint` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`state` text NOT NULL,
	`owner` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `endpoint`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_expires` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`tenant_id` text NOT NULL,
	`email` text NOT NULL,
	`reason` text NOT NULL,
	`source` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `email`)
);
--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`allowed_from_domains` text NOT NULL,
	`api_rate` text NOT NULL,
	`send_rate` text NOT NULL,
	`daily_quota` integer NOT NULL,
	`providers` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
