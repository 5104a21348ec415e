//! The event store on SQLite: events as JSON, plus per-issue tag value
//! counts (Sentry's tagstore) for tag search and distributions.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, ProjectId};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::compress::{self, Codec};
use super::{Db, migrate};
use crate::error::db_error;
use faultline_storage::{
    EventReader, EventRecord, EventStore, StoredEvent, TagFilter, TagValueCount,
};
use faultline_storage::{Result, StorageError, to_millis};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    group_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    received INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX events_group_time ON events (group_id, timestamp);
CREATE INDEX events_received ON events (received);
CREATE TABLE issue_tag_values (
    project_id INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    times_seen INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (group_id, key, value)
) WITHOUT ROWID;
CREATE INDEX issue_tag_values_lookup ON issue_tag_values (project_id, key, value);
"#,
    // The compression dictionaries, by the id zstd writes into each frame.
    "CREATE TABLE dictionaries (id INTEGER PRIMARY KEY, data BLOB NOT NULL, created INTEGER NOT NULL);",
];

#[derive(Clone)]
pub struct SqliteEventStore {
    db: Db,
    /// Swapped whole when a dictionary is added, so readers and writers
    /// take a snapshot and never hold the lock while they work.
    codec: Arc<RwLock<Arc<Codec>>>,
    training: Arc<Mutex<Training>>,
}

/// The events kept for training a dictionary while the store has none.
#[derive(Default)]
struct Training {
    samples: Vec<Bytes>,
    bytes: usize,
    /// A dictionary exists, is being trained, or could not be.
    done: bool,
}

impl Training {
    fn full(&self) -> bool {
        self.samples.len() >= compress::TRAINING_SAMPLES || self.bytes >= compress::TRAINING_BYTES
    }
}

impl SqliteEventStore {
    pub async fn open(path: &Path) -> Result<Self> {
        let db = Db::open(path, 4).await?;
        migrate(&db, MIGRATIONS).await?;
        let dictionaries: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, data FROM dictionaries ORDER BY created, id")
                .fetch_all(&db.read)
                .await
                .map_err(db_error)?;
        let dictionaries: Vec<(u32, Vec<u8>)> = dictionaries
            .into_iter()
            .filter_map(|(id, data)| Some((u32::try_from(id).ok()?, data)))
            .collect();
        let codec = Codec::new(&dictionaries);
        let training = Training {
            done: codec.has_dictionary(),
            ..Training::default()
        };
        Ok(SqliteEventStore {
            db,
            codec: Arc::new(RwLock::new(Arc::new(codec))),
            training: Arc::new(Mutex::new(training)),
        })
    }

    fn codec(&self) -> Arc<Codec> {
        self.codec
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Keeps the first events of a store without a dictionary; once there
    /// are enough, trains one in the background.
    fn sample(&self, payloads: &[Bytes]) {
        let samples = {
            let mut training = self
                .training
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if training.done {
                return;
            }
            for payload in payloads {
                if training.full() {
                    break;
                }
                training.bytes += payload.len();
                training.samples.push(payload.clone());
            }
            if !training.full() {
                return;
            }
            training.done = true;
            training.bytes = 0;
            std::mem::take(&mut training.samples)
        };
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.add_dictionary(samples).await {
                tracing::info!(error = %e, "no compression dictionary for the event store");
            }
        });
    }

    /// Trains a dictionary on `samples`, stores it, and only then compresses
    /// with it: no row ever names a dictionary that is not on disk.
    async fn add_dictionary(&self, samples: Vec<Bytes>) -> Result<()> {
        let (id, data) = tokio::task::spawn_blocking(move || compress::train(&samples))
            .await
            .map_err(|e| StorageError::Unavailable(format!("training task: {e}")))?
            .map_err(|e| StorageError::Unavailable(format!("training: {e}")))?;
        let stored =
            sqlx::query("INSERT OR IGNORE INTO dictionaries (id, data, created) VALUES (?, ?, ?)")
                .bind(i64::from(id))
                .bind(&data[..])
                .bind(to_millis(Utc::now()))
                .execute(&self.db.write)
                .await
                .map_err(db_error)?
                .rows_affected();
        if stored == 0 {
            return Err(StorageError::Conflict(format!("dictionary id {id} exists")));
        }
        let mut codec = self
            .codec
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *codec = Arc::new(codec.with(id, &data));
        tracing::info!(
            id,
            bytes = data.len(),
            "event store compression dictionary trained"
        );
        Ok(())
    }
}

