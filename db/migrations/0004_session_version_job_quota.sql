ALTER TABLE `accounts` ADD `session_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `jobs_account_status_idx` ON `jobs` (`account_id`,`status`);--> statement-breakpoint
CREATE INDEX `jobs_claim_idx` ON `jobs` (`status`,`account_id`,`created_at`);