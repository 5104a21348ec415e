//! relay as the runner starts it alone (`faultline run relay`), on embedded
//! stores: accepted items land on their topics, and `/health` and
//! `/metrics` answer.

use std::time::Duration;

use std::sync::Arc;

use faultline_config::Limits;
use faultline_storage::{EventQueue, MemoryCache, MetaStore, Topic};
use faultline_storage_sql::SqlMetaStore;
use faultline_storage_sql::sqlite::{META_FILE, QUEUE_FILE, SqliteQueue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_ingestion_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> = Arc::new(
        SqlMetaStore::open_sqlite(&dir.path().join(META_FILE))
            .await
            .unwrap(),
    );
    let queue: Arc<dyn EventQueue> = Arc::new(
        SqliteQueue::open(&dir.path().join(QUEUE_FILE))
            .await
            .unwrap(),
    );
    let org = meta.create_organization("acme", "Acme").await.unwrap();
    let project = meta
        .create_project(org.id, "web", "Web", None)
        .await
        .unwrap();
    let key = meta.create_key(project.id, "Default").await.unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stores = faultline_relay::Stores {
        meta,
        queue: queue.clone(),
        cache: Arc::new(MemoryCache::new()),
        disk: None,
    };
    let service = faultline_relay::service(stores, Limits::default());
    let running = faultline_service::Runner::new()
        .start(listener, vec![service])
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(running.until(async {
        let _ = stopped.await;
    }));

    let url = format!(
        "{base}/api/{}/envelope/?sentry_key={}",
        project.id, key.public_key
    );
    let health = format!("{base}/health");
    let metrics = format!("{base}/metrics");
    let (status, health, metrics) = tokio::task::spawn_blocking(move || {
        let body = "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n\
                    {\"type\":\"session\"}\n{\"sid\":\"x\",\"status\":\"ok\"}\n";
        let status = ureq::post(&url).send(body).unwrap().status().as_u16();
        let health = ureq::get(&health).call().unwrap().status().as_u16();
        let metrics = ureq::get(&metrics).call().unwrap().into_body().read_to_string().unwrap();
        (status, health, metrics)
    })
    .await
    .unwrap();
    assert_eq!((status, health), (200, 200));
    assert!(
        metrics.contains("faultline_relay_accepted_items_total{item_type=\"event\"} 1"),
        "{metrics}"
    );

    for topic in [Topic::IngestEvents, Topic::IngestSessions] {
        let mut consumer = queue.subscribe(topic, "test").await.unwrap();
        let got = consumer.poll(10, Duration::from_secs(1)).await.unwrap();
        assert_eq!(got.len(), 1, "{topic:?}");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
