CREATE TABLE `data_plane_processes` (
	`id` text PRIMARY KEY NOT NULL,
	`seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rate_limit_shares` (
	`key_id` text NOT NULL,
	`window_start` integer NOT NULL,
	`process_id` text NOT NULL,
	`allowance` integer NOT NULL,
	`used` integer NOT NULL,
	PRIMARY KEY(`key_id`, `window_start`, `process_id`)
);
--> statement-breakpoint
CREATE INDEX `rate_limit_shares_window_idx` ON `rate_limit_shares` (`window_start`);