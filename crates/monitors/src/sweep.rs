//! cron's pass over what is late: environments whose deadline (next
//! check-in plus margin) passed get a missed check-in and move to their
//! next expected time; runs in progress past their maximum run time time
//! out. Both read an index of what is due, never every monitor.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faultline_storage::{CheckIn, CheckInStatus, Monitor};

use crate::incident::Failure;
use crate::schedule::{margin, max_runtime, next_after};
use crate::state;
use crate::{MonitorError, MonitorStores};

/// What one sweep found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub missed: u64,
    pub timed_out: u64,
}

/// Rows read per query; a sweep reads until nothing due is left.
const BATCH: usize = 1000;
/// Bounds one sweep (a million late monitors): the rest waits a tick.
const MAX_BATCHES: usize = 1000;

/// Monitors read once per sweep.
struct Monitors<'a> {
    stores: &'a MonitorStores,
    known: HashMap<i64, Option<Monitor>>,
}

impl Monitors<'_> {
    async fn get(&mut self, id: i64) -> Result<Option<Monitor>, MonitorError> {
        if let Some(monitor) = self.known.get(&id) {
            return Ok(monitor.clone());
        }
        let monitor = self.stores.meta.monitor_by_id(id).await?;
        self.known.insert(id, monitor.clone());
        Ok(monitor)
    }
}

/// One pass at `now` (the monitors' clock, which tests may run fast).
pub async fn sweep(stores: &MonitorStores, now: DateTime<Utc>) -> Result<Swept, MonitorError> {
    let mut monitors = Monitors {
        stores,
        known: HashMap::new(),
    };
    let mut swept = Swept::default();
    for _ in 0..MAX_BATCHES {
        let due = stores.meta.due_monitor_environments(now, BATCH).await?;
        let full = due.len() == BATCH;
        for env in due {
            let Some(monitor) = monitors.get(env.monitor_id).await? else {
                continue;
            };
            if missed(stores, &monitor, env, now).await? {
                swept.missed += 1;
            }
        }
        if !full {
            break;
        }
    }
    for _ in 0..MAX_BATCHES {
        let late = stores.meta.timed_out_checkins(now, BATCH).await?;
        let full = late.len() == BATCH;
        for run in late {
            let Some(monitor) = monitors.get(run.monitor_id).await? else {
                continue;
            };
            timed_out(stores, &monitor, run, now).await?;
            swept.timed_out += 1;
        }
        if !full {
            break;
        }
    }
    Ok(swept)
}

/// Records the missed check-in of an environment past its deadline.
async fn missed(
    stores: &MonitorStores,
    monitor: &Monitor,
    env: faultline_storage::MonitorEnvironment,
    now: DateTime<Utc>,
) -> Result<bool, MonitorError> {
    let mut expected = None;
    let effects = state::change(stores, monitor, env.clone(), |env| {
        let latest = env.next_checkin_latest?;
        if latest > now {
            // A check-in came meanwhile.
            return None;
        }
        let due = env.next_checkin.unwrap_or(latest);
        expected = Some(due);
        // The next deadline after now: a cron that was down for a day
        // records one missed check-in, not one per minute it was away.
        let reference = due.max(now - margin(&monitor.config));
        let next = next_after(&monitor.config, reference).filter(|next| *next > due);
        state::schedule(env, monitor, next);
        Some(state::fail(
            env,
            monitor,
            Failure::Missed {
                expected: due,
                margin_minutes: margin(&monitor.config).num_minutes(),
            },
        ))
    })
    .await?;
    let (Some(_), Some(expected)) = (effects, expected) else {
        return Ok(false);
    };
    stores
        .meta
        .insert_checkin(&CheckIn {
            id: 0,
            guid: uuid::Uuid::new_v4().simple().to_string(),
            monitor_id: monitor.id,
            environment_id: env.id,
            environment: env.name.clone(),
            status: CheckInStatus::Missed,
            duration_ms: None,
            date_created: expected,
            date_updated: now,
            expected_time: Some(expected),
            timeout_at: None,
            config: monitor.config.clone(),
        })
        .await?;
    Ok(true)
}

/// Times out a run in progress past its maximum run time.
async fn timed_out(
    stores: &MonitorStores,
    monitor: &Monitor,
    mut run: CheckIn,
    now: DateTime<Utc>,
) -> Result<(), MonitorError> {
    let started = run.date_created;
    run.status = CheckInStatus::Timeout;
    run.date_updated = now;
    run.timeout_at = None;
    stores.meta.update_checkin(&run).await?;
    let env = stores
        .meta
        .monitor_environment(monitor.id, &run.environment)
        .await?;
    let failure = Failure::Timeout {
        started,
        max_runtime_minutes: max_runtime(&run.config).num_minutes(),
    };
    state::change(stores, monitor, env, |env| {
        Some(state::fail(env, monitor, failure))
    })
    .await?;
    Ok(())
}
