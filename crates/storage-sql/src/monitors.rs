//! Cron monitors, their environments and their check-ins.

use chrono::{DateTime, Utc};
use faultline_protocol::ProjectId;

use super::driver::{Pools, Row};
use super::error::conflict;
use faultline_storage::{
    CheckIn, CheckInStatus, EnvironmentStatus, Monitor, MonitorConfig, MonitorEnvironment,
    MonitorStatus, Result, StorageError, from_millis, to_millis,
};

fn config_json(config: &MonitorConfig) -> String {
    serde_json::to_string(config).expect("a monitor config serialises: plain data")
}

fn config(row: &Row) -> Result<MonitorConfig> {
    let text: String = row.get("config")?;
    serde_json::from_str(&text).map_err(|e| StorageError::Corrupt(format!("monitor config: {e}")))
}

fn millis(row: &Row, column: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.get::<Option<i64>>(column)?.map(from_millis))
}

fn count(row: &Row, column: &str) -> Result<u32> {
    Ok(u32::try_from(row.get::<i64>(column)?).unwrap_or(0))
}

fn monitor(row: &Row) -> Result<Monitor> {
    let status: String = row.get("status")?;
    Ok(Monitor {
        id: row.get("id")?,
        guid: row.get("guid")?,
        project_id: ProjectId(row.get("project_id")?),
        slug: row.get("slug")?,
        name: row.get("name")?,
        status: MonitorStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("monitor status {status}")))?,
        is_muted: row.get("is_muted")?,
        config: config(row)?,
        date_created: from_millis(row.get("date_created")?),
    })
}

fn environment(row: &Row) -> Result<MonitorEnvironment> {
    let status: String = row.get("status")?;
    Ok(MonitorEnvironment {
        id: row.get("id")?,
        monitor_id: row.get("monitor_id")?,
        name: row.get("name")?,
        status: EnvironmentStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("monitor environment status {status}")))?,
        date_created: from_millis(row.get("date_created")?),
        last_checkin: millis(row, "last_checkin")?,
        next_checkin: millis(row, "next_checkin")?,
        next_checkin_latest: millis(row, "next_checkin_latest")?,
        failures: count(row, "failures")?,
        successes: count(row, "successes")?,
        incident_open: row.get("incident_open")?,
        version: row.get("version")?,
    })
}

fn checkin(row: &Row) -> Result<CheckIn> {
    let status: String = row.get("status")?;
    Ok(CheckIn {
        id: row.get("id")?,
        guid: row.get("guid")?,
        monitor_id: row.get("monitor_id")?,
        environment_id: row.get("environment_id")?,
        environment: row.get("environment")?,
        status: CheckInStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("check-in status {status}")))?,
        duration_ms: row.get("duration_ms")?,
        date_created: from_millis(row.get("date_created")?),
        date_updated: from_millis(row.get("date_updated")?),
        expected_time: millis(row, "expected_time")?,
        timeout_at: millis(row, "timeout_at")?,
        config: config(row)?,
    })
}

pub(super) async fn by_slug(
    pools: &Pools,
    project: ProjectId,
    slug: &str,
) -> Result<Option<Monitor>> {
    let row = pools
        .read("SELECT * FROM monitors WHERE project_id = ? AND slug = ?")
        .bind(project.0)
        .bind(slug)
        .fetch_optional()
        .await?;
    row.as_ref().map(monitor).transpose()
}

pub(super) async fn by_id(pools: &Pools, id: i64) -> Result<Option<Monitor>> {
    let row = pools
        .read("SELECT * FROM monitors WHERE id = ?")
        .bind(id)
        .fetch_optional()
        .await?;
    row.as_ref().map(monitor).transpose()
}

