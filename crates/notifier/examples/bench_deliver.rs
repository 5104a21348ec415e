//! `cargo xtask bench notify` runs this after `bench_evaluate` (release
//! build): delivery throughput from the outbox to a webhook receiver on
//! 127.0.0.1. A burst of firings fills a SQLite outbox with one WebHooks
//! delivery each (Sentry's legacy payload with the captured Python SDK
//! event), then the notifier's delivery loop claims, posts and records
//! them. The receiver is a minimal keep-alive HTTP/1.1 responder in the
//! same process, so the CPU figure counts both sides.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use faultline_notifier::deliver::{self, Channels};
use faultline_notifier::message::Notification;
use faultline_notifier::{HttpClient, Mailer};
use faultline_protocol::{EventId, GroupId, NormalizeOptions, normalize::normalize_event};
use faultline_storage::{AlertStore, MetaStore, NewDelivery, NewFire, RuleRecord, RuleStatus};
use faultline_storage_sql::SqlMetaStore;
use faultline_testkit::envelope::OneEvent;
use faultline_testkit::fixtures;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

const DELIVERIES: u64 = 5_000;

/// Answers every request on every connection with `200 ok`, counting them.
async fn receiver(listener: TcpListener, received: Arc<AtomicU64>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let received = received.clone();
        tokio::spawn(async move {
            let mut buffer: Vec<u8> = Vec::with_capacity(32 * 1024);
            let mut chunk = vec![0u8; 32 * 1024];
            loop {
                let n = match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buffer.extend_from_slice(&chunk[..n]);
                while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buffer.len() < end + 4 + length {
                        break;
                    }
                    buffer.drain(..end + 4 + length);
                    received.fetch_add(1, Ordering::Relaxed);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// This process's CPU time so far (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are
    // the 14th and 15th fields, in clock ticks (100 a second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlMetaStore::open_sqlite(&dir.path().join("meta.sqlite"))
            .await
            .unwrap(),
    );
    let org = store.create_organization("bench", "Bench").await.unwrap();
    let project = store
        .create_project(org.id, "web", "Web", None)
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(AtomicU64::new(0));
    tokio::spawn(receiver(listener, received.clone()));
    store
        .save_plugin_config(project.id, "webhooks", &json!({ "urls": url }))
        .await
        .unwrap();
    store
        .set_plugin_enabled(project.id, "webhooks", true)
        .await
        .unwrap();
    let rule = store
        .create_rule(
            project.id,
            &RuleRecord {
                name: "bench",
                status: RuleStatus::Active,
                data: &json!({}),
            },
            None,
        )
        .await
        .unwrap();

    let fixture = fixtures::path(fixtures::PYTHON_SDK, "exception");
    let captured = OneEvent::load(&fixture).expect("the captured event");
    let raw = serde_json::to_vec(&captured.event).unwrap();
    let event = normalize_event(&raw, &NormalizeOptions::new(Utc::now())).expect("it normalises");
    let notification = Notification {
        rules: vec!["bench".into()],
        group_id: 1,
        short_id: "WEB-1".into(),
        event_id: event.event_id.to_string(),
        title: "ZeroDivisionError: division by zero".into(),
        culprit: "compute_ratio".into(),
        level: "error".into(),
        project_slug: "web".into(),
        project_name: "Web".into(),
        organization_slug: "bench".into(),
        environment: Some("production".into()),
        release: Some("shop@1.0".into()),
        frames: vec!["compute_ratio (send.py:10)".into()],
        count: 1,
        user_count: 1,
        link: "http://127.0.0.1:9000/organizations/bench/issues/1/?referrer=alert".into(),
        event: Some(serde_json::to_value(&event).unwrap()),
    };
    let payload = serde_json::to_value(&notification).unwrap();
    let filled = Instant::now();
    for i in 0..DELIVERIES {
        let fire = NewFire {
            rule_id: rule.id,
            project_id: project.id,
            group_id: GroupId(i as i64 + 1),
            event_id: EventId::new_random(),
            now: Utc::now(),
            interval_minutes: 0,
            deliveries: vec![NewDelivery {
                channel: "webhooks".into(),
                target: url.clone(),
                payload: payload.clone(),
            }],
            traceparent: None,
        };
        store.record_fire(&fire).await.unwrap();
    }
    println!(
        "outbox: {DELIVERIES} firings with a webhook delivery each recorded in {:.2} s ({} bytes of payload each)",
        filled.elapsed().as_secs_f64(),
        payload.to_string().len()
    );

    let alerts: Arc<dyn AlertStore> = store.clone();
    let mail = faultline_config::Config::from_raw(&faultline_config::RawConfig::default())
        .unwrap()
        .mail;
    let channels = Channels {
        mailer: Mailer::from_config(&mail).unwrap(),
        http: HttpClient::new(true).unwrap(),
    };
    let (stop, shutdown) = watch::channel(false);
    let cpu = cpu_time();
    let started = Instant::now();
    let run = tokio::spawn(deliver::run(
        alerts,
        channels,
        Arc::new(Notify::new()),
        shutdown,
    ));
    while received.load(Ordering::Relaxed) < DELIVERIES {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    run.await.unwrap().unwrap();
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu);
    println!(
        "delivered to a local webhook: {DELIVERIES} in {:.2} s = {:.0} deliveries/s; CPU {:.0} µs per delivery (notifier and receiver)",
        elapsed.as_secs_f64(),
        DELIVERIES as f64 / elapsed.as_secs_f64(),
        cpu.as_micros() as f64 / DELIVERIES as f64
    );
    // What frequency conditions add to a batch: its counts written, then
    // read back once per issue (100 messages over 10 issues a batch).
    let (batches, per_batch, issues) = (500u32, 100u64, 10i64);
    let started = Instant::now();
    for _ in 0..batches {
        let counts: Vec<(GroupId, u64)> = (1..=issues)
            .map(|g| (GroupId(g), per_batch / issues as u64))
            .collect();
        store.add_event_counts(&counts, Utc::now()).await.unwrap();
        for g in 1..=issues {
            store
                .events_within(GroupId(g), &[5, 60], Utc::now())
                .await
                .unwrap();
        }
    }
    println!(
        "frequency counts (SQLite): {:.1} µs per message (batches of {per_batch} messages over {issues} issues, two windows)",
        started.elapsed().as_micros() as f64 / f64::from(batches) / per_batch as f64
    );

    let unsent = store
        .claim_deliveries(Utc::now(), Utc::now(), 1)
        .await
        .unwrap();
    assert!(unsent.is_empty(), "every delivery was recorded as sent");
}
