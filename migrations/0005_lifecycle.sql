ALTER TABLE `emails` ADD `attempt_id` text;--> statement-breakpoint
ALTER TABLE `emails` ADD `uncertain_since` integer;