CREATE TABLE `decision_revision` (
	`id` integer PRIMARY KEY NOT NULL,
	`revision` integer NOT NULL,
	CONSTRAINT "decision_revision_one_row" CHECK("decision_revision"."id" = 1)
);
--> statement-breakpoint
-- Hand-written below (drizzle-kit generates tables, not triggers). Every committed change that can
-- change what the verifier decides bumps the one revision, in the same transaction, whichever
-- code wrote it. Not last_used_at, name or hint: the last-used flusher writes constantly, and a
-- bump drops every process's decision cache.
INSERT INTO `decision_revision` (`id`, `revision`) VALUES (1, 0);
--> statement-breakpoint
CREATE TRIGGER `api_keys_insert_decision_revision` AFTER INSERT ON `api_keys`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_keys_delete_decision_revision` AFTER DELETE ON `api_keys`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_keys_update_decision_revision`
AFTER UPDATE OF `id`, `account_id`, `key_hash`, `enabled`, `graphql_level`, `endpoints_all_level` ON `api_keys`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`account_id` IS NOT NEW.`account_id` OR OLD.`key_hash` IS NOT NEW.`key_hash`
	OR OLD.`enabled` IS NOT NEW.`enabled` OR OLD.`graphql_level` IS NOT NEW.`graphql_level`
	OR OLD.`endpoints_all_level` IS NOT NEW.`endpoints_all_level`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_key_endpoint_scopes_insert_decision_revision` AFTER INSERT ON `api_key_endpoint_scopes`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_key_endpoint_scopes_update_decision_revision` AFTER UPDATE ON `api_key_endpoint_scopes`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `api_key_endpoint_scopes_delete_decision_revision` AFTER DELETE ON `api_key_endpoint_scopes`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `endpoints_insert_decision_revision` AFTER INSERT ON `endpoints`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `endpoints_delete_decision_revision` AFTER DELETE ON `endpoints`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `endpoints_update_decision_revision` AFTER UPDATE OF `id`, `account_id` ON `endpoints`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`account_id` IS NOT NEW.`account_id`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `accounts_delete_decision_revision` AFTER DELETE ON `accounts`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `accounts_update_decision_revision` AFTER UPDATE OF `id` ON `accounts`
WHEN OLD.`id` IS NOT NEW.`id`
BEGIN
	UPDATE `decision_revision` SET `revision` = `revision` + 1 WHERE `id` = 1;
END;
