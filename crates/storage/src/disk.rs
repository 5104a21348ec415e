//! The free-space floor of the data directory (`storage.min-free`): below
//! it relay refuses events with a 503 that names the cause, `/health` says
//! why and the dashboard warns admins, instead of SQLite failing writes
//! halfway on a full disk. Ingestion resumes by itself when space returns.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// Free space is read again at most this often: a `statvfs` per request
/// would be cheap, but a burst of thousands needs one.
const REFRESH: Duration = Duration::from_millis(500);

/// Watches the free space of the file system that holds a directory.
#[derive(Clone)]
pub struct DiskGuard {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    min_free: u64,
    started: Instant,
    /// Free bytes at the last reading, and when that was (ms since start,
    /// plus one so that 0 means never).
    free: AtomicU64,
    read_at: AtomicU64,
}

/// Free space fell below the floor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the disk is nearly full: {} MB free in the data directory, below storage.min-free ({} MB)",
    .free / 1_000_000,
    .min_free / 1_000_000
)]
pub struct DiskLow {
    pub free: u64,
    pub min_free: u64,
}

impl DiskGuard {
    /// A guard on `dir`'s file system; a `min_free` of 0 never refuses.
    pub fn new(dir: &Path, min_free: u64) -> Self {
        DiskGuard {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                min_free,
                started: Instant::now(),
                free: AtomicU64::new(u64::MAX),
                read_at: AtomicU64::new(0),
            }),
        }
    }

    /// `Err` while the free space is below the floor. A file system that
    /// cannot be read counts as having room: the stores' own errors say
    /// more than a guess would.
    pub fn check(&self) -> Result<(), DiskLow> {
        let inner = &self.inner;
        if inner.min_free == 0 {
            return Ok(());
        }
        let now = inner.started.elapsed().as_millis() as u64 + 1;
        let read_at = inner.read_at.load(Ordering::Relaxed);
        let free = if read_at == 0 || now.saturating_sub(read_at) >= REFRESH.as_millis() as u64 {
            let free = free_bytes(&inner.dir).unwrap_or(u64::MAX);
            let was = inner.free.swap(free, Ordering::Relaxed);
            inner.read_at.store(now, Ordering::Relaxed);
            let (low, was_low) = (free < inner.min_free, was < inner.min_free);
            if low && !was_low {
                tracing::error!(
                    free,
                    min_free = inner.min_free,
                    "disk nearly full: refusing events"
                );
            } else if was_low && !low {
                tracing::warn!(free, "disk space is back: accepting events again");
            }
            free
        } else {
            inner.free.load(Ordering::Relaxed)
        };
        if free < inner.min_free {
            Err(DiskLow {
                free,
                min_free: inner.min_free,
            })
        } else {
            Ok(())
        }
    }
}

/// Reports the free and total space of `dir`'s file system, and the
/// floor, on every scrape (`faultline_disk_*_bytes`): the "disk nearly
/// full" alert reads them. Nothing is reported while `dir` cannot be read.
pub fn report_disk_space(dir: &Path, min_free: u64) {
    use faultline_telemetry::prometheus_client::metrics::gauge::Gauge;
    static GAUGES: LazyLock<[Gauge; 3]> = LazyLock::new(|| {
        let gauges: [Gauge; 3] = Default::default();
        faultline_telemetry::register(|r| {
            r.register(
                "disk_free_bytes",
                "Space left to Faultline on the file system of its data directory",
                gauges[0].clone(),
            );
            r.register(
                "disk_total_bytes",
                "Size of the file system of the data directory",
                gauges[1].clone(),
            );
            r.register(
                "disk_min_free_bytes",
                "storage.min-free: below it relay refuses events (0: never)",
                gauges[2].clone(),
            );
        });
        gauges
    });
    let dir = dir.to_owned();
    LazyLock::force(&GAUGES);
    faultline_telemetry::on_scrape("data-dir", move || {
        let Ok(stat) = rustix::fs::statvfs(&dir) else {
            return;
        };
        let as_gauge = |bytes: u64| i64::try_from(bytes).unwrap_or(i64::MAX);
        GAUGES[0].set(as_gauge(stat.f_bavail.saturating_mul(stat.f_frsize)));
        GAUGES[1].set(as_gauge(stat.f_blocks.saturating_mul(stat.f_frsize)));
        GAUGES[2].set(as_gauge(min_free));
    });
}

fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_above_the_disk_refuses_and_zero_never_does() {
        let dir = std::env::temp_dir();
        assert!(DiskGuard::new(&dir, 0).check().is_ok());
        assert!(DiskGuard::new(&dir, 1).check().is_ok());
        let low = DiskGuard::new(&dir, u64::MAX).check().unwrap_err();
        assert!(low.free < u64::MAX);
        assert!(low.to_string().contains("storage.min-free"), "{low}");
    }
}
