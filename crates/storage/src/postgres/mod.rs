//! Production backends on PostgreSQL: the metadata store, which is the one
//! SQL store ([`SqlMetaStore`]) over a PostgreSQL pool.

use crate::Result;
use crate::sql::SqlMetaStore;

/// Names the backend where the metadata store is opened on PostgreSQL.
pub struct PgMetaStore;

impl PgMetaStore {
    /// Connects to `url` (`postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<SqlMetaStore> {
        SqlMetaStore::open_postgres(url).await
    }
}
