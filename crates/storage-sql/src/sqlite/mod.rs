//! Embedded backends on SQLite files (WAL mode) through sqlx: what
//! `faultline devserver` runs on. Each store has its own file so the queue's
//! frequent commits never wait on metadata writes.
//!
//! Every store has one writer connection (SQLite allows one writer; queuing
//! writers in-process avoids lock upgrade failures) and a small reader pool.

mod compress;
mod events;
mod queue;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

pub use events::SqliteEventStore;
pub use queue::{ReplayWindow, SqliteQueue};

use crate::Pools;
use crate::error::db_error;
use faultline_storage::Result;

/// File names inside a data directory.
pub const META_FILE: &str = "meta.sqlite";
pub const EVENTS_FILE: &str = "events.sqlite";
pub const QUEUE_FILE: &str = "queue.sqlite";

/// A writer (one connection) and readers over one database file.
#[derive(Clone)]
pub(crate) struct Db {
    pub write: SqlitePool,
    pub read: SqlitePool,
    path: PathBuf,
}

/// The name a store's pool is reported by: its file's (`meta.sqlite`
/// is `meta`), for the files the devserver keeps.
fn pool_name(path: &Path) -> Option<&'static str> {
    match path.file_name()?.to_str()? {
        "meta.sqlite" => Some("meta"),
        EVENTS_FILE => Some("events"),
        QUEUE_FILE => Some("queue"),
        _ => None,
    }
}

/// The write-ahead log is cut back to this size whenever a checkpoint
/// empties it, so a burst of writes does not leave a large file behind.
const WAL_SIZE_LIMIT: &str = "4194304";

impl Db {
    pub(crate) async fn open(path: &Path, readers: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(db_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL in every store: an accepted event must survive a power
            // cut, and a committed offset must never run ahead of the
            // effects it acknowledges. Group commits amortise the fsyncs.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        // Page caches bound most of the devserver's memory: a larger one for
        // the writer, small ones for readers (the OS caches the file too).
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", "-8000")
                    // Deleted rows' pages can go back to the file system
                    // (`reclaim`) without a VACUUM, which would copy the
                    // whole file into the WAL beside running readers. It
                    // takes effect on a new file; `open` converts old ones.
                    .auto_vacuum(SqliteAutoVacuum::Incremental)
                    .pragma("journal_size_limit", WAL_SIZE_LIMIT),
            )
            .await
            .map_err(db_error)?;
        let read = SqlitePoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true).pragma("cache_size", "-2000"))
            .await
            .map_err(db_error)?;
        // The readers are what requests wait for; the writer is one
        // connection, always lent to the write loop or a transaction.
        if let Some(name) = pool_name(path) {
            crate::driver::watch_pool(name, &read);
        }
        let db = Db {
            write,
            read,
            path: path.to_owned(),
        };
        db.ensure_incremental_vacuum().await?;
        tokio::spawn(truncate_wal_when_idle(db.clone()));
        Ok(db)
    }

    /// The size of the database file with `suffix` (`""`, `"-wal"`,
    /// `"-shm"`), 0 when there is none.
    fn file_bytes(&self, suffix: &str) -> u64 {
        let mut name = self.path.clone().into_os_string();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    }

    fn wal_bytes(&self) -> u64 {
        self.file_bytes("-wal")
    }

    /// Files made before incremental vacuum was the rule are converted
    /// once, by the one VACUUM that can change the mode. A VACUUM needs
    /// room for a copy of the file: on a disk too full for it the file is
    /// used as it is (deletes then only free pages for reuse), and the next
    /// start tries again.
    async fn ensure_incremental_vacuum(&self) -> Result<()> {
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&self.write)
            .await
            .map_err(db_error)?;
        if mode == 2 {
            return Ok(());
        }
        tracing::info!(file = %self.path.display(), "converting to incremental vacuum (once)");
        match sqlx::raw_sql("PRAGMA auto_vacuum = INCREMENTAL; VACUUM")
            .execute(&self.write)
            .await
        {
            Ok(_) => self.checkpoint().await,
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e,
                    "cannot convert to incremental vacuum now; deleted rows' space is reused, not returned");
                Ok(())
            }
        }
    }

    /// Gives the pages that deletes freed back to the file system while
    /// the file stays open (other processes' readers included): the free
    /// pages are cut off the end of the file, and the log that carried the
    /// change is checkpointed and truncated.
    pub(crate) async fn reclaim(&self) -> Result<()> {
        sqlx::query("PRAGMA incremental_vacuum")
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        self.checkpoint().await
    }

    /// Copies the log into the file and truncates it; a reader still on an
    /// older snapshot makes this a partial checkpoint, which the next
    /// `reclaim` (or SQLite's own checkpoints) finishes.
    async fn checkpoint(&self) -> Result<()> {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.write)
            .await
            .map_err(db_error)?;
        if busy != 0 {
            tracing::debug!(file = %self.path.display(), "checkpoint blocked by a reader");
        }
        Ok(())
    }

    /// Bytes the database takes on disk: the file, its log and its index.
    pub(crate) fn disk_bytes(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| self.file_bytes(suffix))
            .sum()
    }
}

/// How often an idle database's log is looked at.
const WAL_IDLE_CHECK: Duration = Duration::from_secs(5);

/// Once writes stop, the log is folded into the file and cut to nothing:
/// during ingestion it is reused at up to `WAL_SIZE_LIMIT`, but a server
/// that went quiet should not keep megabytes of log per store. A log that
/// did not change size between two looks counts as idle.
async fn truncate_wal_when_idle(db: Db) {
    let mut seen = 0;
    let mut tick = tokio::time::interval(WAL_IDLE_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if db.write.is_closed() {
            return;
        }
        let size = db.wal_bytes();
        if size > 0 && size == seen {
            if let Err(e) = db.checkpoint().await {
                tracing::debug!(error = %e, "idle checkpoint failed");
            }
            seen = db.wal_bytes();
        } else {
            seen = size;
        }
    }
}

/// Applies `migrations` (the one runner, [`crate::migrate`]) to `db`.
pub(crate) async fn migrate<S: AsRef<str>>(db: &Db, migrations: &[S]) -> Result<()> {
    crate::migrate::apply(&Pools::Sqlite(db.clone()), migrations).await
}
