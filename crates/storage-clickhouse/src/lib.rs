//! The event store on ClickHouse, the query service's production backend.
//!
//! One `events` table, a `ReplacingMergeTree` partitioned by the event's
//! day so that retention drops whole partitions, and ordered by issue so the
//! issue page's reads are range scans. The schema keeps to what both the
//! old server Debian ships (18.16) and current releases accept: no
//! DateTime64 (times are Int64 milliseconds beside a `day Date`), no
//! LowCardinality, no TTL, no `LIMIT … OFFSET` (the `LIMIT offset, n`
//! form), and rows go in and out as plain `RowBinary` (18.16 lacks
//! `RowBinaryWithNamesAndTypes`, so the client's row validation is off).
//!
//! Inserts are at-least-once: a batch replayed after a crash inserts rows
//! that already exist. They have the same sorting key in the same
//! partition, so the engine folds them at merge time and every read says
//! `FINAL` to fold the ones not merged yet.

use async_trait::async_trait;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use clickhouse::{Client, Row};
use faultline_protocol::{EventId, GroupId, ProjectId};
use serde::{Deserialize, Serialize};

use faultline_storage::{
    EventReader, EventRecord, EventStore, StoredEvent, TagFilter, TagValueCount,
};
use faultline_storage::{Result, StorageError, to_millis};

/// Schema changes, applied in order once each; `schema_migrations`
/// remembers which ran. Never edit one that shipped: append.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS events (
    day Date,
    project_id Int64,
    group_id Int64,
    event_id String,
    timestamp_ms Int64,
    received_ms Int64,
    tags_key Array(String),
    tags_value Array(String),
    data String
) ENGINE = ReplacingMergeTree()
PARTITION BY day
ORDER BY (group_id, timestamp_ms, event_id)"];

#[derive(Clone)]
pub struct ClickHouseEventStore {
    /// Queries in `database`.
    client: Client,
    /// Statements that must run before `database` exists.
    server: Client,
    database: String,
}

#[derive(Row, Serialize)]
struct EventRow<'a> {
    day: u16,
    project_id: i64,
    group_id: i64,
    event_id: String,
    timestamp_ms: i64,
    received_ms: i64,
    tags_key: Vec<&'a str>,
    tags_value: Vec<&'a str>,
    data: &'a str,
}

#[derive(Row, Deserialize)]
struct TagValueRow {
    key: String,
    value: String,
    count: u64,
}

#[derive(Row, Deserialize)]
struct StatRow {
    group_id: i64,
    bucket: i64,
    count: u64,
}

#[derive(Row, Deserialize)]
struct BodyRow {
    event_id: String,
    data: String,
}

#[derive(Row, Deserialize)]
struct PartitionRow {
    partition_id: String,
    rows: u64,
}

fn db_error(e: clickhouse::error::Error) -> StorageError {
    StorageError::Unavailable(format!("ClickHouse: {e}"))
}

