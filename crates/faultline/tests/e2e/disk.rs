//! The disk floor on the devserver: retention gives the space back while
//! the server runs, the embedded queue stays small under load, and a full
//! disk is a 503 that names the cause, not corruption.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faultline_testkit::envelope::OneEvent;
use faultline_testkit::fixtures;
use faultline_testkit::http::Conn;
use serde_json::{Value, json};

use crate::harness::{Devserver, PYTHON_SDK, envelope, faultline_cli, new_event_id};

/// The Python SDK's captured exception event (about 4 KB of JSON, with
/// its modules, contexts and breadcrumbs), as a template.
fn sdk_event() -> Value {
    OneEvent::load(&fixtures::path(PYTHON_SDK, "exception"))
        .expect("the captured exception event")
        .event
}

/// Bytes of every file under `dir` but the harness's log.
fn data_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "devserver.log")
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => data_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn queue_bytes(dir: &Path) -> u64 {
    ["queue.sqlite", "queue.sqlite-wal", "queue.sqlite-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Sends `count` variants of the SDK event from `threads` connections,
/// each with `make(i, event)` applied; returns the ids sent.
pub(crate) fn send_many(
    server: &Devserver,
    count: usize,
    threads: usize,
    make: impl Fn(usize, &mut Value) + Sync,
) -> Vec<String> {
    let template = sdk_event();
    let addr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let (path, auth) = (server.envelope_path(), server.auth_header());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (template, make, path, auth) = (&template, &make, &path, &auth);
                scope.spawn(move || {
                    let mut conn = Conn::new(addr);
                    let mut ids = Vec::new();
                    for i in (t..count).step_by(threads) {
                        let id = new_event_id();
                        let mut event = template.clone();
                        event["event_id"] = json!(id);
                        make(i, &mut event);
                        let response = conn
                            .send(
                                "POST",
                                path,
                                &[("X-Sentry-Auth", auth)],
                                &envelope(&id, &event),
                            )
                            .unwrap();
                        assert_eq!(response.status, 200, "{}", response.text());
                        ids.push(id);
                    }
                    ids
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

/// Events of one of 20 issues, each exception message its own.
pub(crate) fn vary(i: usize, event: &mut Value) {
    event["exception"]["values"][0]["type"] = json!(format!("Error{}", i % 20));
    event["exception"]["values"][0]["value"] = json!(format!("request {i} failed"));
}

#[test]
fn cleanup_beside_a_running_devserver_gives_the_disk_back() {
    // A small replay window, so that what the queue keeps for replays does
    // not hide what retention frees.
    let server = Devserver::start_with_env(&[("FAULTLINE_STORAGE_QUEUE_REPLAY_MESSAGES", "50")]);
    let count = 4000;
    let old = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    let ids = send_many(&server, count, 4, |i, event| {
        vary(i, event);
        event["timestamp"] = json!(old);
    });
    server.wait_for_total_within(count as u64, Duration::from_secs(180));
    for id in ids.iter().rev().take(4) {
        server.wait_for("the last events stored", |s| s.event(id).map(|_| ()));
    }
    // The queue deletes what every consumer has, a second later.
    let dir = server.dir.path();
    server.wait_for("the queue pruned", |_| {
        (queue_bytes(dir) < 4 << 20).then_some(())
    });
    // Once ingestion has settled, each store folds its log into its file.
    server.wait_for("the logs folded in", |_| {
        let logs: u64 = ["events", "meta", "queue"]
            .iter()
            .filter_map(|db| std::fs::metadata(dir.join(format!("{db}.sqlite-wal"))).ok())
            .map(|m| m.len())
            .sum();
        (logs == 0).then_some(())
    });
    let before = data_bytes(dir);
    let per_event = before / count as u64;
    eprintln!("{count} events: {before} bytes in the data directory, {per_event} per event");
    assert!(
        per_event <= 3000,
        "{per_event} bytes on disk per event of {} bytes",
        sdk_event().to_string().len()
    );

    let (ok, out, err) = faultline_cli(&["cleanup", "--days", "2"], dir);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "Deleted {count} events and 20 issues older than 2 days"
        )),
        "{out}"
    );
    let after = data_bytes(dir);
    eprintln!("after cleanup: {after} bytes; {out}");
    assert!(
        after * 3 <= before,
        "the data directory went from {before} to {after} bytes, not down by two thirds; {out}"
    );
    // What cleanup reports it freed is what the files lost (within what
    // the running server wrote meanwhile).
    let freed_mb: f64 = out
        .split("; ")
        .nth(1)
        .and_then(|s| s.split(" MB freed").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no freed MB in {out}"));
    let lost_mb = (before - after) as f64 / 1e6;
    assert!(
        (freed_mb - lost_mb).abs() <= lost_mb * 0.25 + 0.5,
        "cleanup says {freed_mb} MB freed; the files lost {lost_mb} MB"
    );
    // The devserver never stopped, and goes on.
    let id = server.send_event(&json!({"message": "after cleanup"}));
    server.wait_for("the next event", |s| s.event(&id).map(|_| ()));
}

#[test]
fn sustained_load_keeps_the_queue_file_bounded() {
    let server = Devserver::start();
    let dir = server.dir.path().to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(queue_bytes(&dir), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    // A minute at a rate the consumers keep up with: pruning never deletes
    // what a consumer has not committed, so only a backlog could grow it.
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(60) {
        let second = Instant::now();
        sent += send_many(&server, 150, 3, vary).len();
        if let Some(rest) = Duration::from_secs(1).checked_sub(second.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    server.wait_for_total_within(sent as u64, Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::Relaxed);
    let settled = queue_bytes(server.dir.path());
    eprintln!(
        "{sent} events in a minute: queue.sqlite peaked at {peak} bytes, settled at {settled}"
    );
    // Each topic keeps 1000 messages (4 MiB at most) for replays; three
    // topics carry events.
    assert!(
        peak < 40 << 20,
        "queue.sqlite reached {peak} bytes under a sustained load of {sent} events"
    );
    assert!(
        settled < 32 << 20,
        "queue.sqlite settled at {settled} bytes"
    );
}

/// A tmpfs of `mb` megabytes, unmounted when dropped.
struct SmallDisk {
    path: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mb: u64) -> SmallDisk {
        let path = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(path.path())
            .status()
            .expect("mount (the test needs root to mount a small tmpfs)");
        assert!(
            status.success(),
            "mount -t tmpfs failed: the test needs root"
        );
        SmallDisk { path }
    }

    fn free(&self) -> u64 {
        let stat = rustix::fs::statvfs(self.path.path()).unwrap();
        stat.f_bavail * stat.f_frsize
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l"])
            .arg(self.path.path())
            .status();
    }
}

#[test]
#[ignore = "mounts a tmpfs (needs root): run with cargo xtask test"]
fn a_full_disk_is_a_503_that_names_the_cause_and_ingestion_resumes() {
    let disk = SmallDisk::mount(128);
    let min_free = 48u64 << 20;
    let dir = tempfile::tempdir_in(disk.path.path()).unwrap();
    let server = Devserver::start_in(
        dir,
        &[("FAULTLINE_STORAGE_MIN_FREE", &min_free.to_string())],
    );
    let cookie = crate::dashboard::sign_in(&server, &server.url);
    let issues_page = "/organizations/faultline/issues/";
    let accepted_before = send_many(&server, 20, 2, vary);
    assert!(!crate::dashboard::page(&server, &cookie, issues_page).contains("disk-warning"));

    // Fill the disk to below the floor.
    let ballast = server.dir.path().join("ballast");
    let fill = disk.free() - min_free + (8 << 20);
    std::fs::write(&ballast, vec![0u8; fill as usize]).unwrap();
    let auth = server.auth_header();
    let refused = server.wait_for("relay to refuse events", |s| {
        let id = new_event_id();
        let (status, body) = s.ingest(
            &s.envelope_path(),
            &[("X-Sentry-Auth", &auth)],
            &envelope(&id, &json!({"message": "refused"})),
        );
        (status == 503).then_some(body)
    });
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("disk is nearly full") && detail.contains("storage.min-free"),
        "{detail}"
    );
    let (status, health) = server.get_unauthenticated("/health");
    assert_eq!(status, 503, "{health}");
    assert!(health.to_string().contains("disk"), "{health}");
    let page = crate::dashboard::page(&server, &cookie, issues_page);
    assert!(
        page.contains("id=\"disk-warning\"") && page.contains("storage.min-free"),
        "no banner for the admin"
    );

    // Space returns: ingestion resumes by itself.
    std::fs::remove_file(&ballast).unwrap();
    let id = new_event_id();
    server.wait_for("relay to accept events again", |s| {
        let (status, _) = s.ingest(
            &s.envelope_path(),
            &[("X-Sentry-Auth", &auth)],
            &envelope(&id, &json!({"message": "after the disk was freed"})),
        );
        (status == 200).then_some(())
    });
    let (status, _) = server.get_unauthenticated("/health");
    assert_eq!(status, 200);
    // Every event relay accepted is kept.
    for id in accepted_before.iter().chain([&id]) {
        server.wait_for("an accepted event", |s| s.event(id).map(|_| ()));
    }
    assert!(!crate::dashboard::page(&server, &cookie, issues_page).contains("disk-warning"));
}
