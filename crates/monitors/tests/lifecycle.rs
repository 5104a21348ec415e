//! A monitor's life on a real (embedded) metadata store and queue: made by
//! a check-in, missed and timed out by the sweep, failing into an issue's
//! events and recovering.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use faultline_monitors::{MonitorStores, Processed, Swept, checkin, process_checkin, sweep};
use faultline_protocol::{IngestMessage, ProjectId};
use faultline_storage::{
    CheckInStatus, EnvironmentStatus, EventQueue, MetaStore, QueueConsumer, Topic,
};
use faultline_storage_sql::SqlMetaStore;
use faultline_storage_sql::sqlite::SqliteQueue;
use serde_json::{Value, json};

struct World {
    _dir: tempfile::TempDir,
    stores: MonitorStores,
    project: ProjectId,
    events: Box<dyn QueueConsumer>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> = Arc::new(
        SqlMetaStore::open_sqlite(&dir.path().join("meta.sqlite"))
            .await
            .unwrap(),
    );
    let queue: Arc<dyn EventQueue> = Arc::new(
        SqliteQueue::open(&dir.path().join("queue.sqlite"))
            .await
            .unwrap(),
    );
    let org = meta.create_organization("acme", "Acme").await.unwrap();
    let project = meta
        .create_project(org.id, "jobs", "Jobs", None)
        .await
        .unwrap();
    let events = queue.subscribe(Topic::IngestEvents, "test").await.unwrap();
    World {
        _dir: dir,
        stores: MonitorStores { meta, queue },
        project: project.id,
        events,
    }
}

impl World {
    async fn check_in(&self, body: Value, at: DateTime<Utc>) -> Processed {
        let payload = checkin::parse(body.to_string().as_bytes()).unwrap();
        process_checkin(&self.stores, self.project, &payload, at)
            .await
            .unwrap()
    }

    async fn environment(&self, slug: &str) -> faultline_storage::MonitorEnvironment {
        let monitor = self
            .stores
            .meta
            .monitor(self.project, slug)
            .await
            .unwrap()
            .unwrap();
        self.stores
            .meta
            .monitor_environment(monitor.id, "production")
            .await
            .unwrap()
    }

    /// The failure events queued since the last call.
    async fn failures(&mut self) -> Vec<Value> {
        let deliveries = self
            .events
            .poll(100, StdDuration::from_millis(200))
            .await
            .unwrap();
        self.events.commit(&deliveries).await.unwrap();
        deliveries
            .iter()
            .map(|d| {
                let message = IngestMessage::decode(d.payload.clone()).unwrap();
                serde_json::from_slice(&message.payload).unwrap()
            })
            .collect()
    }
}

fn every_five_minutes() -> Value {
    json!({"schedule": {"type": "interval", "value": 5, "unit": "minute"},
           "checkin_margin": 2, "max_runtime": 10})
}

#[tokio::test]
async fn a_monitor_that_stops_checking_in_is_missed_once_and_recovers() {
    let mut w = world().await;
    let t0 = Utc::now();
    // Without a configuration an unknown monitor is not made up.
    assert!(matches!(
        w.check_in(json!({"monitor_slug": "backup", "status": "ok"}), t0)
            .await,
        Processed::Dropped(_)
    ));
    let first = json!({"monitor_slug": "backup", "status": "ok", "duration": 3.5,
                       "monitor_config": every_five_minutes()});
    assert_eq!(w.check_in(first, t0).await, Processed::Recorded);
    let env = w.environment("backup").await;
    assert_eq!(env.status, EnvironmentStatus::Ok);
    let next = env.next_checkin.unwrap();
    assert_eq!(env.next_checkin_latest, Some(next + Duration::minutes(2)));

    // Nothing is due before the deadline.
    assert_eq!(
        sweep(&w.stores, t0 + Duration::minutes(6)).await.unwrap(),
        Swept::default()
    );
    // Past it: one missed check-in, an event of the monitor's issue.
    let late = t0 + Duration::minutes(8);
    assert_eq!(sweep(&w.stores, late).await.unwrap().missed, 1);
    let env = w.environment("backup").await;
    assert_eq!(env.status, EnvironmentStatus::MissedCheckin);
    assert!(env.incident_open);
    assert!(
        env.next_checkin_latest.unwrap() > late,
        "the deadline moved on"
    );
    let events = w.failures().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let message = events[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Cron failure: backup\nA missed check-in was detected"),
        "{message}"
    );
    assert_eq!(events[0]["tags"]["monitor.slug"], "backup");
    // The same sweep again finds nothing new.
    assert_eq!(sweep(&w.stores, late).await.unwrap().missed, 0);
    // A cron that was away for a day records one miss, not hundreds.
    assert_eq!(
        sweep(&w.stores, late + Duration::days(1))
            .await
            .unwrap()
            .missed,
        1
    );
    assert_eq!(w.failures().await.len(), 1);

    let monitor = w
        .stores
        .meta
        .monitor(w.project, "backup")
        .await
        .unwrap()
        .unwrap();
    let runs = w
        .stores
        .meta
        .checkins(monitor.id, None, 10, 0)
        .await
        .unwrap();
    let statuses: Vec<_> = runs.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            CheckInStatus::Missed,
            CheckInStatus::Missed,
            CheckInStatus::Ok
        ]
    );
    assert_eq!(runs[2].duration_ms, Some(3500));
    assert_eq!(runs[1].expected_time, Some(next));

    // It checks in again: the issue closes, the monitor is ok.
    let back = late + Duration::days(1) + Duration::minutes(1);
    w.check_in(json!({"monitor_slug": "backup", "status": "ok"}), back)
        .await;
    let env = w.environment("backup").await;
    assert_eq!(env.status, EnvironmentStatus::Ok);
    assert!(!env.incident_open);
    assert!(w.failures().await.is_empty());
}

