CREATE TABLE `template_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`template_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`number` integer NOT NULL,
	`name` text NOT NULL,
	`from_address` text,
	`subject` text,
	`reply_to` text,
	`html` text NOT NULL,
	`text_body` text,
	`variables` text NOT NULL,
	`published_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `template_versions_template_number` ON `template_versions` (`template_id`,`number`);--> statement-breakpoint
CREATE TABLE `templates` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`alias` text,
	`name` text NOT NULL,
	`from_address` text,
	`subject` text,
	`reply_to` text,
	`html` text NOT NULL,
	`text_body` text,
	`variables` text NOT NULL,
	`draft_version_id` text NOT NULL,
	`published_version_id` text,
	`published_at` integer,
	`revision` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `templates_tenant_id` ON `templates` (`tenant_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `templates_tenant_alias` ON `templates` (`tenant_id`,`alias`) WHERE alias IS NOT NULL;--> statement-breakpoint
ALTER TABLE `emails` ADD `template_version_id` text;