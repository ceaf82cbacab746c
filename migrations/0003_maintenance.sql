DROP INDEX `webhook_deliveries_status`;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `next_attempt_at` integer;--> statement-breakpoint
CREATE INDEX `webhook_deliveries_status` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
ALTER TABLE `emails` ADD `next_attempt_at` integer;--> statement-breakpoint
ALTER TABLE `emails` ADD `reconciled_at` integer;--> statement-breakpoint
CREATE INDEX `emails_status_next_attempt` ON `emails` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `email_events_tenant_at` ON `email_events` (`tenant_id`,`at`);