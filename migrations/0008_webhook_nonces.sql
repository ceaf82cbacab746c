CREATE TABLE `webhook_nonces` (
	`provider` text NOT NULL,
	`nonce` text NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `nonce`)
);
--> statement-breakpoint
CREATE INDEX `webhook_nonces_expires` ON `webhook_nonces` (`expires_at`);