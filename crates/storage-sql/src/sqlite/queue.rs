//! The embedded durable queue: one SQLite table per topic whose
//! AUTOINCREMENT key is the offset (never reused, even after pruning), and a
//! table of committed offsets per consumer group.
//!
//! The file stays small: every second the writer deletes, per topic, what
//! every consumer group has committed past, keeping only a replay window
//! (the newest [`ReplayWindow`] of those messages), and gives the freed
//! pages back to the file system. A message no group has committed is never
//! deleted; a topic no group reads keeps just the window.
//!
//! Publishing goes through one writer task that commits whatever requests
//! are waiting in a single transaction (group commit): each caller still
//! gets its answer only after its messages are on disk, but a burst of
//! concurrent requests shares one fsync.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot, watch};

use super::{Db, migrate};
use crate::error::db_error;
use faultline_storage::{Delivery, EventQueue, Headers, Message, QueueConsumer, Topic};
use faultline_storage::{Result, StorageError};

/// Requests waiting for the writer; bounded so a stalled disk pushes back
/// on relay instead of growing memory.
const WRITE_QUEUE_DEPTH: usize = 4096;
/// How many messages one transaction takes at most.
const MAX_BATCH_MESSAGES: usize = 4000;
const ROWS_PER_INSERT: usize = 200;
const PRUNE_EVERY: Duration = Duration::from_secs(1);
/// Free pages are given back once they add up to this much: below it,
/// the next inserts reuse them sooner than the file system would.
const RECLAIM_ABOVE_BYTES: i64 = 2 << 20;
/// …and, while messages keep coming, at most this often: under a steady
/// load the pages a second's pruning frees are what the next second's
/// messages fill, so giving them back every time would only move pages
/// around (it cost a fifth of the devserver's CPU under the ingest
/// benchmark). The first pruning after publishing stops gives them back.
const RECLAIM_EVERY: Duration = Duration::from_secs(30);

/// What each topic keeps of the messages every group has committed past:
/// the newest ones, at most `messages` of them and at most `bytes` in all
/// (`storage.queue-replay-messages` and `storage.queue-replay-bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayWindow {
    pub messages: u64,
    pub bytes: u64,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            messages: 1000,
            bytes: 4 << 20,
        }
    }
}

fn table(topic: Topic) -> String {
    format!("q_{}", topic.name().replace('-', "_"))
}

fn migrations() -> Vec<String> {
    let mut first = String::from(
        "CREATE TABLE consumer_offsets (grp TEXT NOT NULL, topic TEXT NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic));\n",
    );
    for topic in Topic::ALL {
        first.push_str(&format!(
            "CREATE TABLE {} (seq INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL, payload BLOB NOT NULL, created INTEGER NOT NULL);\n",
            table(topic)
        ));
    }
    // Message headers (the trace context), as a JSON list of pairs; NULL
    // when a message has none.
    let mut headers = String::new();
    for topic in Topic::ALL {
        headers.push_str(&format!(
            "ALTER TABLE {} ADD COLUMN headers TEXT;\n",
            table(topic)
        ));
    }
    vec![first, headers]
}

enum WriteRequest {
    Publish {
        topic: Topic,
        messages: Vec<Message>,
        reply: oneshot::Sender<Result<()>>,
    },
    Commit {
        group: String,
        topic: Topic,
        next_offset: i64,
        reply: oneshot::Sender<Result<()>>,
    },
}

impl WriteRequest {
    fn size(&self) -> usize {
        match self {
            WriteRequest::Publish { messages, .. } => messages.len(),
            WriteRequest::Commit { .. } => 1,
        }
    }
}

struct Inner {
    db: Db,
    writer: mpsc::Sender<WriteRequest>,
    /// Bumped after each commit that added messages to a topic, so idle
    /// consumers wake up without polling the database.
    published: HashMap<Topic, watch::Sender<u64>>,
}

#[derive(Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
}

