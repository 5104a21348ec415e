//! One test suite for every event store (`EventStore` writes, `EventReader` reads): embedded SQLite, ClickHouse (a
//! real server; `FAULTLINE_TEST_CLICKHOUSE_URL`, which `cargo xtask test`
//! provides), and the gRPC client in front of a query-service adapter, as
//! web uses it in the production topology.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use faultline_protocol::{EventId, GroupId, ProcessedEvent, ProjectId};
use faultline_storage::{EventReader, EventRecord, EventStore, TagFilter, TagValueCount};
use serde_json::json;

/// Where a suite writes, where it reads, and what must live as long.
struct Stores {
    writer: Arc<dyn EventStore>,
    reader: Arc<dyn EventReader>,
    _guard: Box<dyn std::any::Any>,
}

async fn sqlite() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let store =
        faultline_storage_sql::sqlite::SqliteEventStore::open(&dir.path().join("events.sqlite"))
            .await
            .unwrap();
    let store: Arc<dyn EventStore> = Arc::new(store);
    Stores {
        writer: store.clone(),
        reader: store,
        _guard: Box::new(dir),
    }
}

async fn clickhouse_store() -> Arc<dyn EventStore> {
    let base = std::env::var("FAULTLINE_TEST_CLICKHOUSE_URL")
        .expect("FAULTLINE_TEST_CLICKHOUSE_URL is not set: run the tests with `cargo xtask test`");
    let url = format!("{base}/faultline_test_{}", EventId::new_random());
    let store = faultline_storage_clickhouse::ClickHouseEventStore::open(&url)
        .await
        .unwrap();
    assert_eq!(
        store.migrate().await.unwrap(),
        1,
        "a new database gets every migration"
    );
    assert_eq!(store.migrate().await.unwrap(), 0, "migrations apply once");
    Arc::new(store)
}

async fn clickhouse() -> Stores {
    let store = clickhouse_store().await;
    Stores {
        writer: store.clone(),
        reader: store,
        _guard: Box::new(()),
    }
}

