//! Several `serve` processes on one database (issue 15).
//!
//! - `throttle_events`: the attempts that rate limits count (logins, registrations, emails
//!   asked for, searches), one row per attempt under a keyed hash of what it is counted
//!   against, so that every process counts the same attempts. Rows older than the window are
//!   deleted as the limits are used.
//! - `email_queue.claim_token`: which claim of a worker holds an email, so that a worker
//!   renews only its own claims and learns which it lost.
//! - On PostgreSQL, triggers that tell every listening process, at commit, what changed:
//!   `lists:<ids>` when organisations' match lists moved to a new version (`lists:*` when too
//!   many to name), `generation:<name>` when a generation counter moved, `session:<account>`
//!   when an account's sessions may have ended. They are sent on the channel `matchwell`.
//!   SQLite has no such thing: processes there fall back on comparing versions.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EmailQueue {
    Table,
    ClaimToken,
}

#[derive(DeriveIden)]
enum ThrottleEvents {
    Table,
    Id,
    Key,
    At,
}

/// The PostgreSQL notifications, as functions and the triggers that call them.
const NOTIFY: &str = r#"
CREATE FUNCTION matchwell_notify_lists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    SELECT string_agg(n.id::text, ',') INTO changed
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE n.list_version <> o.list_version;
    IF changed IS NOT NULL THEN
        PERFORM pg_notify('matchwell', CASE WHEN length(changed) > 7000 THEN 'lists:*' ELSE 'lists:' || changed END);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER organisations_notify_lists AFTER UPDATE ON organisations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION matchwell_notify_lists();

CREATE FUNCTION matchwell_notify_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('matchwell', 'generation:' || NEW.name);
    RETURN NULL;
END $$;
CREATE TRIGGER generations_notify AFTER UPDATE ON generations
    FOR EACH ROW WHEN (NEW.value IS DISTINCT FROM OLD.value)
    EXECUTE FUNCTION matchwell_notify_generation();

CREATE FUNCTION matchwell_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('matchwell', 'session:' || OLD.public_id);
    RETURN NULL;
END $$;
CREATE TRIGGER accounts_notify_session_update AFTER UPDATE ON accounts
    FOR EACH ROW WHEN (NEW.session_version IS DISTINCT FROM OLD.session_version
                       OR NEW.role IS DISTINCT FROM OLD.role
                       OR NEW.verified_at IS DISTINCT FROM OLD.verified_at)
    EXECUTE FUNCTION matchwell_notify_session();
CREATE TRIGGER accounts_notify_session_delete AFTER DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION matchwell_notify_session();
"#;

const UNNOTIFY: &str = r#"
DROP TRIGGER IF EXISTS accounts_notify_session_delete ON accounts;
DROP TRIGGER IF EXISTS accounts_notify_session_update ON accounts;
DROP FUNCTION IF EXISTS matchwell_notify_session();
DROP TRIGGER IF EXISTS generations_notify ON generations;
DROP FUNCTION IF EXISTS matchwell_notify_generation();
DROP TRIGGER IF EXISTS organisations_notify_lists ON organisations;
DROP FUNCTION IF EXISTS matchwell_notify_lists();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ThrottleEvents::Table)
                    .col(ColumnDef::new(ThrottleEvents::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ThrottleEvents::Key).text().not_null())
                    .col(ColumnDef::new(ThrottleEvents::At).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("throttle_events_key_at")
                    .table(ThrottleEvents::Table)
                    .col(ThrottleEvents::Key)
                    .col(ThrottleEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("throttle_events_at")
                    .table(ThrottleEvents::Table)
                    .col(ThrottleEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EmailQueue::Table)
                    .add_column(ColumnDef::new(EmailQueue::ClaimToken).text().null())
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(NOTIFY).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(UNNOTIFY).await?;
        }
        manager
            .alter_table(Table::alter().table(EmailQueue::Table).drop_column(EmailQueue::ClaimToken).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(ThrottleEvents::Table).to_owned()).await
    }
}
