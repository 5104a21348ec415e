//! How a monitor environment moves: a success or a failure against the
//! monitor's thresholds, saved with the environment's version so that a
//! check-in and the sweep racing for one environment do not undo each
//! other.

use chrono::{DateTime, Utc};
use faultline_storage::{EnvironmentStatus, GroupStatus, Monitor, MonitorEnvironment};

use crate::incident::{self, Failure};
use crate::{MonitorError, MonitorStores};

/// What a change leaves to do once it is saved.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Effects {
    /// A failure event for the environment's issue.
    pub failure: Option<Failure>,
    /// The monitor recovered: its issue is resolved.
    pub resolve: bool,
}

fn threshold(value: Option<u32>) -> u32 {
    value.unwrap_or(1).max(1)
}

/// The environment ran next due at `next` (`None` when the schedule has no
/// next time).
pub(crate) fn schedule(
    env: &mut MonitorEnvironment,
    monitor: &Monitor,
    next: Option<DateTime<Utc>>,
) {
    env.next_checkin = next;
    env.next_checkin_latest = next.map(|n| n + crate::schedule::margin(&monitor.config));
}

/// One more failure in a row: the issue opens at the threshold, and while
/// it is open every failure is an event of it.
pub(crate) fn fail(env: &mut MonitorEnvironment, monitor: &Monitor, failure: Failure) -> Effects {
    env.failures = env.failures.saturating_add(1);
    env.successes = 0;
    env.status = match failure {
        Failure::Missed { .. } => EnvironmentStatus::MissedCheckin,
        Failure::Timeout { .. } => EnvironmentStatus::Timeout,
        Failure::Error => EnvironmentStatus::Error,
    };
    if env.failures >= threshold(monitor.config.failure_issue_threshold) {
        env.incident_open = true;
    }
    Effects {
        failure: (env.incident_open && !monitor.is_muted).then_some(failure),
        resolve: false,
    }
}

/// One more success in a row: an open issue resolves at the recovery
/// threshold; until then the environment stays failing.
pub(crate) fn succeed(env: &mut MonitorEnvironment, monitor: &Monitor) -> Effects {
    env.successes = env.successes.saturating_add(1);
    env.failures = 0;
    let mut resolve = false;
    if env.incident_open {
        if env.successes >= threshold(monitor.config.recovery_threshold) {
            env.incident_open = false;
            env.status = EnvironmentStatus::Ok;
            resolve = true;
        }
    } else {
        env.status = EnvironmentStatus::Ok;
    }
    Effects {
        failure: None,
        resolve,
    }
}

/// Tries a save this many times before giving up on a busy environment
/// (the check-in is kept either way; only its effect on the state waits
/// for the next one).
const SAVE_ATTEMPTS: usize = 5;

/// Applies `change` to the environment and saves it; on a lost race reads
/// it again and applies `change` again. `change` returns `None` when there
/// is nothing (left) to do. What the saved change asks for is done here.
pub(crate) async fn change<F>(
    stores: &MonitorStores,
    monitor: &Monitor,
    mut env: MonitorEnvironment,
    mut change: F,
) -> Result<Option<Effects>, MonitorError>
where
    F: FnMut(&mut MonitorEnvironment) -> Option<Effects>,
{
    for _ in 0..SAVE_ATTEMPTS {
        let mut next = env.clone();
        let Some(effects) = change(&mut next) else {
            return Ok(None);
        };
        if stores.meta.save_monitor_environment(&next).await? {
            apply(stores, monitor, &next, effects).await?;
            return Ok(Some(effects));
        }
        env = stores
            .meta
            .monitor_environment(monitor.id, &env.name)
            .await?;
    }
    tracing::warn!(
        monitor = monitor.slug,
        environment = env.name,
        "monitor environment kept changing under us; leaving it"
    );
    Ok(None)
}

async fn apply(
    stores: &MonitorStores,
    monitor: &Monitor,
    env: &MonitorEnvironment,
    effects: Effects,
) -> Result<(), MonitorError> {
    if let Some(failure) = effects.failure {
        incident::publish(stores, monitor, &env.name, failure).await?;
    }
    if effects.resolve {
        let hash = incident::failure_hash(monitor, &env.name)?;
        if let Some(group) = stores.meta.group_by_hash(monitor.project_id, &hash).await? {
            stores
                .meta
                .set_group_status(&[group.id], GroupStatus::Resolved)
                .await?;
            tracing::info!(monitor = monitor.slug, environment = env.name, group = %group.id.0, "monitor recovered; issue resolved");
        }
    }
    Ok(())
}
