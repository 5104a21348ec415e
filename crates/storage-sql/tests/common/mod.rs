//! What the SQL store suites share: a fresh store on each database.

use std::sync::Arc;

use faultline_protocol::EventId;
use faultline_storage_sql::SqlMetaStore;

pub async fn sqlite() -> (Option<tempfile::TempDir>, Arc<SqlMetaStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlMetaStore::open_sqlite(&dir.path().join("meta.sqlite"))
        .await
        .unwrap();
    (Some(dir), Arc::new(store))
}

pub async fn postgres() -> (Option<tempfile::TempDir>, Arc<SqlMetaStore>) {
    let url = new_postgres_database().await;
    let store = SqlMetaStore::open_postgres(&url).await.unwrap();
    (None, Arc::new(store))
}

/// The URL of a new, empty database on the test server.
pub async fn new_postgres_database() -> String {
    let admin_url = std::env::var("FAULTLINE_TEST_POSTGRES_URL")
        .expect("FAULTLINE_TEST_POSTGRES_URL is not set: run the tests with `cargo xtask test`");
    let name = format!("faultline_test_{}", EventId::new_random());
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("URL with a database name");
    format!("{base}/{name}")
}

/// Runs each named suite function on both databases (PostgreSQL's ignored
/// unless `cargo xtask test` runs them).
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test] async fn $name() { let (_dir, store) = $crate::common::sqlite().await; super::$name(store).await; })*
        }
        mod postgres_backend {
            $(#[tokio::test] #[ignore = "needs PostgreSQL: run with cargo xtask test"] async fn $name() { let (_dir, store) = $crate::common::postgres().await; super::$name(store).await; })*
        }
    };
}
