//! Cron monitors (Sentry's Crons): a monitor per project and slug, its
//! state per environment, and the check-ins jobs send. The rules that move
//! them (schedules, thresholds, missed and timed-out check-ins) are in
//! `faultline-monitors`; this is what is kept.

use chrono::{DateTime, Utc};
use faultline_protocol::ProjectId;
use serde::{Deserialize, Serialize};

/// How often a job runs: a 5-field crontab, or every `n` units counted
/// from its last check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Schedule {
    Crontab(String),
    Interval(u32, IntervalUnit),
}

impl Schedule {
    /// Sentry's `schedule_type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Crontab(_) => "crontab",
            Schedule::Interval(..) => "interval",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    pub fn parse(unit: &str) -> Option<Self> {
        Some(match unit {
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }
}

/// A monitor's configuration, as Sentry keeps it (minutes for the margin
/// and the run time; `None` means Sentry's default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorConfig {
    pub schedule: Schedule,
    #[serde(default)]
    pub checkin_margin: Option<u32>,
    #[serde(default)]
    pub max_runtime: Option<u32>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub failure_issue_threshold: Option<u32>,
    #[serde(default)]
    pub recovery_threshold: Option<u32>,
}

/// Whether a monitor takes check-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorStatus {
    Active,
    Disabled,
}

impl MonitorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorStatus::Active => "active",
            MonitorStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub id: i64,
    /// The id the API shows (a UUID, as Sentry's).
    pub guid: String,
    pub project_id: ProjectId,
    pub slug: String,
    pub name: String,
    pub status: MonitorStatus,
    pub is_muted: bool,
    pub config: MonitorConfig,
    pub date_created: DateTime<Utc>,
}

/// A monitor environment's health: `active` until its first check-in, then
/// `ok`, or what its last failure was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentStatus {
    Active,
    Ok,
    Error,
    MissedCheckin,
    Timeout,
}

impl EnvironmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Ok => "ok",
            Self::Error => "error",
            Self::MissedCheckin => "missed_checkin",
            Self::Timeout => "timeout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "ok" => Self::Ok,
            "error" => Self::Error,
            "missed_checkin" => Self::MissedCheckin,
            "timeout" => Self::Timeout,
            _ => return None,
        })
    }

    pub fn is_failing(self) -> bool {
        matches!(self, Self::Error | Self::MissedCheckin | Self::Timeout)
    }
}

/// One environment of a monitor (`production`, `staging`…): its schedule
/// runs there on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorEnvironment {
    pub id: i64,
    pub monitor_id: i64,
    pub name: String,
    pub status: EnvironmentStatus,
    pub date_created: DateTime<Utc>,
    pub last_checkin: Option<DateTime<Utc>>,
    /// When the next check-in is due, and the latest it may come (due plus
    /// the margin): past that it is missed.
    pub next_checkin: Option<DateTime<Utc>>,
    pub next_checkin_latest: Option<DateTime<Utc>>,
    /// Failures and successes in a row, for the thresholds.
    pub failures: u32,
    pub successes: u32,
    /// Whether its issue is open (the failure threshold was reached and
    /// the recovery threshold not yet).
    pub incident_open: bool,
    /// Bumped by every save: a save that finds another version lost a
    /// race (a check-in against the sweep) and reads again.
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckInStatus {
    InProgress,
    Ok,
    Error,
    Missed,
    Timeout,
}

impl CheckInStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Missed => "missed",
            Self::Timeout => "timeout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_progress" => Self::InProgress,
            "ok" => Self::Ok,
            "error" => Self::Error,
            "missed" => Self::Missed,
            "timeout" => Self::Timeout,
            _ => return None,
        })
    }

    /// A status the job itself ended with: it does not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Ok | Self::Error)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    pub id: i64,
    /// The SDK's `check_in_id` (simple hex), or one made up for check-ins
    /// cron records (missed ones).
    pub guid: String,
    pub monitor_id: i64,
    pub environment_id: i64,
    pub environment: String,
    pub status: CheckInStatus,
    pub duration_ms: Option<i64>,
    pub date_created: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    /// When the schedule expected it.
    pub expected_time: Option<DateTime<Utc>>,
    /// An in-progress check-in times out then.
    pub timeout_at: Option<DateTime<Utc>>,
    /// The monitor's configuration when it came.
    pub config: MonitorConfig,
}

/// A new check-in (its id is the store's to give).
pub type NewCheckIn = CheckIn;
