ALTER TABLE `api_keys` ADD `priority` text;--> statement-breakpoint
ALTER TABLE `emails` ADD `priority` text DEFAULT 'normal' NOT NULL;