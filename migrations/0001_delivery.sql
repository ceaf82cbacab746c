CREATE TABLE `dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text,
	`email_id` text,
	`reason` text NOT NULL,
	`provider` text,
	`attempts` integer NOT NULL,
	`last_error` text,
	`payload` text,
	`created_at` integer NOT NULL,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE INDEX `dead_letters_tenant` ON `dead_letters` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `dead_letters_email` ON `dead_letters` (`email_id`);--> statement-breakpoint
ALTER TABLE `emails` ADD `recipients` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `emails` ADD `sent_at` integer;