//! Embedded backends on SQLite files (WAL mode) through sqlx: what
//! `faultline devserver` runs on. Each store has its own file so the queue's
//! frequent commits never wait on metadata writes.
//!
//! Every store has one writer connection (SQLite allows one writer; queuing
//! writers in-process avoids lock upgrade failures) and a small reader pool.

mod events;
mod queue;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use events::SqliteEventStore;
pub use queue::SqliteQueue;

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
}

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
            .connect_with(options.clone().pragma("cache_size", "-8000"))
            .await
            .map_err(db_error)?;
        let read = SqlitePoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true).pragma("cache_size", "-2000"))
            .await
            .map_err(db_error)?;
        Ok(Db { write, read })
    }
}

/// Applies `migrations` (the one runner, [`crate::migrate`]) to `db`.
pub(crate) async fn migrate<S: AsRef<str>>(db: &Db, migrations: &[S]) -> Result<()> {
    crate::migrate::apply(&Pools::Sqlite(db.clone()), migrations).await
}
