//! Alert rules, their firings and the delivery outbox.

use chrono::{DateTime, Duration, Utc};
use faultline_protocol::{EventId, GroupId, ProjectId};
use serde_json::Value;

use super::driver::{Pools, Row, Tx};
use faultline_storage::{
    AlertDelivery, AlertRule, AttemptResult, DeliveryStatus, FireOutcome, NewDelivery, NewFire,
    ProjectPlugin, Result, RuleFire, RuleRecord, RuleStatus, StorageError, UserId, from_millis,
    to_millis,
};

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn rule(row: &Row) -> Result<AlertRule> {
    let status: String = row.get("status")?;
    Ok(AlertRule {
        id: row.get("id")?,
        project_id: ProjectId(row.get("project_id")?),
        name: row.get("name")?,
        status: RuleStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("rule status {status}")))?,
        data: json(&row.get::<String>("data")?)?,
        created_by: row.get::<Option<i64>>("created_by")?.map(UserId),
        date_created: from_millis(row.get("date_created")?),
        last_triggered: row.get::<Option<i64>>("last_triggered")?.map(from_millis),
    })
}

fn delivery(row: &Row) -> Result<AlertDelivery> {
    let status: String = row.get("status")?;
    Ok(AlertDelivery {
        id: row.get("id")?,
        fire_id: row.get("fire_id")?,
        project_id: ProjectId(row.get("project_id")?),
        channel: row.get("channel")?,
        target: row.get("target")?,
        payload: json(&row.get::<String>("payload")?)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("delivery status {status}")))?,
        attempts: u32::try_from(row.get::<i64>("attempts")?).unwrap_or(u32::MAX),
        next_attempt: from_millis(row.get("next_attempt")?),
        last_error: row.get("last_error")?,
        traceparent: row.get("traceparent")?,
        date_created: from_millis(row.get("date_created")?),
        date_updated: from_millis(row.get("date_updated")?),
    })
}

