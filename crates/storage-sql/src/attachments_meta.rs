//! Event attachments' metadata (their bytes are in the blob store).

use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, ProjectId};

use super::driver::{Pools, Row};
use faultline_storage::{Attachment, NewAttachment, Result, StorageError, from_millis, to_millis};

/// 8 values a row: far below SQLite's bound on parameters.
const ROWS_PER_INSERT: usize = 500;

pub(super) async fn record(pools: &Pools, attachments: &[NewAttachment]) -> Result<()> {
    if attachments.is_empty() {
        return Ok(());
    }
    let mut tx = pools.begin().await?;
    for chunk in attachments.chunks(ROWS_PER_INSERT) {
        let mut insert = tx.query(
            "INSERT INTO event_attachments (project_id, event_id, name, attachment_type, \
             content_type, size, sha1, date_created) VALUES ",
        );
        insert.push_rows(chunk, |q, a| {
            q.push_bind(a.project_id.0)
                .push(", ")
                .push_bind(a.event_id.to_string())
                .push(", ")
                .push_bind(a.name.as_str())
                .push(", ")
                .push_bind(a.attachment_type.as_str())
                .push(", ")
                .push_bind(a.content_type.as_str())
                .push(", ")
                .push_bind(i64::try_from(a.size).unwrap_or(i64::MAX))
                .push(", ")
                .push_bind(a.sha1.as_str())
                .push(", ")
                .push_bind(to_millis(a.date_created));
        });
        insert.push(" ON CONFLICT (project_id, event_id, name, sha1) DO NOTHING");
        insert.execute().await?;
    }
    tx.commit().await?;
    Ok(())
}

fn attachment(row: &Row) -> Result<Attachment> {
    let event_id: String = row.get("event_id")?;
    Ok(Attachment {
        id: row.get("id")?,
        project_id: ProjectId(row.get("project_id")?),
        event_id: event_id
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("attachment event id {event_id}")))?,
        name: row.get("name")?,
        attachment_type: row.get("attachment_type")?,
        content_type: row.get("content_type")?,
        size: u64::try_from(row.get::<i64>("size")?).unwrap_or(0),
        sha1: row.get("sha1")?,
        date_created: from_millis(row.get("date_created")?),
    })
}

pub(super) async fn of_event(
    pools: &Pools,
    project: ProjectId,
    event: EventId,
) -> Result<Vec<Attachment>> {
    let rows = pools
        .read("SELECT * FROM event_attachments WHERE project_id = ? AND event_id = ? ORDER BY id")
        .bind(project.0)
        .bind(event.to_string())
        .fetch_all()
        .await?;
    rows.iter().map(attachment).collect()
}

pub(super) async fn delete_before(pools: &Pools, cutoff: DateTime<Utc>) -> Result<Vec<Attachment>> {
    let cutoff = to_millis(cutoff);
    let mut tx = pools.begin().await?;
    let rows = tx
        .query("DELETE FROM event_attachments WHERE date_created < ? RETURNING *")
        .bind(cutoff)
        .fetch_all()
        .await?;
    tx.commit().await?;
    rows.iter().map(attachment).collect()
}
