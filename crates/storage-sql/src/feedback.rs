//! User feedback: reports about events, one per event of a project.

use faultline_protocol::{GroupId, ProjectId};

use super::driver::{Pools, Row};
use faultline_storage::{NewUserReport, Result, StorageError, UserReport, from_millis, to_millis};

/// SQLite's bound on one statement's parameters is 32,766; at 7 a row this
/// stays far below it.
const ROWS_PER_INSERT: usize = 500;

pub(super) async fn record(pools: &Pools, reports: &[NewUserReport]) -> Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    let mut tx = pools.begin().await?;
    for chunk in reports.chunks(ROWS_PER_INSERT) {
        let mut insert = tx.query(
            "INSERT INTO user_reports (project_id, event_id, name, email, comments, url, \
             date_created) VALUES ",
        );
        insert.push_rows(chunk, |q, r| {
            q.push_bind(r.project_id.0)
                .push(", ")
                .push_bind(r.event_id.to_string())
                .push(", ")
                .push_bind(r.name.as_str())
                .push(", ")
                .push_bind(r.email.as_str())
                .push(", ")
                .push_bind(r.comments.as_str())
                .push(", ")
                .push_bind(r.url.as_deref())
                .push(", ")
                .push_bind(to_millis(r.date_created));
        });
        // The later report about an event wins (Sentry's behaviour); the
        // same one again (a redelivery) writes what is already there.
        insert.push(
            " ON CONFLICT (project_id, event_id) DO UPDATE SET name = excluded.name, \
             email = excluded.email, comments = excluded.comments, url = excluded.url, \
             date_created = excluded.date_created",
        );
        insert.execute().await?;
    }
    tx.commit().await?;
    Ok(())
}

fn report(row: &Row) -> Result<UserReport> {
    let event_id: String = row.get("event_id")?;
    Ok(UserReport {
        id: row.get("id")?,
        project_id: ProjectId(row.get("project_id")?),
        event_id: event_id
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("user report event id {event_id}")))?,
        group_id: row.get::<Option<i64>>("group_id")?.map(GroupId),
        name: row.get("name")?,
        email: row.get("email")?,
        comments: row.get("comments")?,
        url: row.get("url")?,
        date_created: from_millis(row.get("date_created")?),
    })
}

pub(super) async fn list(
    pools: &Pools,
    project: ProjectId,
    group: Option<GroupId>,
    limit: usize,
) -> Result<Vec<UserReport>> {
    let mut query = pools.read(
        "SELECT r.*, s.group_id FROM user_reports r LEFT JOIN seen_events s \
         ON s.project_id = r.project_id AND s.event_id = r.event_id WHERE r.project_id = ",
    );
    query.push_bind(project.0);
    if let Some(group) = group {
        query.push(" AND s.group_id = ").push_bind(group.0);
    }
    query
        .push(" ORDER BY r.date_created DESC, r.id DESC LIMIT ")
        .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = query.fetch_all().await?;
    rows.iter().map(report).collect()
}

pub(super) async fn counts(pools: &Pools, groups: &[GroupId]) -> Result<Vec<(GroupId, u64)>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = pools.read(
        "SELECT s.group_id, COUNT(*) FROM user_reports r JOIN seen_events s \
         ON s.project_id = r.project_id AND s.event_id = r.event_id WHERE s.group_id IN ",
    );
    query.push_list(groups.iter().map(|g| g.0));
    query.push(" GROUP BY s.group_id");
    let rows = query.fetch_all().await?;
    rows.iter()
        .map(|row| {
            let count: i64 = row.get(1)?;
            Ok((GroupId(row.get(0)?), u64::try_from(count).unwrap_or(0)))
        })
        .collect()
}

/// Retention: reports older than `cutoff` go, like their events.
pub(super) fn delete_before_sql() -> &'static str {
    "DELETE FROM user_reports WHERE date_created < ?"
}