/// Reads over gRPC from a query-service adapter in front of ClickHouse.
async fn grpc() -> Stores {
    let store = clickhouse_store().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(faultline_storage_grpc::server::service(store.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let client =
        faultline_storage_grpc::RemoteEventReader::connect(&format!("http://{addr}")).unwrap();
    Stores {
        writer: store,
        reader: Arc::new(client),
        _guard: Box::new(AbortOnDrop(server)),
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test] async fn $name() { super::$name(super::sqlite().await).await; })*
        }
        mod clickhouse_backend {
            $(#[tokio::test] #[ignore = "needs ClickHouse: run with cargo xtask test"] async fn $name() { super::$name(super::clickhouse().await).await; })*
        }
        mod grpc_backend {
            $(#[tokio::test] #[ignore = "needs ClickHouse: run with cargo xtask test"] async fn $name() { super::$name(super::grpc().await).await; })*
        }
    };
}

on_every_backend!(stores_reads_and_skips_duplicates, counts_tags_and_searches);

/// `clickhouse.url` carries the user and password percent-encoded, as URLs
/// must; the server gets them decoded.
#[tokio::test]
#[ignore = "needs ClickHouse: run with cargo xtask test"]
async fn clickhouse_takes_percent_encoded_credentials() {
    let base = std::env::var("FAULTLINE_TEST_CLICKHOUSE_URL")
        .expect("FAULTLINE_TEST_CLICKHOUSE_URL is not set: run the tests with `cargo xtask test`");
    let (scheme, host) = base.split_once("://").expect("a URL");
    let encoded = percent_encoding::utf8_percent_encode(
        faultline_testkit::CLICKHOUSE_TEST_PASSWORD,
        percent_encoding::NON_ALPHANUMERIC,
    );
    let database = format!("faultline_test_{}", EventId::new_random());
    let url = format!("{scheme}://faultline:{encoded}@{host}/{database}");
    let store = faultline_storage_clickhouse::ClickHouseEventStore::open(&url)
        .await
        .expect("the encoded password is accepted");
    store.migrate().await.unwrap();
    let wrong = format!("{scheme}://faultline:{encoded}x@{host}/{database}");
    assert!(
        faultline_storage_clickhouse::ClickHouseEventStore::open(&wrong)
            .await
            .is_err(),
        "a wrong password is refused"
    );
}

fn record(project: i64, group: i64, at: DateTime<Utc>, tags: &[(&str, &str)]) -> EventRecord {
    // Every real event carries `level` (a derived tag).
    let all_tags: Vec<_> = [("level", "error")].iter().chain(tags).collect();
    let event = json!({
        "project_id": project,
        "group_id": group,
        "title": format!("Error in group {group}"),
        "culprit": "app.main",
        "event": {
            "event_id": EventId::new_random().to_string(),
            "timestamp": at,
            "received": at,
            "level": "error",
            "platform": "python",
            "tags": all_tags,
        }
    });
    let event: ProcessedEvent = serde_json::from_value(event).unwrap();
    EventRecord::from_event(&event)
}

async fn stores_reads_and_skips_duplicates(stores: Stores) {
    let now = Utc::now();
    let a1 = record(1, 10, now - Duration::minutes(3), &[]);
    let a2 = record(1, 10, now - Duration::minutes(1), &[]);
    let a3 = record(1, 10, now - Duration::minutes(2), &[]);
    let b1 = record(2, 20, now, &[]);
    stores
        .writer
        .insert_events(&[a1.clone(), a2.clone(), b1.clone()])
        .await
        .unwrap();
    // A replayed batch (at-least-once delivery) stores nothing twice.
    stores
        .writer
        .insert_events(&[a1.clone(), a3.clone()])
        .await
        .unwrap();

    let got = stores
        .reader
        .event(ProjectId(1), a2.event_id)
        .await
        .unwrap();
    assert_eq!(got.unwrap().event.event_id, a2.event_id);
    assert!(
        stores
            .reader
            .event(ProjectId(2), a2.event_id)
            .await
            .unwrap()
            .is_none(),
        "an event is found only in its own project"
    );

    let ids = |events: Vec<ProcessedEvent>| -> Vec<EventId> {
        events.into_iter().map(|e| e.event.event_id).collect()
    };
    let all = stores
        .reader
        .group_events(GroupId(10), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(all),
        vec![a2.event_id, a3.event_id, a1.event_id],
        "newest first, once each"
    );
    let page = stores.reader.group_events(GroupId(10), 1, 1).await.unwrap();
    assert_eq!(ids(page), vec![a3.event_id]);

    let old = record(1, 10, now - Duration::days(10), &[]);
    stores
        .writer
        .insert_events(std::slice::from_ref(&old))
        .await
        .unwrap();
    let deleted = stores
        .writer
        .delete_before(now - Duration::days(5))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(
        stores
            .reader
            .event(ProjectId(1), old.event_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        stores
            .reader
            .group_events(GroupId(10), 0, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn counts_tags_and_searches(stores: Stores) {
    let hour = 3600;
    let base = DateTime::from_timestamp((Utc::now().timestamp() / hour - 2) * hour, 0).unwrap();
    let records = vec![
        record(
            1,
            10,
            base + Duration::minutes(5),
            &[("release", "1.0"), ("env", "prod")],
        ),
        record(
            1,
            10,
            base + Duration::minutes(65),
            &[("release", "1.1"), ("env", "prod")],
        ),
        record(
            1,
            10,
            base + Duration::minutes(70),
            &[("release", "1.1"), ("env", "prod")],
        ),
        record(
            1,
            11,
            base + Duration::minutes(10),
            &[("release", "1.0"), ("env", "staging")],
        ),
        record(2, 20, base + Duration::minutes(10), &[("release", "1.0")]),
    ];
    stores.writer.insert_events(&records).await.unwrap();
    stores.writer.insert_events(&records[..1]).await.unwrap();

    let mut stats = stores
        .reader
        .group_stats(&[GroupId(10), GroupId(11)], base, hour)
        .await
        .unwrap();
    stats.sort();
    let b = base.timestamp();
    assert_eq!(
        stats,
        vec![
            (GroupId(10), b, 1),
            (GroupId(10), b + hour, 2),
            (GroupId(11), b, 1)
        ]
    );
    let later = stores
        .reader
        .group_stats(&[GroupId(10)], base + Duration::minutes(66), hour)
        .await
        .unwrap();
    assert_eq!(later, vec![(GroupId(10), b + hour, 1)]);

    let values = stores.reader.tag_values(GroupId(10), 1).await.unwrap();
    let tv = |k: &str, v: &str, count| TagValueCount {
        key: k.into(),
        value: v.into(),
        count,
    };
    assert_eq!(
        values,
        vec![
            tv("env", "prod", 3),
            tv("level", "error", 3),
            tv("release", "1.1", 2)
        ]
    );

    let filter = |k: &str, v: &str, negated| TagFilter {
        key: k.into(),
        value: v.into(),
        negated,
    };
    let search = |projects: Vec<i64>, filters: Vec<TagFilter>| {
        let reader = stores.reader.clone();
        async move {
            let projects: Vec<ProjectId> = projects.into_iter().map(ProjectId).collect();
            let mut groups = reader
                .groups_matching_tags(&projects, &filters)
                .await
                .unwrap();
            groups.sort();
            groups
        }
    };
    assert_eq!(
        search(vec![1], vec![filter("release", "1.0", false)]).await,
        vec![GroupId(10), GroupId(11)]
    );
    assert_eq!(
        search(
            vec![1],
            vec![
                filter("release", "1.0", false),
                filter("env", "staging", true)
            ]
        )
        .await,
        vec![GroupId(10)]
    );
    assert_eq!(
        search(vec![1, 2], vec![filter("release", "1.1", true)]).await,
        vec![GroupId(11), GroupId(20)]
    );
    assert_eq!(
        search(vec![], vec![filter("release", "1.0", false)]).await,
        vec![]
    );
}

/// The embedded store trains a compression dictionary on its first events:
/// what was written before it, and with it, reads back, also after a
/// restart, and it takes less room than plain compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_reads_events_from_before_and_after_its_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let open = || faultline_storage_sql::sqlite::SqliteEventStore::open(&path);
    let now = Utc::now();
    let batch = |n: usize| -> Vec<EventRecord> {
        (0..n)
            .map(|i| {
                record(
                    1,
                    10,
                    now - Duration::seconds(i as i64),
                    &[("server", "web-1")],
                )
            })
            .collect()
    };
    let mut written = Vec::new();
    {
        let store = open().await.unwrap();
        for _ in 0..10 {
            let records = batch(100);
            store.insert_events(&records).await.unwrap();
            written.extend(records);
        }
        // Training runs beside the writes; give it time to land.
        let plain = store.disk_bytes().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let records = batch(1000);
        store.insert_events(&records).await.unwrap();
        written.extend(records);
        let grown = store.disk_bytes().await.unwrap() - plain;
        assert!(
            grown < plain * 3 / 4,
            "1000 events after the dictionary took {grown} bytes, the first 1000 {plain}"
        );
    }
    let store = open().await.unwrap();
    let events = store.group_events(GroupId(10), 0, 5000).await.unwrap();
    assert_eq!(events.len(), written.len());
    for record in written.iter().step_by(97) {
        let event = store
            .event(record.project_id, record.event_id)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(event.event.event_id, record.event_id);
    }
}
