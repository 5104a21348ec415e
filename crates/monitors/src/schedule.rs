//! When a monitor's next check-in is due: crontabs are read in the
//! monitor's time zone; intervals count from the reference (the last
//! check-in), as Sentry's do. Times are whole minutes.

use chrono::{DateTime, DurationRound, Months, TimeDelta, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use faultline_storage::{IntervalUnit, MonitorConfig, Schedule};

/// The margin and run time Sentry assumes when a monitor names none.
pub const DEFAULT_MARGIN_MINUTES: u32 = 1;
pub const DEFAULT_MAX_RUNTIME_MINUTES: u32 = 30;

pub fn parse_crontab(text: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(text)
}

pub fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

fn timezone(config: &MonitorConfig) -> chrono_tz::Tz {
    config
        .timezone
        .as_deref()
        .and_then(|tz| tz.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

/// The first scheduled time after `reference`; `None` when the schedule
/// has none (a crontab for 30 February) or it is past the calendar's end.
pub fn next_after(config: &MonitorConfig, reference: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let next = match &config.schedule {
        Schedule::Crontab(text) => {
            let cron = parse_crontab(text).ok()?;
            let local = reference.with_timezone(&timezone(config));
            cron.find_next_occurrence(&local, false)
                .ok()?
                .with_timezone(&Utc)
        }
        Schedule::Interval(n, unit) => {
            let n = *n;
            match unit {
                IntervalUnit::Minute => {
                    reference.checked_add_signed(TimeDelta::try_minutes(n.into())?)?
                }
                IntervalUnit::Hour => {
                    reference.checked_add_signed(TimeDelta::try_hours(n.into())?)?
                }
                IntervalUnit::Day => {
                    reference.checked_add_signed(TimeDelta::try_days(n.into())?)?
                }
                IntervalUnit::Week => {
                    reference.checked_add_signed(TimeDelta::try_weeks(n.into())?)?
                }
                IntervalUnit::Month => reference.checked_add_months(Months::new(n))?,
                IntervalUnit::Year => {
                    reference.checked_add_months(Months::new(n.checked_mul(12)?))?
                }
            }
        }
    };
    Some(minute(next))
}

pub fn margin(config: &MonitorConfig) -> TimeDelta {
    TimeDelta::minutes(
        config
            .checkin_margin
            .unwrap_or(DEFAULT_MARGIN_MINUTES)
            .max(1)
            .into(),
    )
}

pub fn max_runtime(config: &MonitorConfig) -> TimeDelta {
    TimeDelta::minutes(
        config
            .max_runtime
            .unwrap_or(DEFAULT_MAX_RUNTIME_MINUTES)
            .max(1)
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config(schedule: Schedule, tz: Option<&str>) -> MonitorConfig {
        MonitorConfig {
            schedule,
            checkin_margin: None,
            max_runtime: None,
            timezone: tz.map(str::to_owned),
            failure_issue_threshold: None,
            recovery_threshold: None,
        }
    }

    #[test]
    fn crontabs_follow_the_monitors_time_zone() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 30).unwrap();
        let utc = config(Schedule::Crontab("0 3 * * *".into()), None);
        assert_eq!(
            next_after(&utc, at),
            Some(Utc.with_ymd_and_hms(2026, 7, 2, 3, 0, 0).unwrap())
        );
        // 03:00 in Vienna in summer is 01:00 UTC.
        let vienna = config(Schedule::Crontab("0 3 * * *".into()), Some("Europe/Vienna"));
        assert_eq!(
            next_after(&vienna, at),
            Some(Utc.with_ymd_and_hms(2026, 7, 2, 1, 0, 0).unwrap())
        );
    }

    #[test]
    fn intervals_count_from_the_reference_in_whole_minutes() {
        let at = Utc.with_ymd_and_hms(2026, 1, 31, 5, 35, 42).unwrap();
        let hours = config(Schedule::Interval(2, IntervalUnit::Hour), None);
        assert_eq!(
            next_after(&hours, at),
            Some(Utc.with_ymd_and_hms(2026, 1, 31, 7, 35, 0).unwrap())
        );
        let month = config(Schedule::Interval(1, IntervalUnit::Month), None);
        assert_eq!(
            next_after(&month, at),
            Some(Utc.with_ymd_and_hms(2026, 2, 28, 5, 35, 0).unwrap())
        );
        let huge = config(Schedule::Interval(u32::MAX, IntervalUnit::Year), None);
        assert_eq!(next_after(&huge, at), None);
    }
}