impl SqliteQueue {
    pub async fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, ReplayWindow::default()).await
    }

    pub async fn open_with(path: &Path, window: ReplayWindow) -> Result<Self> {
        let db = Db::open(path, 4).await?;
        migrate(&db, &migrations()).await?;
        let (writer, rx) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let published = Topic::ALL
            .into_iter()
            .map(|t| (t, watch::channel(0).0))
            .collect();
        let inner = Arc::new(Inner {
            db,
            writer,
            published,
        });
        tokio::spawn(write_loop(
            Arc::downgrade(&inner),
            inner.db.clone(),
            window,
            rx,
        ));
        Ok(SqliteQueue { inner })
    }

    async fn send(
        &self,
        request: WriteRequest,
        reply: oneshot::Receiver<Result<()>>,
    ) -> Result<()> {
        self.inner
            .writer
            .send(request)
            .await
            .map_err(|_| StorageError::Closed)?;
        reply.await.map_err(|_| StorageError::Closed)?
    }
}

#[async_trait]
impl EventQueue for SqliteQueue {
    async fn publish(&self, topic: Topic, messages: Vec<Message>) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let count = messages.len();
        let (reply, rx) = oneshot::channel();
        self.send(
            WriteRequest::Publish {
                topic,
                messages,
                reply,
            },
            rx,
        )
        .await?;
        faultline_storage::metrics::produced(topic, count);
        Ok(())
    }

    async fn subscribe(&self, topic: Topic, group: &str) -> Result<Box<dyn QueueConsumer>> {
        // Registering the group at offset 0 keeps pruning from deleting what
        // it has not read yet.
        let (reply, rx) = oneshot::channel();
        self.send(
            WriteRequest::Commit {
                group: group.to_owned(),
                topic,
                next_offset: 0,
                reply,
            },
            rx,
        )
        .await?;
        let position: i64 = sqlx::query_scalar(
            "SELECT next_offset FROM consumer_offsets WHERE grp = ? AND topic = ?",
        )
        .bind(group)
        .bind(topic.name())
        .fetch_one(&self.inner.db.read)
        .await
        .map_err(db_error)?;
        let published = self.inner.published[&topic].subscribe();
        Ok(Box::new(SqliteConsumer {
            queue: self.clone(),
            topic,
            group: group.to_owned(),
            position,
            published,
        }))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.db.read)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

struct SqliteConsumer {
    queue: SqliteQueue,
    topic: Topic,
    group: String,
    /// The next offset to hand out; commits trail it.
    position: i64,
    published: watch::Receiver<u64>,
}

#[async_trait]
impl QueueConsumer for SqliteConsumer {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        let sql = format!(
            "SELECT seq, key, payload, headers FROM {} WHERE seq >= ? ORDER BY seq LIMIT ?",
            table(self.topic)
        );
        loop {
            self.published.borrow_and_update();
            let rows = sqlx::query(&sql)
                .bind(self.position)
                .bind(max as i64)
                .fetch_all(&self.queue.inner.db.read)
                .await
                .map_err(db_error)?;
            if !rows.is_empty() {
                let deliveries: Vec<Delivery> = rows
                    .into_iter()
                    .map(|row| Delivery {
                        partition: 0,
                        offset: row.get(0),
                        key: row.get(1),
                        payload: Bytes::from(row.get::<Vec<u8>, _>(2)),
                        headers: decode_headers(row.get(3)),
                    })
                    .collect();
                self.position = deliveries.last().map_or(self.position, |d| d.offset + 1);
                return Ok(deliveries);
            }
            match tokio::time::timeout_at(deadline, self.published.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(StorageError::Closed),
                Err(_) => return Ok(Vec::new()),
            }
        }
    }

    async fn commit(&mut self, deliveries: &[Delivery]) -> Result<()> {
        let Some(last) = deliveries.iter().map(|d| d.offset).max() else {
            return Ok(());
        };
        let (reply, rx) = oneshot::channel();
        self.queue
            .send(
                WriteRequest::Commit {
                    group: self.group.clone(),
                    topic: self.topic,
                    next_offset: last + 1,
                    reply,
                },
                rx,
            )
            .await
    }

    async fn lag(&mut self) -> Result<Option<u64>> {
        // The last sequence number handed out, which pruning leaves alone
        // (AUTOINCREMENT); sequence numbers start at 1.
        let last: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?")
                .bind(table(self.topic))
                .fetch_optional(&self.queue.inner.db.read)
                .await
                .map_err(db_error)?;
        let behind = last.unwrap_or(0).saturating_add(1) - self.position.max(1);
        Ok(Some(u64::try_from(behind).unwrap_or(0)))
    }
}