fn decode(codec: &Codec, data: &[u8]) -> Result<StoredEvent> {
    serde_json::from_slice(&codec.decompress(data)?)
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Rows per multi-row statement; well under SQLite's variable limit.
const ROWS_PER_STATEMENT: usize = 100;

struct TagDelta {
    project_id: i64,
    times_seen: i64,
    first_seen: i64,
    last_seen: i64,
}

#[async_trait]
impl EventReader for SqliteEventStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.read)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn event(&self, project: ProjectId, event_id: EventId) -> Result<Option<StoredEvent>> {
        let data: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT data FROM events WHERE project_id = ? AND event_id = ?")
                .bind(project.0)
                .bind(event_id.to_string())
                .fetch_optional(&self.db.read)
                .await
                .map_err(db_error)?;
        data.as_deref()
            .map(|d| decode(&self.codec(), d))
            .transpose()
    }

    async fn group_events(
        &self,
        group: GroupId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT data FROM events WHERE group_id = ? ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(group.0)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&self.db.read)
        .await.map_err(db_error)?;
        let codec = self.codec();
        rows.iter().map(|d| decode(&codec, d)).collect()
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
        let bucket_ms = bucket_seconds * 1000;
        let mut sql: QueryBuilder<'_, Sqlite> = QueryBuilder::new("SELECT group_id, (timestamp / ");
        sql.push_bind(bucket_ms)
            .push(") * ")
            .push_bind(bucket_seconds)
            .push(" AS bucket, COUNT(*) FROM events WHERE timestamp >= ")
            .push_bind(to_millis(since))
            .push(" AND group_id IN (");
        let mut list = sql.separated(", ");
        for g in groups {
            list.push_bind(g.0);
        }
        sql.push(") GROUP BY group_id, bucket");
        let rows = sql
            .build()
            .fetch_all(&self.db.read)
            .await
            .map_err(db_error)?;
        Ok(rows
            .iter()
            .map(|row| (GroupId(row.get(0)), row.get(1), row.get::<i64, _>(2) as u64))
            .collect())
    }

    async fn tag_values(&self, group: GroupId, per_key: usize) -> Result<Vec<TagValueCount>> {
        let rows = sqlx::query(
            "SELECT key, value, times_seen FROM (SELECT key, value, times_seen, \
             ROW_NUMBER() OVER (PARTITION BY key ORDER BY times_seen DESC, value) AS rank \
             FROM issue_tag_values WHERE group_id = ?) WHERE rank <= ? ORDER BY key, times_seen DESC, value",
        )
        .bind(group.0)
        .bind(per_key as i64)
        .fetch_all(&self.db.read)
        .await.map_err(db_error)?;
        Ok(rows
            .iter()
            .map(|row| TagValueCount {
                key: row.get(0),
                value: row.get(1),
                count: row.get::<i64, _>(2) as u64,
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
        // Candidates come from one index lookup on (project, key, value): the
        // first positive filter, or, with only negated filters, the `level`
        // tag every event carries. The other filters are primary-key probes
        // per candidate, so the cost follows the matches, not the project.
        let (key, value) = filters
            .iter()
            .find(|f| !f.negated)
            .map(|f| (f.key.clone(), Some(f.value.clone())))
            .unwrap_or_else(|| ("level".to_owned(), None));
        let mut sql: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
            "SELECT DISTINCT group_id FROM issue_tag_values g WHERE project_id IN (",
        );
        let mut list = sql.separated(", ");
        for p in projects {
            list.push_bind(p.0);
        }
        sql.push(") AND key = ").push_bind(key);
        if let Some(value) = value {
            sql.push(" AND value = ").push_bind(value);
        }
        for filter in filters {
            sql.push(if filter.negated {
                " AND NOT EXISTS ("
            } else {
                " AND EXISTS ("
            });
            sql.push("SELECT 1 FROM issue_tag_values t WHERE t.group_id = g.group_id AND t.key = ")
                .push_bind(filter.key.clone())
                .push(" AND t.value = ")
                .push_bind(filter.value.clone())
                .push(")");
        }
        let ids: Vec<i64> = sql
            .build_query_scalar()
            .fetch_all(&self.db.read)
            .await
            .map_err(db_error)?;
        Ok(ids.into_iter().map(GroupId).collect())
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn insert_events(&self, events: &[EventRecord]) -> Result<()> {
        // Compressing is CPU work: off the async threads, before the write
        // transaction, so the one writer waits for no compression.
        let payloads: Vec<Bytes> = events.iter().map(|r| r.json.clone()).collect();
        self.sample(&payloads);
        let codec = self.codec();
        let packed = tokio::task::spawn_blocking(move || codec.compress_all(&payloads))
            .await
            .map_err(|e| StorageError::Unavailable(format!("compression task: {e}")))?;
        let mut tx = self.db.write.begin().await.map_err(db_error)?;
        // Multi-row statements: each statement is a round trip to sqlx's
        // SQLite worker thread.
        let mut inserted: HashSet<(i64, String)> = HashSet::new();
        let rows: Vec<(&EventRecord, &Vec<u8>)> = events.iter().zip(&packed).collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO events (project_id, event_id, group_id, timestamp, received, data) ",
            );
            sql.push_values(chunk, |mut row, (record, data)| {
                row.push_bind(record.project_id.0)
                    .push_bind(record.event_id.to_string())
                    .push_bind(record.group_id.0)
                    .push_bind(to_millis(record.timestamp))
                    .push_bind(to_millis(record.received))
                    .push_bind(&data[..]);
            });
            sql.push(" RETURNING project_id, event_id");
            for row in sql.build().fetch_all(&mut *tx).await.map_err(db_error)? {
                inserted.insert((row.get(0), row.get(1)));
            }
        }
        // Tag counts only for events stored now, so a redelivery counts nothing.
        let mut tags: HashMap<(i64, &str, &str), TagDelta> = HashMap::new();
        for record in events {
            if !inserted.remove(&(record.project_id.0, record.event_id.to_string())) {
                continue;
            }
            let ts = to_millis(record.timestamp);
            for (key, value) in &record.tags {
                let delta = tags
                    .entry((record.group_id.0, key, value))
                    .or_insert(TagDelta {
                        project_id: record.project_id.0,
                        times_seen: 0,
                        first_seen: ts,
                        last_seen: ts,
                    });
                delta.times_seen += 1;
                delta.first_seen = delta.first_seen.min(ts);
                delta.last_seen = delta.last_seen.max(ts);
            }
        }
        let tags: Vec<_> = tags.into_iter().collect();
        for chunk in tags.chunks(ROWS_PER_STATEMENT) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT INTO issue_tag_values (project_id, group_id, key, value, times_seen, first_seen, last_seen) ",
            );
            sql.push_values(chunk, |mut row, ((group_id, key, value), delta)| {
                row.push_bind(delta.project_id)
                    .push_bind(*group_id)
                    .push_bind(*key)
                    .push_bind(*value)
                    .push_bind(delta.times_seen)
                    .push_bind(delta.first_seen)
                    .push_bind(delta.last_seen);
            });
            sql.push(
                " ON CONFLICT (group_id, key, value) DO UPDATE SET \
                 times_seen = times_seen + excluded.times_seen, first_seen = MIN(first_seen, excluded.first_seen), \
                 last_seen = MAX(last_seen, excluded.last_seen)",
            );
            sql.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn delete_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        let cutoff = to_millis(cutoff);
        let deleted = sqlx::query("DELETE FROM events WHERE timestamp < ?")
            .bind(cutoff)
            .execute(&self.db.write)
            .await
            .map_err(db_error)?
            .rows_affected();
        sqlx::query("DELETE FROM issue_tag_values WHERE last_seen < ?")
            .bind(cutoff)
            .execute(&self.db.write)
            .await
            .map_err(db_error)?;
        self.db.reclaim().await?;
        Ok(deleted)
    }

    async fn disk_bytes(&self) -> Result<u64> {
        Ok(self.db.disk_bytes())
    }
}
