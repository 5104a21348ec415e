//! The one schema migration runner, for every SQL store (metadata on either
//! database, and the embedded queue and event stores): numbered versions,
//! each applied once in its own transaction and recorded in the
//! `schema_migrations` table, so start-up and `faultline upgrade` can run
//! them any number of times.

use chrono::Utc;

use super::dialect::Dialect;
use super::driver::Pools;
use faultline_storage::Result;

/// The metadata schema, version by version, as (SQLite, PostgreSQL) SQL.
///
/// The PostgreSQL store arrived when SQLite's schema was at version 5, so
/// its version 1 creates all of it and its 2 to 5 are empty; both databases
/// count versions alike from there on. A later change both dialects write
/// alike names one file twice; a file per dialect is only for what must
/// differ (ids are `INTEGER PRIMARY KEY` on SQLite and `BIGSERIAL` on
/// PostgreSQL, booleans `INTEGER` and `BOOLEAN`, and case-insensitive emails
/// a NOCASE column on one and a `lower(email)` index on the other).
const META: &[(&str, &str)] = &[
    (
        include_str!("../migrations/meta/sqlite/0001_initial.sql"),
        include_str!("../migrations/meta/postgres/0001_initial.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0002_sessions.sql"),
        "",
    ),
    (
        include_str!("../migrations/meta/sqlite/0003_user_timezone.sql"),
        "",
    ),
    (
        include_str!("../migrations/meta/sqlite/0004_invites_assignee.sql"),
        "",
    ),
    (include_str!("../migrations/meta/sqlite/0005_teams.sql"), ""),
    (
        include_str!("../migrations/meta/sqlite/0006_alerts.sql"),
        include_str!("../migrations/meta/postgres/0006_alerts.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0007_alert_counts.sql"),
        include_str!("../migrations/meta/postgres/0007_alert_counts.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0008_snoozes.sql"),
        include_str!("../migrations/meta/postgres/0008_snoozes.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0009_seen_releases.sql"),
        include_str!("../migrations/meta/postgres/0009_seen_releases.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0010_team_members.sql"),
        include_str!("../migrations/meta/postgres/0010_team_members.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0011_releases.sql"),
        include_str!("../migrations/meta/postgres/0011_releases.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0012_last_release.sql"),
        include_str!("../migrations/meta/postgres/0012_last_release.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0013_artifacts.sql"),
        include_str!("../migrations/meta/postgres/0013_artifacts.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0014_seen_event_time.sql"),
        include_str!("../migrations/meta/sqlite/0014_seen_event_time.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0015_delivery_trace.sql"),
        include_str!("../migrations/meta/postgres/0015_delivery_trace.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0016_user_reports.sql"),
        include_str!("../migrations/meta/postgres/0016_user_reports.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0017_attachments.sql"),
        include_str!("../migrations/meta/postgres/0017_attachments.sql"),
    ),
    (
        include_str!("../migrations/meta/sqlite/0018_monitors.sql"),
        include_str!("../migrations/meta/postgres/0018_monitors.sql"),
    ),
];

/// The metadata schema's versions in `dialect`.
pub(crate) fn meta(dialect: Dialect) -> Vec<&'static str> {
    META.iter()
        .map(|&(sqlite, postgres)| match dialect {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        })
        .collect()
}

/// Applies the versions (`migrations[0]` is version 1) not applied yet. An
/// empty version is recorded without running anything.
pub(crate) async fn apply<S: AsRef<str>>(pools: &Pools, migrations: &[S]) -> Result<()> {
    let bigint = pools.dialect().bigint();
    pools
        .execute_raw(&format!(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version {bigint} PRIMARY KEY, applied_at {bigint} NOT NULL)"
        ))
        .await?;
    // On the writer, which has just created the table.
    let applied: i64 = pools
        .write("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_scalar()
        .await?
        .unwrap_or(0);
    for (index, sql) in migrations.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= applied {
            continue;
        }
        let mut tx = pools.begin().await?;
        if !sql.as_ref().trim().is_empty() {
            tx.execute_raw(sql.as_ref()).await?;
        }
        tx.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
            .bind(version)
            .bind(Utc::now().timestamp())
            .execute()
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
