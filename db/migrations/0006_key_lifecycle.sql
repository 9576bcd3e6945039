CREATE TABLE `api_key_elevations` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`key_id` text NOT NULL,
	`target` text NOT NULL,
	`endpoint_id` text,
	`level` text NOT NULL,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`ended_at` integer,
	`end_recorded` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`account_id`,`key_id`) REFERENCES `api_keys`(`account_id`,`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`account_id`,`endpoint_id`) REFERENCES `endpoints`(`account_id`,`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `api_key_elevations_key_idx` ON `api_key_elevations` (`key_id`,`ends_at`);--> statement-breakpoint
CREATE INDEX `api_key_elevations_unrecorded_idx` ON `api_key_elevations` (`end_recorded`,`ends_at`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `previous_key_hash` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `previous_hint` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `previous_valid_until` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `previous_until_first_use` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_previous_key_hash_uq` ON `api_keys` (`previous_key_hash`) WHERE "api_keys"."previous_key_hash" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `api_keys_previous_valid_until_idx` ON `api_keys` (`previous_valid_until`) WHERE "api_keys"."previous_key_hash" IS NOT NULL;--> statement-breakpoint
-- Hand-written below (drizzle-kit generates tables, not triggers): the decision revision of
-- migration 0005 now also moves with a key's expiry and previous secret, with its elevations, and
-- with an endpoint's name (a 403 names the endpoint, and the decision cache holds that name).
DROP TRIGGER `api_keys_update_decision_revision`;
--> statement-breakpoint
CREATE TRIGGER `api_keys_update_decision_revision`
AFTER UPDATE OF `id`, `account_id`, `key_hash`, `enabled`, `graphql_level`, `endpoints_all_level`, `expires_at`,
	`previous_key_hash`, `previous_valid_until`, `previous_until_first_use` ON `api_keys`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`account_id` IS NOT NEW.`account_id` OR OLD.`key_hash` IS NOT NEW.`key_hash`
	OR OLD.`enabled` IS NOT NEW.`enabled` OR OLD.`graphql_level` IS NOT NEW.`graphql_level`
	OR OLD.`endpoints_all_level` IS NOT NEW.`endpoints_all_level` OR OLD.`expires_at` IS NOT NEW.`expires_at`
	OR OLD.`previous_key_hash` IS NOT NEW.`previous_key_hash` OR OLD.`previous_valid_until` IS NOT NEW.`previous_valid_until`
	OR OLD.`previous_until_first_use` IS NOT NEW.`previous_until_first_use`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
DROP TRIGGER `endpoints_update_decision_revision`;
--> statement-breakpoint
CREATE TRIGGER `endpoints_update_decision_revision` AFTER UPDATE OF `id`, `account_id`, `name` ON `endpoints`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`account_id` IS NOT NEW.`account_id` OR OLD.`name` IS NOT NEW.`name`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_key_elevations_insert_decision_revision` AFTER INSERT ON `api_key_elevations`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_key_elevations_delete_decision_revision` AFTER DELETE ON `api_key_elevations`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
-- Not end_recorded: writing an end into the audit log changes no decision.
CREATE TRIGGER `api_key_elevations_update_decision_revision`
AFTER UPDATE OF `id`, `account_id`, `key_id`, `target`, `endpoint_id`, `level`, `ends_at`, `ended_at` ON `api_key_elevations`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`account_id` IS NOT NEW.`account_id` OR OLD.`key_id` IS NOT NEW.`key_id`
	OR OLD.`target` IS NOT NEW.`target` OR OLD.`endpoint_id` IS NOT NEW.`endpoint_id` OR OLD.`level` IS NOT NEW.`level`
	OR OLD.`ends_at` IS NOT NEW.`ends_at` OR OLD.`ended_at` IS NOT NEW.`ended_at`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
