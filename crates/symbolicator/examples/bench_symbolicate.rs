//! `cargo xtask bench symbolicate`: events per second through the
//! symbolicator for an event of 30 JavaScript frames against a bundle of
//! about 1 MB (a synthetic minified app and its source map, in a real
//! SQLite artifact index and blob directory), cold (each event on a new
//! symbolicator: the bundle opened and the map parsed) and warm (the map
//! cached), and the process's peak RSS.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use faultline_symbolicator::{Symbolicate, Symbolicator, SymbolicatorOptions};

/// Functions in the synthetic app: a bundle of about 1 MB.
const FUNCTIONS: usize = 9_000;
const FRAMES: usize = 30;
const COLD_RUNS: usize = 20;
const WARM_EVENTS: usize = 5_000;

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn per_second(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let app = support::app(FUNCTIONS);
    let world = support::world(&app.minified, &app.map).await;
    let step = FUNCTIONS / FRAMES;
    let frames: Vec<usize> = (0..FRAMES).map(|i| i * step).collect();
    let event = support::event(&app, &frames, "/srv/www/app.min.js", true);
    let options = SymbolicatorOptions::default();
    println!(
        "bundle {:.2} MB (minified {:.2} MB, map {:.2} MB), {FRAMES} frames per event",
        world.bundle_size as f64 / 1e6,
        app.minified.len() as f64 / 1e6,
        app.map.len() as f64 / 1e6
    );
    let rss_before = rss_kb("VmRSS:");

    // Cold: a new symbolicator (empty cache) per event.
    let mut cold = Vec::with_capacity(COLD_RUNS);
    for _ in 0..COLD_RUNS {
        let symbolicator = Symbolicator::new(world.store.clone(), world.blobs.clone(), options);
        let started = Instant::now();
        let out = symbolicator
            .symbolicate(world.project, event.clone())
            .await
            .expect("symbolicates");
        cold.push(started.elapsed());
        let top = out.exception[0]
            .stacktrace
            .as_ref()
            .unwrap()
            .frames
            .last()
            .unwrap();
        assert!(
            top.function
                .as_deref()
                .unwrap_or("")
                .starts_with("computeStep"),
            "the bench's frames are mapped: {top:?}"
        );
    }
    cold.sort();
    let median = cold[COLD_RUNS / 2];

    // Warm: one symbolicator, its map cached after the first event.
    let symbolicator = Symbolicator::new(world.store.clone(), world.blobs.clone(), options);
    symbolicator
        .symbolicate(world.project, event.clone())
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..WARM_EVENTS {
        symbolicator
            .symbolicate(world.project, event.clone())
            .await
            .unwrap();
    }
    let warm = started.elapsed();

    println!(
        "cold: {:.1} events/s (median {:.1} ms per event, first parse included; min {:.1} ms, max {:.1} ms, {COLD_RUNS} runs)",
        per_second(1, median),
        median.as_secs_f64() * 1e3,
        cold[0].as_secs_f64() * 1e3,
        cold[COLD_RUNS - 1].as_secs_f64() * 1e3,
    );
    println!(
        "warm: {:.0} events/s ({:.0} frames/s; {:.3} ms per event over {WARM_EVENTS} events)",
        per_second(WARM_EVENTS, warm),
        per_second(WARM_EVENTS * FRAMES, warm),
        warm.as_secs_f64() * 1e3 / WARM_EVENTS as f64,
    );
    println!(
        "rss: {} kB before, {} kB now, peak {} kB; cache {:.2} MB",
        rss_before,
        rss_kb("VmRSS:"),
        rss_kb("VmHWM:"),
        symbolicator.cached_bytes() as f64 / 1e6
    );
}
