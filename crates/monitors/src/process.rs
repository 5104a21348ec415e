//! What one check-in does: finds (or creates) its monitor and environment,
//! records the check-in or finishes the run it belongs to, and moves the
//! environment on.

use chrono::{DateTime, TimeDelta, Utc};
use faultline_protocol::ProjectId;
use faultline_storage::{CheckIn, CheckInStatus, Monitor, MonitorStatus};

use crate::checkin::CheckInPayload;
use crate::incident::Failure;
use crate::schedule::{max_runtime, minute, next_after};
use crate::state::{self, Effects};
use crate::{MonitorError, MonitorStores};

/// What became of a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// A new check-in.
    Recorded,
    /// It finished (or kept alive) a run already recorded.
    Updated,
    /// Kept nowhere, and why (logged by the caller).
    Dropped(&'static str),
}

/// The monitor the check-in names: created from its configuration when
/// new, its configuration changed when the check-in sends another one.
async fn monitor(
    stores: &MonitorStores,
    project: ProjectId,
    payload: &CheckInPayload,
) -> Result<Option<Monitor>, MonitorError> {
    let existing = stores.meta.monitor(project, &payload.monitor_slug).await?;
    Ok(match (existing, &payload.monitor_config) {
        (Some(mut monitor), Some(config)) if *config != monitor.config => {
            monitor.config = config.clone();
            stores.meta.update_monitor(&monitor).await?;
            Some(monitor)
        }
        (Some(monitor), _) => Some(monitor),
        (None, Some(config)) => Some(
            stores
                .meta
                .create_monitor(project, &payload.monitor_slug, config)
                .await?,
        ),
        (None, None) => None,
    })
}

fn millis(delta: TimeDelta) -> i64 {
    delta.num_milliseconds().max(0)
}

/// Applies a check-in received at `received`.
pub async fn process_checkin(
    stores: &MonitorStores,
    project: ProjectId,
    payload: &CheckInPayload,
    received: DateTime<Utc>,
) -> Result<Processed, MonitorError> {
    let Some(monitor) = monitor(stores, project, payload).await? else {
        return Ok(Processed::Dropped("unknown monitor and no monitor_config"));
    };
    if monitor.status == MonitorStatus::Disabled {
        return Ok(Processed::Dropped("monitor disabled"));
    }
    let env = stores
        .meta
        .monitor_environment(monitor.id, &payload.environment)
        .await?;
    let existing = match &payload.check_in_id {
        Some(guid) => stores.meta.checkin(monitor.id, guid).await?,
        // A finishing check-in without an id (curl, `?status=ok`) closes
        // the newest run in progress.
        None if payload.status.is_finished() => stores.meta.latest_in_progress(env.id).await?,
        None => None,
    };
    if let Some(mut run) = existing {
        if run.environment_id != env.id {
            return Ok(Processed::Dropped(
                "check-in belongs to another environment",
            ));
        }
        let outcome = finish(&mut run, payload, &monitor, received);
        if outcome == Finish::Nothing {
            return Ok(Processed::Dropped("check-in already finished"));
        }
        stores.meta.update_checkin(&run).await?;
        if outcome == Finish::Finished {
            state::change(stores, &monitor, env, |env| {
                Some(ended(env, &monitor, payload.status))
            })
            .await?;
        }
        return Ok(Processed::Updated);
    }

    let date_created = match payload.duration_ms {
        Some(ms) if payload.status.is_finished() => received - TimeDelta::milliseconds(ms),
        _ => received,
    };
    let new = CheckIn {
        id: 0,
        guid: payload
            .check_in_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
        monitor_id: monitor.id,
        environment_id: env.id,
        environment: env.name.clone(),
        status: payload.status,
        duration_ms: payload.duration_ms.filter(|_| payload.status.is_finished()),
        date_created,
        date_updated: received,
        expected_time: env.next_checkin,
        timeout_at: (payload.status == CheckInStatus::InProgress)
            .then(|| minute(date_created) + max_runtime(&monitor.config)),
        config: monitor.config.clone(),
    };
    stores.meta.insert_checkin(&new).await?;
    state::change(stores, &monitor, env, |env| {
        env.last_checkin = Some(date_created);
        state::schedule(env, &monitor, next_after(&monitor.config, date_created));
        Some(match payload.status {
            CheckInStatus::InProgress => Effects::default(),
            status => ended(env, &monitor, status),
        })
    })
    .await?;
    Ok(Processed::Recorded)
}

fn ended(
    env: &mut faultline_storage::MonitorEnvironment,
    monitor: &Monitor,
    status: CheckInStatus,
) -> Effects {
    match status {
        CheckInStatus::Ok => state::succeed(env, monitor),
        CheckInStatus::Error => state::fail(env, monitor, Failure::Error),
        _ => Effects::default(),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Finish {
    /// The run ended now: its environment moves.
    Finished,
    /// Only the run itself changed (a heartbeat, or the duration of one
    /// that had timed out already).
    Touched,
    Nothing,
}

/// A second check-in of a run.
fn finish(
    run: &mut CheckIn,
    payload: &CheckInPayload,
    monitor: &Monitor,
    received: DateTime<Utc>,
) -> Finish {
    let duration = payload
        .duration_ms
        .unwrap_or_else(|| millis(received - run.date_created));
    match run.status {
        CheckInStatus::Ok | CheckInStatus::Error | CheckInStatus::Missed => Finish::Nothing,
        // Timed out already: the run's issue stands; the job's late word
        // still tells how long it took.
        CheckInStatus::Timeout => {
            if !payload.status.is_finished() {
                return Finish::Nothing;
            }
            run.duration_ms = Some(duration);
            run.date_updated = received;
            Finish::Touched
        }
        CheckInStatus::InProgress if payload.status == CheckInStatus::InProgress => {
            // Still running: its time-out counts from now.
            run.timeout_at = Some(minute(received) + max_runtime(&monitor.config));
            run.date_updated = received;
            Finish::Touched
        }
        CheckInStatus::InProgress => {
            run.status = payload.status;
            run.duration_ms = Some(duration);
            run.date_updated = received;
            run.timeout_at = None;
            Finish::Finished
        }
    }
}