#[tokio::test]
async fn runs_in_progress_time_out_and_finish_by_id_or_as_the_latest() {
    let mut w = world().await;
    let t0 = Utc::now();
    let id = "83a7c03ed0a04e1b97e2e3b18d38f244";
    let start = json!({"check_in_id": id, "monitor_slug": "etl", "status": "in_progress",
                       "monitor_config": every_five_minutes()});
    assert_eq!(w.check_in(start, t0).await, Processed::Recorded);
    // It finishes by its id, its duration counted from its start.
    let done = json!({"check_in_id": id, "monitor_slug": "etl", "status": "ok"});
    assert_eq!(
        w.check_in(done.clone(), t0 + Duration::seconds(90)).await,
        Processed::Updated
    );
    let monitor = w
        .stores
        .meta
        .monitor(w.project, "etl")
        .await
        .unwrap()
        .unwrap();
    let run = w
        .stores
        .meta
        .checkin(monitor.id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.status, run.duration_ms),
        (CheckInStatus::Ok, Some(90_000))
    );
    // A finished run does not change again.
    assert!(matches!(
        w.check_in(done, t0 + Duration::minutes(3)).await,
        Processed::Dropped(_)
    ));

    // A run without an id is closed by a finishing check-in without one.
    let t1 = t0 + Duration::minutes(5);
    w.check_in(json!({"monitor_slug": "etl", "status": "in_progress"}), t1)
        .await;
    w.check_in(
        json!({"monitor_slug": "etl", "status": "error"}),
        t1 + Duration::minutes(1),
    )
    .await;
    let env = w.environment("etl").await;
    assert_eq!(env.status, EnvironmentStatus::Error);
    let events = w.failures().await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .contains("An error check-in")
    );

    // One that never finishes times out after max_runtime (10 minutes).
    let t2 = t1 + Duration::minutes(5);
    w.check_in(json!({"monitor_slug": "etl", "status": "in_progress"}), t2)
        .await;
    let timed = sweep(&w.stores, t2 + Duration::minutes(6)).await.unwrap();
    assert_eq!(timed.timed_out, 0);
    let timed = sweep(&w.stores, t2 + Duration::minutes(11)).await.unwrap();
    assert_eq!(timed.timed_out, 1);
    assert_eq!(
        w.environment("etl").await.status,
        EnvironmentStatus::Timeout
    );
    let events = w.failures().await;
    assert!(
        events
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("timed out")),
        "{events:?}"
    );
    // The run that timed out is kept so (beside the next run it held up,
    // missed at its expected time).
    let runs = w
        .stores
        .meta
        .checkins(monitor.id, None, 2, 0)
        .await
        .unwrap();
    let statuses: Vec<_> = runs.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [CheckInStatus::Missed, CheckInStatus::Timeout]);
}

#[tokio::test]
async fn thresholds_hold_the_issue_back_and_muted_monitors_stay_quiet() {
    let mut w = world().await;
    let t0 = Utc::now();
    let config = json!({"schedule": "0 * * * *", "schedule_type": "crontab",
                        "failure_issue_threshold": 2, "recovery_threshold": 2});
    let error = |config: &Value| json!({"monitor_slug": "hourly", "status": "error", "monitor_config": config});
    w.check_in(error(&config), t0).await;
    assert!(
        !w.environment("hourly").await.incident_open,
        "one failure is under the threshold"
    );
    assert!(w.failures().await.is_empty());
    w.check_in(error(&config), t0 + Duration::minutes(1)).await;
    assert!(w.environment("hourly").await.incident_open);
    assert_eq!(w.failures().await.len(), 1);
    // One success is not recovery yet.
    let ok = json!({"monitor_slug": "hourly", "status": "ok"});
    w.check_in(ok.clone(), t0 + Duration::minutes(2)).await;
    let env = w.environment("hourly").await;
    assert!(env.incident_open && env.status == EnvironmentStatus::Error);
    w.check_in(ok, t0 + Duration::minutes(3)).await;
    assert!(!w.environment("hourly").await.incident_open);

    let mut monitor = w
        .stores
        .meta
        .monitor(w.project, "hourly")
        .await
        .unwrap()
        .unwrap();
    monitor.is_muted = true;
    w.stores.meta.update_monitor(&monitor).await.unwrap();
    for minute in 4..8 {
        w.check_in(
            json!({"monitor_slug": "hourly", "status": "error"}),
            t0 + Duration::minutes(minute),
        )
        .await;
    }
    assert_eq!(
        w.environment("hourly").await.status,
        EnvironmentStatus::Error
    );
    assert!(
        w.failures().await.is_empty(),
        "a muted monitor opens no issue"
    );
}
