//! relay as its own service (`run`), on embedded backends: accepted items
//! land on their topics, and `/health` and `/metrics` answer.

use std::time::Duration;

use faultline_config::Limits;
use faultline_storage::Topic;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_ingestion_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let backends = faultline_storage::sqlite::open_embedded(dir.path())
        .await
        .unwrap();
    let org = backends
        .meta
        .create_organization("acme", "Acme")
        .await
        .unwrap();
    let project = backends
        .meta
        .create_project(org.id, "web", "Web", None)
        .await
        .unwrap();
    let key = backends
        .meta
        .create_key(project.id, "Default")
        .await
        .unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(faultline_relay::run(
        Limits::default(),
        backends.clone(),
        listener,
        shutdown,
    ));

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
        metrics.contains("faultline_relay_requests_total{outcome=\"accepted\"} 1"),
        "{metrics}"
    );

    for topic in [Topic::IngestEvents, Topic::IngestSessions] {
        let mut consumer = backends.queue.subscribe(topic, "test").await.unwrap();
        let got = consumer.poll(10, Duration::from_secs(1)).await.unwrap();
        assert_eq!(got.len(), 1, "{topic:?}");
    }
    stop.send(true).unwrap();
    server.await.unwrap().unwrap();
}
