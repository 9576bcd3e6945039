CREATE TABLE `approval_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`key_id` text NOT NULL,
	`kind` text NOT NULL,
	`requested_by` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`details` text DEFAULT '{}' NOT NULL,
	`created_at` integer NOT NULL,
	`decided_at` integer,
	`decided_by` text,
	FOREIGN KEY (`requested_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`decided_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`account_id`,`key_id`) REFERENCES `api_keys`(`account_id`,`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `approval_requests_account_idx` ON `approval_requests` (`account_id`,`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `invitations` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`email` text NOT NULL,
	`role` text NOT NULL,
	`token_hash` text NOT NULL,
	`invited_by` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`accepted_at` integer,
	`accepted_by` text,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`accepted_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `invitations_token_hash_uq` ON `invitations` (`token_hash`);--> statement-breakpoint
CREATE INDEX `invitations_account_idx` ON `invitations` (`account_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `memberships` (
	`account_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `user_id`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `memberships_user_idx` ON `memberships` (`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `team_policies` (
	`account_id` text PRIMARY KEY NOT NULL,
	`max_key_lifetime_days` integer,
	`graphql_write_needs_approval` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`session_version` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `created_by` text REFERENCES users(id) ON DELETE SET NULL;--> statement-breakpoint
-- SPEC §11: every existing account becomes a team owned by its own user, who keeps the account's
-- id, email, password hash and session version (so every session cookie stays good), and is the
-- creator of the account's scoped keys (imported legacy keys have none).
INSERT INTO `users` (`id`, `email`, `password_hash`, `session_version`, `created_at`)
  SELECT `id`, `email`, `password_hash`, `session_version`, `created_at` FROM `accounts`;--> statement-breakpoint
INSERT INTO `memberships` (`account_id`, `user_id`, `role`, `created_at`)
  SELECT `id`, `id`, 'owner', `created_at` FROM `accounts`;--> statement-breakpoint
UPDATE `api_keys` SET `created_by` = `account_id` WHERE `kind` = 'scoped';--> statement-breakpoint
-- SPEC §11: an approval's request and both outcomes are webhook events too, named after the action.
DROP TRIGGER `audit_log_webhook_deliveries`;--> statement-breakpoint
CREATE TRIGGER `audit_log_webhook_deliveries` AFTER INSERT ON `audit_log`
WHEN NEW.`action` IN ('api_key.created', 'api_key.enabled', 'api_key.disabled', 'api_key.deleted', 'api_key.rolled',
	'api_key.expiring', 'api_key.expired', 'api_key.leaked', 'api_key.elevated', 'api_key.elevation_ended',
	'approval.requested', 'approval.approved', 'approval.declined')
BEGIN
	INSERT INTO `webhook_deliveries` (`id`, `account_id`, `webhook_id`, `event`, `audit_id`, `payload`, `status`, `attempts`, `next_attempt_at`, `created_at`)
	SELECT 'dlv_' || lower(hex(randomblob(16))), w.`account_id`, w.`id`, e.`event`, NEW.`id`,
		json_object(
			'id', 'evt_' || NEW.`id`,
			'type', e.`event`,
			'createdAt', strftime('%Y-%m-%dT%H:%M:%fZ', NEW.`created_at` / 1000.0, 'unixepoch'),
			'key', json_object('id', NEW.`target_id`, 'name', NEW.`target_name`),
			'details', json(NEW.`details`),
			'actor', json(coalesce(NEW.`actor`, 'null'))
		),
		'pending', 0, cast(unixepoch('subsec') * 1000 as integer), cast(unixepoch('subsec') * 1000 as integer)
	FROM `webhooks` w,
		(SELECT CASE
			WHEN NEW.`action` = 'api_key.elevated' THEN 'key.elevation_started'
			WHEN NEW.`action` LIKE 'approval.%' THEN NEW.`action`
			ELSE 'key.' || substr(NEW.`action`, 9) END AS `event`) e
	WHERE w.`account_id` = NEW.`account_id`;
END;