pub(super) async fn create_rule(
    pools: &Pools,
    project: ProjectId,
    record: &RuleRecord<'_>,
    created_by: Option<UserId>,
) -> Result<AlertRule> {
    let row = pools
        .write(
            "INSERT INTO alert_rules (project_id, name, status, data, created_by, date_created) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(project.0)
        .bind(record.name)
        .bind(record.status.as_str())
        .bind(record.data.to_string())
        .bind(created_by.map(|u| u.0))
        .bind(to_millis(Utc::now()))
        .fetch_one()
        .await?;
    rule(&row)
}

pub(super) async fn rules(pools: &Pools, project: ProjectId) -> Result<Vec<AlertRule>> {
    let found = pools
        .read("SELECT * FROM alert_rules WHERE project_id = ? ORDER BY id DESC")
        .bind(project.0)
        .fetch_all()
        .await?;
    super::rows::all(&found, rule)
}

pub(super) async fn rule_by_id(
    pools: &Pools,
    project: ProjectId,
    id: i64,
) -> Result<Option<AlertRule>> {
    let row = pools
        .read("SELECT * FROM alert_rules WHERE project_id = ? AND id = ?")
        .bind(project.0)
        .bind(id)
        .fetch_optional()
        .await?;
    row.as_ref().map(rule).transpose()
}

pub(super) async fn update_rule(
    pools: &Pools,
    project: ProjectId,
    id: i64,
    record: &RuleRecord<'_>,
) -> Result<AlertRule> {
    let row = pools
        .write(
            "UPDATE alert_rules SET name = ?, status = ?, data = ? \
             WHERE project_id = ? AND id = ? RETURNING *",
        )
        .bind(record.name)
        .bind(record.status.as_str())
        .bind(record.data.to_string())
        .bind(project.0)
        .bind(id)
        .fetch_optional()
        .await?;
    row.as_ref()
        .map(rule)
        .transpose()?
        .ok_or(StorageError::NotFound)
}

pub(super) async fn delete_rule(pools: &Pools, project: ProjectId, id: i64) -> Result<()> {
    let mut tx = pools.begin().await?;
    let deleted = tx
        .query("DELETE FROM alert_rules WHERE project_id = ? AND id = ?")
        .bind(project.0)
        .bind(id)
        .execute()
        .await?;
    if deleted == 0 {
        return Err(StorageError::NotFound);
    }
    // Its history goes with it, by hand: SQLite enforces no foreign keys
    // unless told.
    tx.query(
        "DELETE FROM alert_deliveries WHERE fire_id IN \
         (SELECT id FROM rule_fires WHERE rule_id = ?)",
    )
    .bind(id)
    .execute()
    .await?;
    tx.query("DELETE FROM rule_fires WHERE rule_id = ?")
        .bind(id)
        .execute()
        .await?;
    tx.commit().await
}

pub(super) async fn record_fire(pools: &Pools, fire: &NewFire) -> Result<FireOutcome> {
    let mut tx = pools.begin().await?;
    // Two notifiers evaluating the same rule for the same issue decide one
    // after the other (SQLite's single writer does this already).
    if let Some(lock) = tx.dialect().lock_alert_rule() {
        tx.query(lock).bind(fire.rule_id).fetch_optional().await?;
    }
    let event_id = fire.event_id.to_string();
    let repeat: Option<i64> = tx
        .query("SELECT id FROM rule_fires WHERE rule_id = ? AND group_id = ? AND event_id = ?")
        .bind(fire.rule_id)
        .bind(fire.group_id.0)
        .bind(event_id.as_str())
        .fetch_scalar()
        .await?;
    if repeat.is_some() {
        return Ok(FireOutcome::Repeat);
    }
    let since = fire.now - Duration::minutes(i64::from(fire.interval_minutes));
    let recent: Option<i64> = tx
        .query(
            "SELECT id FROM rule_fires WHERE rule_id = ? AND group_id = ? AND date_fired > ? \
             LIMIT 1",
        )
        .bind(fire.rule_id)
        .bind(fire.group_id.0)
        .bind(to_millis(since))
        .fetch_scalar()
        .await?;
    if recent.is_some() {
        return Ok(FireOutcome::TooSoon);
    }
    let now = to_millis(fire.now);
    let id: i64 = tx
        .query(
            "INSERT INTO rule_fires (rule_id, project_id, group_id, event_id, date_fired) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(fire.rule_id)
        .bind(fire.project_id.0)
        .bind(fire.group_id.0)
        .bind(event_id.as_str())
        .bind(now)
        .fetch_scalar()
        .await?
        .ok_or(StorageError::NotFound)?;
    insert_deliveries(
        &mut tx,
        Some(id),
        fire.project_id,
        &fire.deliveries,
        fire.traceparent.as_deref(),
        now,
    )
    .await?;
    tx.query("UPDATE alert_rules SET last_triggered = ? WHERE id = ?")
        .bind(now)
        .bind(fire.rule_id)
        .execute()
        .await?;
    tx.commit().await?;
    Ok(FireOutcome::Recorded(id))
}

/// Writes `deliveries` as pending, due at `now`.
async fn insert_deliveries(
    tx: &mut Tx,
    fire_id: Option<i64>,
    project: ProjectId,
    deliveries: &[NewDelivery],
    traceparent: Option<&str>,
    now: i64,
) -> Result<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut insert = tx.query(
        "INSERT INTO alert_deliveries (fire_id, project_id, channel, target, payload, \
         status, next_attempt, date_created, date_updated, traceparent) VALUES ",
    );
    insert.push_rows(deliveries, |q, d| {
        q.push_bind(fire_id)
            .push(", ")
            .push_bind(project.0)
            .push(", ")
            .push_bind(d.channel.as_str())
            .push(", ")
            .push_bind(d.target.as_str())
            .push(", ")
            .push_bind(d.payload.to_string())
            .push(", ")
            .push_bind(DeliveryStatus::Pending.as_str())
            .push(", ")
            .push_bind(now)
            .push(", ")
            .push_bind(now)
            .push(", ")
            .push_bind(now)
            .push(", ")
            .push_bind(traceparent);
    });
    insert.execute().await?;
    Ok(())
}

pub(super) async fn queue_summary(
    pools: &Pools,
    project: ProjectId,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    deliveries: &[NewDelivery],
) -> Result<bool> {
    let mut tx = pools.begin().await?;
    if let Some(lock) = tx.dialect().lock_project() {
        tx.query(lock).bind(project.0).fetch_optional().await?;
    }
    let queued: Option<i64> = tx
        .query(
            "SELECT id FROM alert_deliveries WHERE project_id = ? AND fire_id IS NULL \
             AND date_created > ? LIMIT 1",
        )
        .bind(project.0)
        .bind(to_millis(since))
        .fetch_scalar()
        .await?;
    if queued.is_some() {
        return Ok(false);
    }
    insert_deliveries(&mut tx, None, project, deliveries, None, to_millis(now)).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn claim_deliveries(
    pools: &Pools,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<AlertDelivery>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // One statement picks and claims, so two notifiers never claim the same
    // row (PostgreSQL's SKIP LOCKED lets them claim different ones at once).
    let sql = format!(
        "UPDATE alert_deliveries SET status = 'sending', next_attempt = ?, date_updated = ? \
         WHERE id IN (SELECT id FROM alert_deliveries \
           WHERE status IN ('pending', 'sending') AND next_attempt <= ? \
           ORDER BY next_attempt LIMIT ?{}) RETURNING *",
        pools.dialect().skip_locked()
    );
    let claimed = pools
        .write(&sql)
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .bind(to_millis(now))
        .bind(limit)
        .fetch_all()
        .await?;
    let mut claimed = super::rows::all(&claimed, delivery)?;
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

pub(super) async fn finish_delivery(pools: &Pools, id: i64, result: &AttemptResult) -> Result<()> {
    let now = to_millis(Utc::now());
    let (status, next, error) = match result {
        AttemptResult::Sent => (DeliveryStatus::Sent, now, None),
        AttemptResult::Retry { at, error } => (
            DeliveryStatus::Pending,
            to_millis(*at),
            Some(error.as_str()),
        ),
        AttemptResult::Failed { error } => (DeliveryStatus::Failed, now, Some(error.as_str())),
    };
    pools
        .write(
            "UPDATE alert_deliveries SET status = ?, next_attempt = ?, \
             last_error = COALESCE(?, last_error), attempts = attempts + 1, date_updated = ? \
             WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(next)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn rule_history(
    pools: &Pools,
    rule_id: i64,
    limit: usize,
) -> Result<Vec<RuleFire>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let fires = pools
        .read(
            "SELECT * FROM rule_fires WHERE rule_id = ? ORDER BY date_fired DESC, id DESC LIMIT ?",
        )
        .bind(rule_id)
        .bind(limit)
        .fetch_all()
        .await?;
    let mut history = Vec::with_capacity(fires.len());
    for row in &fires {
        let event_id: String = row.get("event_id")?;
        history.push(RuleFire {
            id: row.get("id")?,
            rule_id: row.get("rule_id")?,
            group_id: GroupId(row.get("group_id")?),
            event_id: event_id
                .parse::<EventId>()
                .map_err(|_| StorageError::Corrupt(format!("event id {event_id}")))?,
            date_fired: from_millis(row.get("date_fired")?),
            deliveries: Vec::new(),
        });
    }
    if history.is_empty() {
        return Ok(history);
    }
    let mut query = pools.read("SELECT * FROM alert_deliveries WHERE fire_id IN ");
    query.push_list(history.iter().map(|f| f.id));
    query.push(" ORDER BY id");
    for row in query.fetch_all().await? {
        let d = delivery(&row)?;
        if let Some(fire) = history.iter_mut().find(|f| Some(f.id) == d.fire_id) {
            fire.deliveries.push(d);
        }
    }
    Ok(history)
}

pub(super) async fn fires_since(
    pools: &Pools,
    project: ProjectId,
    since: DateTime<Utc>,
) -> Result<u64> {
    let count: Option<i64> = pools
        .read("SELECT COUNT(*) FROM rule_fires WHERE project_id = ? AND date_fired > ?")
        .bind(project.0)
        .bind(to_millis(since))
        .fetch_scalar()
        .await?;
    Ok(count.unwrap_or(0).max(0) as u64)
}

pub(super) async fn set_alert_emails(
    pools: &Pools,
    user: UserId,
    project: ProjectId,
    on: bool,
) -> Result<()> {
    let sql = if on {
        "DELETE FROM alert_email_opt_outs WHERE user_id = ? AND project_id = ?"
    } else {
        "INSERT INTO alert_email_opt_outs (user_id, project_id) VALUES (?, ?) \
         ON CONFLICT DO NOTHING"
    };
    pools
        .write(sql)
        .bind(user.0)
        .bind(project.0)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn alert_email_opt_outs(pools: &Pools, project: ProjectId) -> Result<Vec<UserId>> {
    let rows = pools
        .read("SELECT user_id FROM alert_email_opt_outs WHERE project_id = ? ORDER BY user_id")
        .bind(project.0)
        .fetch_all()
        .await?;
    rows.iter().map(|r| Ok(UserId(r.get("user_id")?))).collect()
}

fn plugin(row: &Row) -> Result<ProjectPlugin> {
    Ok(ProjectPlugin {
        slug: row.get("slug")?,
        enabled: row.get("enabled")?,
        config: json(&row.get::<String>("config")?)?,
    })
}

pub(super) async fn plugins(pools: &Pools, project: ProjectId) -> Result<Vec<ProjectPlugin>> {
    let rows = pools
        .read(
            "SELECT slug, enabled, config FROM project_plugins WHERE project_id = ? ORDER BY slug",
        )
        .bind(project.0)
        .fetch_all()
        .await?;
    rows.iter().map(plugin).collect()
}

pub(super) async fn save_plugin_config(
    pools: &Pools,
    project: ProjectId,
    slug: &str,
    config: &Value,
) -> Result<ProjectPlugin> {
    let row = pools
        .write(
            "INSERT INTO project_plugins (project_id, slug, enabled, config) VALUES (?, ?, ?, ?) \
             ON CONFLICT (project_id, slug) DO UPDATE SET config = excluded.config \
             RETURNING slug, enabled, config",
        )
        .bind(project.0)
        .bind(slug)
        .bind(false)
        .bind(config.to_string())
        .fetch_one()
        .await?;
    plugin(&row)
}

pub(super) async fn set_plugin_enabled(
    pools: &Pools,
    project: ProjectId,
    slug: &str,
    enabled: bool,
) -> Result<ProjectPlugin> {
    let row = pools
        .write(
            "INSERT INTO project_plugins (project_id, slug, enabled, config) VALUES (?, ?, ?, '{}') \
             ON CONFLICT (project_id, slug) DO UPDATE SET enabled = excluded.enabled \
             RETURNING slug, enabled, config",
        )
        .bind(project.0)
        .bind(slug)
        .bind(enabled)
        .fetch_one()
        .await?;
    plugin(&row)
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// Rows a counting statement writes at most (bounded bind counts).
const COUNT_CHUNK: usize = 400;

pub(super) async fn add_event_counts(
    pools: &Pools,
    counts: &[(GroupId, u64)],
    now: DateTime<Utc>,
) -> Result<()> {
    // One row per issue and width: the statement may not touch a row twice.
    let mut merged: std::collections::BTreeMap<i64, i64> = Default::default();
    for (group, n) in counts {
        *merged.entry(group.0).or_default() += i64::try_from(*n).unwrap_or(i64::MAX);
    }
    if merged.is_empty() {
        return Ok(());
    }
    let ms = to_millis(now);
    let (minute, hour) = (ms.div_euclid(MINUTE_MS), ms.div_euclid(HOUR_MS));
    let rows: Vec<(i64, i64, i64, i64)> = merged
        .into_iter()
        .flat_map(|(group, n)| [(group, 1, minute, n), (group, 60, hour, n)])
        .collect();
    let mut tx = pools.begin().await?;
    for chunk in rows.chunks(COUNT_CHUNK) {
        let mut insert =
            tx.query("INSERT INTO alert_event_counts (group_id, width, bucket, events) VALUES ");
        insert.push_rows(chunk, |q, (group, width, bucket, n)| {
            q.push_bind(*group)
                .push(", ")
                .push_bind(*width)
                .push(", ")
                .push_bind(*bucket)
                .push(", ")
                .push_bind(*n);
        });
        insert.push(
            " ON CONFLICT (group_id, width, bucket) \
             DO UPDATE SET events = alert_event_counts.events + excluded.events",
        );
        insert.execute().await?;
    }
    tx.commit().await
}

pub(super) async fn add_issue_users(
    pools: &Pools,
    seen: &[(GroupId, String)],
    now: DateTime<Utc>,
) -> Result<()> {
    let rows = seen.iter().map(|(g, u)| (g.0, u.as_str()));
    insert_sightings(
        pools,
        "INSERT INTO alert_group_users (group_id, user_key, last_seen) VALUES ",
        " ON CONFLICT (group_id, user_key) DO UPDATE SET last_seen = excluded.last_seen",
        rows,
        now,
    )
    .await
}

/// Writes each distinct (id, key) of `rows` with `now`, by `insert` (the
/// statement up to its VALUES) and `on_conflict`; one statement may not
/// touch a row twice, so repeats are dropped first.
async fn insert_sightings<'a>(
    pools: &Pools,
    insert: &str,
    on_conflict: &str,
    rows: impl Iterator<Item = (i64, &'a str)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let rows: Vec<(i64, &str)> = rows
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let ms = to_millis(now);
    let mut tx = pools.begin().await?;
    for chunk in rows.chunks(COUNT_CHUNK) {
        let mut statement = tx.query(insert);
        statement.push_rows(chunk, |q, (id, key)| {
            q.push_bind(*id)
                .push(", ")
                .push_bind(*key)
                .push(", ")
                .push_bind(ms);
        });
        statement.push(on_conflict);
        statement.execute().await?;
    }
    tx.commit().await
}

/// The window `(now - minutes, now]` in buckets: one-minute buckets up to
/// an hour, one-hour buckets beyond (the oldest partial hour left out).
fn window(minutes: u32, now: DateTime<Utc>) -> (i64, i64) {
    let ms = to_millis(now);
    if minutes <= 60 {
        (1, ms.div_euclid(MINUTE_MS) - i64::from(minutes))
    } else {
        (60, ms.div_euclid(HOUR_MS) - i64::from(minutes / 60))
    }
}

pub(super) async fn events_within(
    pools: &Pools,
    group: GroupId,
    windows: &[u32],
    now: DateTime<Utc>,
) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(windows.len());
    for minutes in windows {
        let (width, after) = window(*minutes, now);
        let sum: Option<Option<i64>> = pools
            .read(
                "SELECT CAST(SUM(events) AS BIGINT) FROM alert_event_counts \
                 WHERE group_id = ? AND width = ? AND bucket > ?",
            )
            .bind(group.0)
            .bind(width)
            .bind(after)
            .fetch_scalar()
            .await?;
        out.push(sum.flatten().unwrap_or(0).max(0) as u64);
    }
    Ok(out)
}

pub(super) async fn users_within(
    pools: &Pools,
    group: GroupId,
    windows: &[u32],
    now: DateTime<Utc>,
) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(windows.len());
    for minutes in windows {
        let since = now - Duration::minutes(i64::from(*minutes));
        let count: Option<i64> = pools
            .read("SELECT COUNT(*) FROM alert_group_users WHERE group_id = ? AND last_seen > ?")
            .bind(group.0)
            .bind(to_millis(since))
            .fetch_scalar()
            .await?;
        out.push(count.unwrap_or(0).max(0) as u64);
    }
    Ok(out)
}

pub(super) async fn prune_counts(pools: &Pools, now: DateTime<Utc>) -> Result<u64> {
    let ms = to_millis(now);
    // Kept a little past the longest window of each width.
    let minute_cutoff = ms.div_euclid(MINUTE_MS) - 120;
    let hour_cutoff = ms.div_euclid(HOUR_MS) - 24 * 31;
    let users_cutoff = ms - 31 * 24 * HOUR_MS;
    let mut removed = 0;
    for (sql, cutoff) in [
        (
            "DELETE FROM alert_event_counts WHERE width = 1 AND bucket < ?",
            minute_cutoff,
        ),
        (
            "DELETE FROM alert_event_counts WHERE width = 60 AND bucket < ?",
            hour_cutoff,
        ),
        (
            "DELETE FROM alert_group_users WHERE last_seen < ?",
            users_cutoff,
        ),
    ] {
        removed += pools.write(sql).bind(cutoff).execute().await?;
    }
    Ok(removed)
}

pub(super) async fn add_releases(
    pools: &Pools,
    seen: &[(ProjectId, String)],
    now: DateTime<Utc>,
) -> Result<()> {
    let rows = seen.iter().map(|(p, v)| (p.0, v.as_str()));
    insert_sightings(
        pools,
        "INSERT INTO seen_releases (project_id, version, first_seen) VALUES ",
        " ON CONFLICT (project_id, version) DO NOTHING",
        rows,
        now,
    )
    .await
}

pub(super) async fn latest_release(pools: &Pools, project: ProjectId) -> Result<Option<String>> {
    pools
        .read(
            "SELECT version FROM seen_releases WHERE project_id = ? \
             ORDER BY first_seen DESC, version DESC LIMIT 1",
        )
        .bind(project.0)
        .fetch_scalar()
        .await
}
