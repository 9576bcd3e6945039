CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`event` text NOT NULL,
	`audit_id` integer,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`claimed_until` integer,
	`last_status` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`completed_at` integer,
	FOREIGN KEY (`account_id`,`webhook_id`) REFERENCES `webhooks`(`account_id`,`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_account_idx` ON `webhook_deliveries` (`account_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhooks_account_idx` ON `webhooks` (`account_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `webhooks_account_id_uq` ON `webhooks` (`account_id`,`id`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `allowed_ips` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `rate_limit` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `rate_limit_per` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `leaked_at` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `leak_url` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `leak_source` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `leak_dismissed_at` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `expiring_notified` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `expired_notified` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `api_keys_expiry_notice_idx` ON `api_keys` (`expires_at`) WHERE "api_keys"."expired_notified" = 0 AND "api_keys"."expires_at" IS NOT NULL;--> statement-breakpoint
-- Hand-written below. The decision revision (0005, 0006) now also moves with a key's allowlist and
-- rate limit. Not the leak columns: a leak report disables the key, and `enabled` moves it.
DROP TRIGGER `api_keys_update_decision_revision`;
--> statement-breakpoint
CREATE TRIGGER `api_keys_update_decision_revision`
AFTER UPDATE OF `id`, `account_id`, `key_hash`, `enabled`, `graphql_level`, `endpoints_all_level`, `expires_at`,
	`previous_key_hash`, `previous_valid_until`, `previous_until_first_use`, `allowed_ips`, `rate_limit`, `rate_limit_per` ON `api_keys`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`account_id` IS NOT NEW.`account_id` OR OLD.`key_hash` IS NOT NEW.`key_hash`
	OR OLD.`enabled` IS NOT NEW.`enabled` OR OLD.`graphql_level` IS NOT NEW.`graphql_level`
	OR OLD.`endpoints_all_level` IS NOT NEW.`endpoints_all_level` OR OLD.`expires_at` IS NOT NEW.`expires_at`
	OR OLD.`previous_key_hash` IS NOT NEW.`previous_key_hash` OR OLD.`previous_valid_until` IS NOT NEW.`previous_valid_until`
	OR OLD.`previous_until_first_use` IS NOT NEW.`previous_until_first_use` OR OLD.`allowed_ips` IS NOT NEW.`allowed_ips`
	OR OLD.`rate_limit` IS NOT NEW.`rate_limit` OR OLD.`rate_limit_per` IS NOT NEW.`rate_limit_per`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
-- The webhook outbox (SPEC §9): every audit entry of an event a webhook receives becomes one
-- delivery per webhook of the account, in the same transaction as the change and its entry,
-- whichever code wrote it. The payload names the key and carries the entry's details and actor:
-- names, ids, levels and times only, never a key, a hash or a hint.
CREATE TRIGGER `audit_log_webhook_deliveries` AFTER INSERT ON `audit_log`
WHEN NEW.`action` IN ('api_key.created', 'api_key.enabled', 'api_key.disabled', 'api_key.deleted', 'api_key.rolled',
	'api_key.expiring', 'api_key.expired', 'api_key.leaked', 'api_key.elevated', 'api_key.elevation_ended')
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
		(SELECT CASE NEW.`action`
			WHEN 'api_key.elevated' THEN 'key.elevation_started'
			ELSE 'key.' || substr(NEW.`action`, 9) END AS `event`) e
	WHERE w.`account_id` = NEW.`account_id`;
END;