async fn write_loop(
    inner: std::sync::Weak<Inner>,
    db: Db,
    window: ReplayWindow,
    mut rx: mpsc::Receiver<WriteRequest>,
) {
    let mut last_prune = Instant::now();
    let mut last_reclaim: Option<Instant> = None;
    let mut prune_timer = tokio::time::interval(PRUNE_EVERY);
    prune_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Topics published to or committed on since the last pruning; all of
    // them at first, for what an earlier run left.
    let mut dirty: Vec<Topic> = Topic::ALL.to_vec();
    let mut published = false;
    // A pruning that freed space but was not allowed to give it back.
    let mut reclaim_owed = false;
    loop {
        let first = tokio::select! {
            request = rx.recv() => match request {
                Some(r) => r,
                None => return,
            },
            _ = prune_timer.tick() => {
                let due = !dirty.is_empty() || (reclaim_owed && !published);
                if last_prune.elapsed() >= PRUNE_EVERY && due {
                    let may_reclaim = !published
                        || last_reclaim.is_none_or(|at| at.elapsed() >= RECLAIM_EVERY);
                    published = false;
                    match prune(&db, &dirty, window, may_reclaim).await {
                        Ok(reclaim) => {
                            dirty.clear();
                            reclaim_owed = reclaim == Reclaim::Deferred;
                            if reclaim == Reclaim::Done {
                                last_reclaim = Some(Instant::now());
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "queue pruning failed"),
                    }
                    last_prune = Instant::now();
                }
                continue;
            }
        };
        let mut batch = vec![first];
        let mut size = batch[0].size();
        while size < MAX_BATCH_MESSAGES {
            match rx.try_recv() {
                Ok(r) => {
                    size += r.size();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        let result = write_batch(&db, &batch).await;
        let mut touched = Vec::new();
        for request in batch {
            let outcome = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(StorageError::Unavailable(e.to_string())),
            };
            let topic = match request {
                WriteRequest::Publish { topic, reply, .. } => {
                    published = true;
                    if outcome.is_ok() && !touched.contains(&topic) {
                        touched.push(topic);
                    }
                    let _ = reply.send(outcome);
                    topic
                }
                WriteRequest::Commit { topic, reply, .. } => {
                    let _ = reply.send(outcome);
                    topic
                }
            };
            if !dirty.contains(&topic) {
                dirty.push(topic);
            }
        }
        if let Some(inner) = inner.upgrade() {
            for topic in touched {
                inner.published[&topic].send_modify(|v| *v = v.wrapping_add(1));
            }
        }
        if let Err(e) = &result {
            tracing::error!(error = %e, "queue write failed");
        }
    }
}

async fn write_batch(db: &Db, batch: &[WriteRequest]) -> Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    // Messages of all waiting requests, per topic in arrival order, go into
    // a few multi-row INSERTs: statements, not bytes, are what cost here.
    let mut per_topic: Vec<(Topic, Vec<&Message>)> = Vec::new();
    for request in batch {
        if let WriteRequest::Publish {
            topic, messages, ..
        } = request
        {
            match per_topic.iter_mut().find(|(t, _)| t == topic) {
                Some((_, list)) => list.extend(messages.iter()),
                None => per_topic.push((*topic, messages.iter().collect())),
            }
        }
    }
    let has_commits = batch
        .iter()
        .any(|r| matches!(r, WriteRequest::Commit { .. }));
    if !has_commits && per_topic.len() == 1 && per_topic[0].1.len() <= ROWS_PER_INSERT {
        // One statement is its own transaction: this saves the BEGIN and
        // COMMIT round trips on the common path (relay publishing events).
        let (topic, messages) = &per_topic[0];
        insert_messages(&db.write, *topic, messages, now).await?;
        return Ok(());
    }
    let mut tx = db.write.begin().await.map_err(db_error)?;
    for (topic, messages) in &per_topic {
        for chunk in messages.chunks(ROWS_PER_INSERT) {
            insert_messages(&mut *tx, *topic, chunk, now).await?;
        }
    }
    for request in batch {
        if let WriteRequest::Commit {
            group,
            topic,
            next_offset,
            ..
        } = request
        {
            sqlx::query(
                "INSERT INTO consumer_offsets (grp, topic, next_offset) VALUES (?, ?, ?) \
                 ON CONFLICT (grp, topic) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
            )
            .bind(group)
            .bind(topic.name())
            .bind(next_offset)
            .execute(&mut *tx)
            .await.map_err(db_error)?;
        }
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

async fn insert_messages<'c>(
    executor: impl sqlx::Executor<'c, Database = Sqlite>,
    topic: Topic,
    messages: &[&Message],
    now: i64,
) -> Result<()> {
    let mut sql = QueryBuilder::<Sqlite>::new(format!(
        "INSERT INTO {} (key, payload, created, headers) ",
        table(topic)
    ));
    sql.push_values(messages, |mut row, message| {
        row.push_bind(message.key)
            .push_bind(&message.payload[..])
            .push_bind(now)
            .push_bind(encode_headers(&message.headers));
    });
    sql.build().execute(executor).await.map_err(db_error)?;
    Ok(())
}

fn encode_headers(headers: &Headers) -> Option<String> {
    (!headers.is_empty())
        .then(|| serde_json::to_string(&headers.0).expect("pairs of strings serialise"))
}

/// A damaged column costs the headers (the trace), not the message.
fn decode_headers(column: Option<String>) -> Headers {
    Headers(
        column
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default(),
    )
}

/// What a pruning did with the free pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reclaim {
    Done,
    /// Too few to bother.
    NotNeeded,
    /// Enough, but not allowed now.
    Deferred,
}

/// Deletes what every group of each of `topics` has committed past, but
/// the replay window, and (when `may_reclaim`) gives the space back once
/// enough has been freed.
async fn prune(
    db: &Db,
    topics: &[Topic],
    window: ReplayWindow,
    may_reclaim: bool,
) -> Result<Reclaim> {
    for &topic in topics {
        let committed: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_offset) FROM consumer_offsets WHERE topic = ?")
                .bind(topic.name())
                .fetch_one(&db.write)
                .await
                .map_err(db_error)?;
        // Nobody reads the topic: everything is "past", but the window.
        let bound = committed.unwrap_or(i64::MAX);
        if let Some(last_dropped) = beyond_window(db, topic, bound, window).await? {
            sqlx::query(&format!("DELETE FROM {} WHERE seq <= ?", table(topic)))
                .bind(last_dropped)
                .execute(&db.write)
                .await
                .map_err(db_error)?;
        }
    }
    let free: i64 = sqlx::query_scalar(
        "SELECT freelist_count * page_size FROM pragma_freelist_count, pragma_page_size",
    )
    .fetch_one(&db.write)
    .await
    .map_err(db_error)?;
    if free <= RECLAIM_ABOVE_BYTES {
        return Ok(Reclaim::NotNeeded);
    }
    if !may_reclaim {
        return Ok(Reclaim::Deferred);
    }
    db.reclaim().await?;
    Ok(Reclaim::Done)
}

/// The newest offset below `bound` that falls outside the replay window,
/// if any: walking back from `bound`, the window holds messages while both
/// its count and its bytes allow.
async fn beyond_window(
    db: &Db,
    topic: Topic,
    bound: i64,
    window: ReplayWindow,
) -> Result<Option<i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT seq, length(payload) FROM {} WHERE seq < ? ORDER BY seq DESC LIMIT ?",
        table(topic)
    ))
    .bind(bound)
    .bind(i64::try_from(window.messages.saturating_add(1)).unwrap_or(i64::MAX))
    .fetch_all(&db.write)
    .await
    .map_err(db_error)?;
    let (mut count, mut bytes) = (0u64, 0u64);
    for (seq, len) in rows {
        bytes = bytes.saturating_add(len.max(0) as u64);
        count += 1;
        if count > window.messages || bytes > window.bytes {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(key: i64, text: &str) -> Message {
        Message::new(key, Bytes::from(text.to_owned()))
    }

    #[tokio::test]
    async fn consumers_resume_from_commits_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        {
            let queue = SqliteQueue::open(&path).await.unwrap();
            queue
                .publish(
                    Topic::IngestEvents,
                    vec![msg(1, "a"), msg(1, "b"), msg(2, "c")],
                )
                .await
                .unwrap();
            let mut consumer = queue.subscribe(Topic::IngestEvents, "g").await.unwrap();
            let got = consumer.poll(2, Duration::from_millis(10)).await.unwrap();
            assert_eq!(got.len(), 2);
            consumer.commit(&got[..1]).await.unwrap();
            // Not committed: "b" must be delivered again after a restart.
            let got = consumer.poll(10, Duration::from_millis(10)).await.unwrap();
            assert_eq!(&got[0].payload[..], b"c");
        }
        let queue = SqliteQueue::open(&path).await.unwrap();
        let mut consumer = queue.subscribe(Topic::IngestEvents, "g").await.unwrap();
        let got = consumer.poll(10, Duration::from_millis(10)).await.unwrap();
        let payloads: Vec<&[u8]> = got.iter().map(|d| &d.payload[..]).collect();
        assert_eq!(payloads, vec![&b"b"[..], &b"c"[..]]);
        // A second group starts from the beginning; topics are independent.
        let mut other = queue.subscribe(Topic::IngestEvents, "other").await.unwrap();
        assert_eq!(
            other
                .poll(10, Duration::from_millis(10))
                .await
                .unwrap()
                .len(),
            3
        );
        let mut events = queue.subscribe(Topic::Events, "g").await.unwrap();
        assert!(
            events
                .poll(10, Duration::from_millis(10))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn pruning_keeps_uncommitted_messages_and_the_replay_window() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteQueue::open(&dir.path().join("q.sqlite"))
            .await
            .unwrap();
        let topic = Topic::IngestEvents;
        let messages = (0..50).map(|i| msg(i, &"x".repeat(100))).collect();
        queue.publish(topic, messages).await.unwrap();
        let mut slow = queue.subscribe(topic, "slow").await.unwrap();
        let mut fast = queue.subscribe(topic, "fast").await.unwrap();
        let got = fast.poll(100, Duration::from_millis(10)).await.unwrap();
        fast.commit(&got).await.unwrap();
        let got = slow.poll(30, Duration::from_millis(10)).await.unwrap();
        slow.commit(&got).await.unwrap();
        let keys = |window| {
            let queue = queue.clone();
            async move {
                prune(&queue.inner.db, &[topic], window, true)
                    .await
                    .unwrap();
                let mut fresh = queue.subscribe(topic, "fresh").await.unwrap();
                let keys: Vec<i64> = fresh
                    .poll(100, Duration::from_millis(10))
                    .await
                    .unwrap()
                    .iter()
                    .map(|d| d.key)
                    .collect();
                sqlx::query("DELETE FROM consumer_offsets WHERE grp = 'fresh'")
                    .execute(&queue.inner.db.write)
                    .await
                    .unwrap();
                keys
            }
        };
        // "slow" committed 30: 20 uncommitted stay, and 5 before them.
        let window = ReplayWindow {
            messages: 5,
            bytes: 1 << 20,
        };
        assert_eq!(keys(window).await, (25..50).collect::<Vec<_>>());
        // The byte bound cuts the window further (each payload is 100 bytes).
        let window = ReplayWindow {
            messages: 5,
            bytes: 250,
        };
        assert_eq!(keys(window).await, (28..50).collect::<Vec<_>>());
        // Nothing uncommitted ever goes, however small the window.
        let window = ReplayWindow {
            messages: 0,
            bytes: 0,
        };
        assert_eq!(keys(window).await, (30..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn idle_consumer_wakes_on_publish() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteQueue::open(&dir.path().join("q.sqlite"))
            .await
            .unwrap();
        let mut consumer = queue.subscribe(Topic::Events, "g").await.unwrap();
        let publisher = queue.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            publisher
                .publish(Topic::Events, vec![msg(1, "late")])
                .await
                .unwrap();
        });
        let got = consumer.poll(10, Duration::from_secs(10)).await.unwrap();
        assert_eq!(&got[0].payload[..], b"late");
    }

    #[tokio::test]
    async fn concurrent_publishers_all_land_once() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteQueue::open(&dir.path().join("q.sqlite"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                q.publish(Topic::IngestEvents, vec![msg(i, &i.to_string())])
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut consumer = queue.subscribe(Topic::IngestEvents, "g").await.unwrap();
        let got = consumer
            .poll(1000, Duration::from_millis(10))
            .await
            .unwrap();
        let mut keys: Vec<i64> = got.iter().map(|d| d.key).collect();
        keys.sort();
        assert_eq!(keys, (0..50).collect::<Vec<_>>());
    }
}
