CREATE TABLE `domains` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`token` text NOT NULL,
	`region` text NOT NULL,
	`open_tracking` integer NOT NULL,
	`click_tracking` integer NOT NULL,
	`tls` text NOT NULL,
	`tracking_subdomain` text,
	`checks` integer NOT NULL,
	`next_check_at` integer,
	`last_checked_at` integer,
	`last_check` text,
	`last_error` text,
	`verified_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `domains_tenant_name` ON `domains` (`tenant_id`,`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `domains_verified_name` ON `domains` (`name`) WHERE status = 'verified';--> statement-breakpoint
CREATE INDEX `domains_pending_check` ON `domains` (`next_check_at`) WHERE status = 'pending';--> statement-breakpoint
ALTER TABLE `api_keys` ADD `domain_id` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `previous_signing_secret` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `previous_secret_expires_at` integer;