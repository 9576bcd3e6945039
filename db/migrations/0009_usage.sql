CREATE TABLE `api_key_usage_daily` (
	`account_id` text NOT NULL,
	`key_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`resource` text NOT NULL,
	`via` text NOT NULL,
	`access` text NOT NULL,
	`code` text NOT NULL,
	`count` integer NOT NULL,
	`last_at` integer NOT NULL,
	PRIMARY KEY(`key_id`, `bucket`, `resource`, `via`, `access`, `code`),
	FOREIGN KEY (`account_id`,`key_id`) REFERENCES `api_keys`(`account_id`,`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `api_key_usage_daily_account_idx` ON `api_key_usage_daily` (`account_id`,`bucket`);--> statement-breakpoint
CREATE INDEX `api_key_usage_daily_bucket_idx` ON `api_key_usage_daily` (`bucket`);--> statement-breakpoint
CREATE TABLE `api_key_usage_hourly` (
	`account_id` text NOT NULL,
	`key_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`resource` text NOT NULL,
	`via` text NOT NULL,
	`access` text NOT NULL,
	`code` text NOT NULL,
	`count` integer NOT NULL,
	`last_at` integer NOT NULL,
	PRIMARY KEY(`key_id`, `bucket`, `resource`, `via`, `access`, `code`),
	FOREIGN KEY (`account_id`,`key_id`) REFERENCES `api_keys`(`account_id`,`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `api_key_usage_hourly_account_idx` ON `api_key_usage_hourly` (`account_id`,`bucket`);--> statement-breakpoint
CREATE INDEX `api_key_usage_hourly_bucket_idx` ON `api_key_usage_hourly` (`bucket`);