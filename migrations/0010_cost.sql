-- What one delivered email costs in D1 rows written (docs/architecture.md, "Cost"). Hand-written: drizzle-kit
-- cannot say WITHOUT ROWID; the snapshot (meta/0010_snapshot.json) matches the tables otherwise.
--
-- emails: WITHOUT ROWID (the id is the key; no rowid and no separate primary-key index beside it), and three
-- indexes instead of six, none keyed or filtered on status: (tenant_id, id), the open set, Cloudflare message ids.
CREATE TABLE `__new_emails` (
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
	`recipients` text DEFAULT '[]' NOT NULL,
	`sent_at` integer,
	`next_attempt_at` integer,
	`reconciled_at` integer,
	`pinned_provider` text,
	`attempt_id` text,
	`uncertain_since` integer,
	`template_version_id` text,
	`status_event` text,
	`ended_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_emails` (
	"id", "tenant_id", "status", "last_event", "from_address", "to_addresses", "cc_addresses", "bcc_addresses", "reply_to",
	"subject", "html", "text_body", "headers", "tags", "attachments", "template_id", "template_variables", "scheduled_at",
	"provider", "provider_message_id", "attempts", "lease_until", "last_error", "created_at", "updated_at", "recipients",
	"sent_at", "next_attempt_at", "reconciled_at", "pinned_provider", "attempt_id", "uncertain_since", "template_version_id",
	"status_event", "ended_at"
)
SELECT
	"id", "tenant_id", "status", "last_event", "from_address", "to_addresses", "cc_addresses", "bcc_addresses", "reply_to",
	"subject", "html", "text_body", "headers", "tags", "attachments", "template_id", "template_variables", "scheduled_at",
	"provider", "provider_message_id", "attempts", "lease_until", "last_error", "created_at", "updated_at", "recipients",
	"sent_at", "next_attempt_at", "reconciled_at", "pinned_provider", "attempt_id", "uncertain_since", "template_version_id",
	NULL,
	CASE WHEN "status" IN ('delivered', 'bounced', 'complained', 'failed', 'canceled') THEN "updated_at" END
FROM `emails`;
--> statement-breakpoint
DROP TABLE `emails`;
--> statement-breakpoint
ALTER TABLE `__new_emails` RENAME TO `emails`;
--> statement-breakpoint
CREATE INDEX `emails_tenant_id` ON `emails` (`tenant_id`,`id`);
--> statement-breakpoint
CREATE INDEX `emails_open` ON `emails` (`next_attempt_at`,`scheduled_at`) WHERE ended_at IS NULL;
--> statement-breakpoint
CREATE INDEX `emails_cloudflare_message` ON `emails` (`provider_message_id`) WHERE provider = 'cloudflare' AND provider_message_id IS NOT NULL;
--> statement-breakpoint
-- email_events: WITHOUT ROWID, keyed (email_id, key); no other index. Events the email row now says itself are not
-- copied: the accept event (`queued`/`scheduled` at created_at) and `sent` (the row's sent_at) — ours, and the
-- providers' own `sent` reports that duplicated it. Our events keep their order through their old id in the key.
CREATE TABLE `__new_email_events` (
	`email_id` text NOT NULL,
	`key` text NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`at` integer NOT NULL,
	`provider` text,
	`detail` text,
	`recorded_at` integer NOT NULL,
	PRIMARY KEY(`email_id`, `key`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT OR IGNORE INTO `__new_email_events` ("email_id", "key", "tenant_id", "type", "at", "provider", "detail", "recorded_at")
SELECT ev."email_id", COALESCE(ev."dedupe_key", 'o:' || printf('%015d', ev."id")), ev."tenant_id", ev."type", ev."at", ev."provider", ev."detail", ev."at"
FROM `email_events` AS ev
LEFT JOIN `emails` AS e ON e."id" = ev."email_id"
WHERE NOT (ev."type" IN ('queued', 'scheduled') AND ev."dedupe_key" IS NULL AND ev."at" = e."created_at")
	AND NOT (ev."type" = 'sent' AND e."sent_at" IS NOT NULL);
--> statement-breakpoint
DROP TABLE `email_events`;
--> statement-breakpoint
ALTER TABLE `__new_email_events` RENAME TO `email_events`;
--> statement-breakpoint
-- Retention walks emails in id order from a cursor instead of through an index (src/cron/retention.ts).
CREATE TABLE `cron_cursors` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `retention_waiting` (
	`email_id` text PRIMARY KEY NOT NULL
) WITHOUT ROWID;