fn decode(data: &str) -> Result<StoredEvent> {
    serde_json::from_str(data).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Days since the epoch: ClickHouse's `Date` on the wire.
fn epoch_day(t: DateTime<Utc>) -> u16 {
    t.timestamp().div_euclid(86_400).clamp(0, u16::MAX as i64) as u16
}

/// Integers written into SQL text (ids are `i64`, nothing to escape).
fn id_list(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
}

impl ClickHouseEventStore {
    /// Connects to `url` (`http://[user[:password]@]host:8123[/database]`;
    /// the database defaults to `faultline`) and checks the server answers.
    pub async fn open(url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|e| StorageError::Unavailable(format!("bad clickhouse.url: {e}")))?;
        let database = match parsed.path().trim_matches('/') {
            "" => "faultline".to_owned(),
            name => name.to_owned(),
        };
        if !database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StorageError::Unavailable(format!(
                "bad clickhouse.url: database `{database}` must be letters, digits and _"
            )));
        }
        let mut base = parsed.clone();
        base.set_path("");
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let mut client = Client::default()
            .with_url(base.as_str().trim_end_matches('/'))
            .with_validation(false);
        // The URL carries them percent-encoded; ClickHouse wants them as is.
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8_lossy()
                .into_owned()
        };
        if !parsed.username().is_empty() {
            client = client.with_user(decode(parsed.username()));
        }
        if let Some(password) = parsed.password() {
            client = client.with_password(decode(password));
        }
        client
            .query("SELECT 1")
            .fetch_one::<u8>()
            .await
            .map_err(db_error)?;
        Ok(ClickHouseEventStore {
            server: client.clone(),
            client: client.with_database(database.clone()),
            database,
        })
    }

    /// Creates the database and applies the migrations not applied yet.
    /// Idempotent; `faultline upgrade` runs it.
    pub async fn migrate(&self) -> Result<usize> {
        let db = &self.database;
        let run =
            |sql: String| async move { self.server.query(&sql).execute().await.map_err(db_error) };
        run(format!("CREATE DATABASE IF NOT EXISTS {db}")).await?;
        run(format!(
            "CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, applied DateTime) ENGINE = TinyLog"
        ))
        .await?;
        let applied: u32 = self
            .client
            .query(&format!(
                "SELECT toUInt32(count()) FROM {db}.schema_migrations"
            ))
            .fetch_one()
            .await
            .map_err(db_error)?;
        let mut ran = 0;
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            self.client.query(sql).execute().await.map_err(db_error)?;
            self.client
                .query(&format!(
                    "INSERT INTO {db}.schema_migrations (version, applied) VALUES ({}, now())",
                    version + 1
                ))
                .execute()
                .await
                .map_err(db_error)?;
            ran += 1;
        }
        Ok(ran)
    }
}

#[async_trait]
impl EventReader for ClickHouseEventStore {
    async fn ping(&self) -> Result<()> {
        self.client
            .query("SELECT 1")
            .fetch_one::<u8>()
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn event(&self, project: ProjectId, event_id: EventId) -> Result<Option<StoredEvent>> {
        let data: Option<String> = self
            .client
            .query("SELECT data FROM events WHERE project_id = ? AND event_id = ? LIMIT 1")
            .bind(project.0)
            .bind(event_id.to_string())
            .fetch_optional()
            .await
            .map_err(db_error)?;
        data.as_deref().map(decode).transpose()
    }

    async fn group_events(
        &self,
        group: GroupId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        // The page is chosen on the small key columns first: FINAL (or a
        // sort) over the bodies would read and hold every event of the
        // issue, a gigabyte for a large one. Then only the page's bodies
        // are read; copies not merged yet are alike, so any one will do.
        let page: Vec<String> = self
            .client
            .query(
                "SELECT event_id FROM events FINAL WHERE group_id = ? \
                 ORDER BY timestamp_ms DESC, received_ms DESC, event_id DESC LIMIT ?, ?",
            )
            .bind(group.0)
            .bind(offset as u64)
            .bind(limit as u64)
            .fetch_all()
            .await
            .map_err(db_error)?;
        if page.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are stored as `EventId` writes them (hex and dashes); anything
        // else is not ours and never goes into the statement.
        if let Some(odd) = page
            .iter()
            .find(|id| !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        {
            return Err(StorageError::Corrupt(format!("event id `{odd}`")));
        }
        let ids: Vec<String> = page.iter().map(|id| format!("'{id}'")).collect();
        let sql = format!(
            "SELECT event_id, data FROM events WHERE group_id = ? AND event_id IN ({}) \
             LIMIT 1 BY event_id",
            ids.join(", ")
        );
        let mut bodies: HashMap<String, String> = self
            .client
            .query(&sql)
            .bind(group.0)
            .fetch_all::<BodyRow>()
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|row| (row.event_id, row.data))
            .collect();
        page.iter()
            .filter_map(|id| bodies.remove(id))
            .map(|data| decode(&data))
            .collect()
    }

    async fn group_stats(
        &self,
        groups: &[GroupId],
        since: DateTime<Utc>,
        bucket_seconds: i64,
    ) -> Result<Vec<(GroupId, i64, u64)>> {
        if groups.is_empty() || bucket_seconds <= 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT group_id, intDiv(timestamp_ms, ?) * ? AS bucket, count() AS count \
             FROM events FINAL WHERE group_id IN ({}) AND timestamp_ms >= ? \
             GROUP BY group_id, bucket",
            id_list(groups.iter().map(|g| g.0))
        );
        let rows: Vec<StatRow> = self
            .client
            .query(&sql)
            .bind(bucket_seconds * 1000)
            .bind(bucket_seconds)
            .bind(to_millis(since))
            .fetch_all()
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| (GroupId(r.group_id), r.bucket, r.count))
            .collect())
    }

    async fn tag_values(&self, group: GroupId, per_key: usize) -> Result<Vec<TagValueCount>> {
        let rows: Vec<TagValueRow> = self
            .client
            .query(
                "SELECT key, value, count() AS count FROM events FINAL \
                 ARRAY JOIN tags_key AS key, tags_value AS value WHERE group_id = ? \
                 GROUP BY key, value ORDER BY key, count DESC, value LIMIT ? BY key",
            )
            .bind(group.0)
            .bind(per_key as u64)
            .fetch_all()
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| TagValueCount {
                key: r.key,
                value: r.value,
                count: r.count,
            })
            .collect())
    }

    async fn groups_matching_tags(
        &self,
        projects: &[ProjectId],
        filters: &[TagFilter],
    ) -> Result<Vec<GroupId>> {
        if projects.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "SELECT group_id FROM events FINAL WHERE project_id IN ({}) GROUP BY group_id HAVING 1",
            id_list(projects.iter().map(|p| p.0))
        );
        for filter in filters {
            sql.push_str(
                " AND countIf(arrayExists((k, v) -> k = ? AND v = ?, tags_key, tags_value)) ",
            );
            sql.push_str(if filter.negated { "= 0" } else { "> 0" });
        }
        let mut query = self.client.query(&sql);
        for filter in filters {
            query = query.bind(&filter.key).bind(&filter.value);
        }
        let ids: Vec<i64> = query.fetch_all().await.map_err(db_error)?;
        Ok(ids.into_iter().map(GroupId).collect())
    }
}