pub(super) async fn create(
    pools: &Pools,
    project: ProjectId,
    slug: &str,
    config: &MonitorConfig,
) -> Result<Monitor> {
    let row = pools
        .write(
            "INSERT INTO monitors (guid, project_id, slug, name, status, is_muted, config, \
             date_created) VALUES (?, ?, ?, ?, 'active', FALSE, ?, ?) \
             ON CONFLICT (project_id, slug) DO NOTHING RETURNING *",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(project.0)
        .bind(slug)
        .bind(slug)
        .bind(config_json(config))
        .bind(to_millis(Utc::now()))
        .fetch_optional()
        .await?;
    match row {
        Some(row) => monitor(&row),
        // Somebody else created it meanwhile: theirs it is.
        None => {
            let row = pools
                .write("SELECT * FROM monitors WHERE project_id = ? AND slug = ?")
                .bind(project.0)
                .bind(slug)
                .fetch_one()
                .await?;
            monitor(&row)
        }
    }
}

pub(super) async fn update(pools: &Pools, m: &Monitor) -> Result<()> {
    pools
        .write(
            "UPDATE monitors SET slug = ?, name = ?, status = ?, is_muted = ?, config = ? \
             WHERE id = ?",
        )
        .bind(m.slug.as_str())
        .bind(m.name.as_str())
        .bind(m.status.as_str())
        .bind(m.is_muted)
        .bind(config_json(&m.config))
        .bind(m.id)
        .execute()
        .await
        .map_err(conflict("a monitor with this slug"))?;
    Ok(())
}

pub(super) async fn delete(pools: &Pools, id: i64) -> Result<()> {
    let mut tx = pools.begin().await?;
    for sql in [
        "DELETE FROM monitor_checkins WHERE monitor_id = ?",
        "DELETE FROM monitor_environments WHERE monitor_id = ?",
        "DELETE FROM monitors WHERE id = ?",
    ] {
        tx.query(sql).bind(id).execute().await?;
    }
    tx.commit().await
}

pub(super) async fn of_projects(pools: &Pools, projects: &[ProjectId]) -> Result<Vec<Monitor>> {
    if projects.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = pools.read("SELECT * FROM monitors WHERE project_id IN ");
    query.push_list(projects.iter().map(|p| p.0));
    query.push(" ORDER BY name, id");
    query.fetch_all().await?.iter().map(monitor).collect()
}

pub(super) async fn environments(
    pools: &Pools,
    monitors: &[i64],
) -> Result<Vec<MonitorEnvironment>> {
    if monitors.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = pools.read("SELECT * FROM monitor_environments WHERE monitor_id IN ");
    query.push_list(monitors.iter().copied());
    query.push(" ORDER BY monitor_id, name");
    query.fetch_all().await?.iter().map(environment).collect()
}

pub(super) async fn environment_named(
    pools: &Pools,
    monitor: i64,
    name: &str,
) -> Result<MonitorEnvironment> {
    pools
        .write(
            "INSERT INTO monitor_environments (monitor_id, name, status, date_created) \
             VALUES (?, ?, 'active', ?) ON CONFLICT (monitor_id, name) DO NOTHING",
        )
        .bind(monitor)
        .bind(name)
        .bind(to_millis(Utc::now()))
        .execute()
        .await?;
    let row = pools
        .write("SELECT * FROM monitor_environments WHERE monitor_id = ? AND name = ?")
        .bind(monitor)
        .bind(name)
        .fetch_one()
        .await?;
    environment(&row)
}

pub(super) async fn save_environment(pools: &Pools, e: &MonitorEnvironment) -> Result<bool> {
    let changed = pools
        .write(
            "UPDATE monitor_environments SET status = ?, last_checkin = ?, next_checkin = ?, \
             next_checkin_latest = ?, failures = ?, successes = ?, incident_open = ?, \
             version = version + 1 WHERE id = ? AND version = ?",
        )
        .bind(e.status.as_str())
        .bind(e.last_checkin.map(to_millis))
        .bind(e.next_checkin.map(to_millis))
        .bind(e.next_checkin_latest.map(to_millis))
        .bind(i64::from(e.failures))
        .bind(i64::from(e.successes))
        .bind(e.incident_open)
        .bind(e.id)
        .bind(e.version)
        .execute()
        .await?;
    Ok(changed == 1)
}

pub(super) async fn due(
    pools: &Pools,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<MonitorEnvironment>> {
    let rows = pools
        .read(
            "SELECT e.* FROM monitor_environments e JOIN monitors m ON m.id = e.monitor_id \
             WHERE e.next_checkin_latest <= ? AND m.status = 'active' \
             ORDER BY e.next_checkin_latest LIMIT ?",
        )
        .bind(to_millis(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all()
        .await?;
    rows.iter().map(environment).collect()
}

/// Check-ins with their environment's name.
const CHECKINS: &str = "SELECT c.*, e.name AS environment FROM monitor_checkins c \
                        JOIN monitor_environments e ON e.id = c.environment_id";

pub(super) async fn checkin_by_guid(
    pools: &Pools,
    monitor: i64,
    guid: &str,
) -> Result<Option<CheckIn>> {
    let row = pools
        .read(&format!("{CHECKINS} WHERE c.monitor_id = ? AND c.guid = ?"))
        .bind(monitor)
        .bind(guid)
        .fetch_optional()
        .await?;
    row.as_ref().map(checkin).transpose()
}

pub(super) async fn latest_in_progress(pools: &Pools, environment: i64) -> Result<Option<CheckIn>> {
    let row = pools
        .read(&format!(
            "{CHECKINS} WHERE c.environment_id = ? AND c.status = 'in_progress' \
             ORDER BY c.date_created DESC, c.id DESC LIMIT 1"
        ))
        .bind(environment)
        .fetch_optional()
        .await?;
    row.as_ref().map(checkin).transpose()
}

pub(super) async fn insert_checkin(pools: &Pools, c: &CheckIn) -> Result<CheckIn> {
    let row = pools
        .write(
            "INSERT INTO monitor_checkins (guid, monitor_id, environment_id, status, duration_ms, \
             date_created, date_updated, expected_time, timeout_at, config) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(c.guid.as_str())
        .bind(c.monitor_id)
        .bind(c.environment_id)
        .bind(c.status.as_str())
        .bind(c.duration_ms)
        .bind(to_millis(c.date_created))
        .bind(to_millis(c.date_updated))
        .bind(c.expected_time.map(to_millis))
        .bind(c.timeout_at.map(to_millis))
        .bind(config_json(&c.config))
        .fetch_one()
        .await
        .map_err(conflict("a check-in with this id"))?;
    Ok(CheckIn {
        id: row.get(0)?,
        ..c.clone()
    })
}

pub(super) async fn update_checkin(pools: &Pools, c: &CheckIn) -> Result<()> {
    pools
        .write(
            "UPDATE monitor_checkins SET status = ?, duration_ms = ?, date_updated = ?, \
             timeout_at = ? WHERE id = ?",
        )
        .bind(c.status.as_str())
        .bind(c.duration_ms)
        .bind(to_millis(c.date_updated))
        .bind(c.timeout_at.map(to_millis))
        .bind(c.id)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn checkins(
    pools: &Pools,
    monitor: i64,
    environment: Option<&str>,
    limit: usize,
    offset: usize,
) -> Result<Vec<CheckIn>> {
    let mut query = pools.read(CHECKINS);
    query.push(" WHERE c.monitor_id = ");
    query.push_bind(monitor);
    if let Some(name) = environment {
        query.push(" AND e.name = ");
        query.push_bind(name.to_owned());
    }
    query.push(" ORDER BY c.date_created DESC, c.id DESC LIMIT ");
    query.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    query.push(" OFFSET ");
    query.push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    query.fetch_all().await?.iter().map(checkin).collect()
}

pub(super) async fn timed_out(
    pools: &Pools,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<CheckIn>> {
    let rows = pools
        .read(&format!(
            "{CHECKINS} WHERE c.status = 'in_progress' AND c.timeout_at <= ? \
             ORDER BY c.timeout_at LIMIT ?"
        ))
        .bind(to_millis(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all()
        .await?;
    rows.iter().map(checkin).collect()
}

pub(super) async fn delete_checkins_before(pools: &Pools, cutoff: DateTime<Utc>) -> Result<u64> {
    pools
        .write("DELETE FROM monitor_checkins WHERE date_created < ?")
        .bind(to_millis(cutoff))
        .execute()
        .await
}