#[async_trait]
impl EventStore for ClickHouseEventStore {
    async fn insert_events(&self, events: &[EventRecord]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<EventRow<'_>>("events")
            .await
            .map_err(db_error)?;
        for record in events {
            let data = std::str::from_utf8(&record.json)
                .map_err(|e| StorageError::Corrupt(format!("event JSON is not UTF-8: {e}")))?;
            let row = EventRow {
                day: epoch_day(record.timestamp),
                project_id: record.project_id.0,
                group_id: record.group_id.0,
                event_id: record.event_id.to_string(),
                timestamp_ms: to_millis(record.timestamp),
                received_ms: to_millis(record.received),
                tags_key: record.tags.iter().map(|(k, _)| k.as_str()).collect(),
                tags_value: record.tags.iter().map(|(_, v)| v.as_str()).collect(),
                data,
            };
            insert.write(&row).await.map_err(db_error)?;
        }
        insert.end().await.map_err(db_error)
    }

    async fn delete_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        // Whole days only: a partition goes when its last moment is before
        // the cutoff, so retention may keep up to a day more than asked.
        // Partition ids of a Date key are YYYYMMDD, so they compare as text.
        let partitions: Vec<PartitionRow> = self
            .client
            .query(
                "SELECT partition_id, sum(rows) AS rows FROM system.parts \
                 WHERE database = ? AND table = 'events' AND active AND partition_id < ? \
                 GROUP BY partition_id",
            )
            .bind(&self.database)
            .bind(cutoff.format("%Y%m%d").to_string())
            .fetch_all()
            .await
            .map_err(db_error)?;
        let mut deleted = 0;
        for part in partitions {
            let id = &part.partition_id;
            if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StorageError::Corrupt(format!(
                    "unexpected partition id `{id}`"
                )));
            }
            self.client
                .query(&format!(
                    "ALTER TABLE events DROP PARTITION '{}-{}-{}'",
                    &id[..4],
                    &id[4..6],
                    &id[6..]
                ))
                .execute()
                .await
                .map_err(db_error)?;
            deleted += part.rows;
        }
        Ok(deleted)
    }

    async fn disk_bytes(&self) -> Result<u64> {
        // Active parts only: a dropped partition's files linger until the
        // server's cleanup thread removes them (old_parts_lifetime), but
        // they are already gone from the table and on their way out.
        self.client
            .query(
                "SELECT toUInt64(sum(bytes_on_disk)) FROM system.parts \
                 WHERE database = ? AND active",
            )
            .bind(&self.database)
            .fetch_one::<u64>()
            .await
            .map_err(db_error)
    }
}
