//! Issues: recording batches of grouped events ([`record_events`], folded
//! by [`super::fold`]), listing and searching, triage, and retention.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faultline_protocol::{GroupId, ProjectId};

use super::driver::{Pools, Query, Tx};
use super::fold::{self, Earlier, IssueState};
use super::rows;
use faultline_storage::{
    Group, GroupQuery, GroupSort, GroupStatus, GroupedEvent, RecordOutcome, Snooze, UserId,
};
use faultline_storage::{Result, StorageError, to_millis};

/// Rows per multi-row statement; well under SQLite's variable limit.
const ROWS_PER_STATEMENT: usize = 200;

/// Records a batch in one transaction. Few, multi-row statements: each
/// statement is a round trip (to sqlx's SQLite worker thread, or to the
/// PostgreSQL server), which dominates the cost per event.
pub(super) async fn record_events(
    pools: &Pools,
    events: &[GroupedEvent],
) -> Result<Vec<RecordOutcome>> {
    let mut tx = pools.begin().await?;
    let earlier = earlier_deliveries(&mut tx, events).await?;
    let plan = fold::plan(events, &earlier);
    let states = find_or_create_issues(&mut tx, &plan.issues, Utc::now()).await?;
    let batch = fold::fold(events, &plan, &states);

    for chunk in batch.seen.chunks(ROWS_PER_STATEMENT) {
        let mut insert = tx.query(
            "INSERT INTO seen_events (project_id, event_id, group_id, is_new, regression, \
             reappeared, event_time) VALUES ",
        );
        insert.push_rows(chunk, |q, (event, outcome)| {
            q.push_bind(event.project_id.0)
                .push(", ")
                .push_bind(event.event_id.to_string())
                .push(", ")
                .push_bind(outcome.group_id.0)
                .push(", ")
                .push_bind(outcome.new_group)
                .push(", ")
                .push_bind(outcome.regression)
                .push(", ")
                .push_bind(outcome.reappeared)
                .push(", ")
                .push_bind(to_millis(event.timestamp));
        });
        insert.execute().await?;
    }
    // Distinct users: the rows actually inserted are the new ones.
    let mut new_users: HashMap<GroupId, i64> = HashMap::new();
    for chunk in batch.users.chunks(ROWS_PER_STATEMENT) {
        let mut insert = tx.query("INSERT INTO issue_users (group_id, user_tag) VALUES ");
        insert.push_rows(chunk, |q, &(group, user)| {
            q.push_bind(group.0).push(", ").push_bind(user);
        });
        insert.push(" ON CONFLICT DO NOTHING RETURNING group_id");
        for row in insert.fetch_all().await? {
            *new_users.entry(GroupId(row.get(0)?)).or_default() += 1;
        }
    }

    let dialect = tx.dialect();
    // Title, culprit, metadata and level follow the newest event, as in
    // Sentry; a resolved issue reopens as regressed, one whose snooze ran
    // out as ongoing.
    let update = format!(
        "UPDATE issues SET count = count + ?, user_count = user_count + ?, \
         first_seen = {least}(first_seen, ?), \
         title = CASE WHEN ? >= last_seen THEN ? ELSE title END, \
         culprit = CASE WHEN ? >= last_seen THEN ? ELSE culprit END, \
         metadata = CASE WHEN ? >= last_seen THEN ? ELSE metadata END, \
         level = CASE WHEN ? >= last_seen THEN ? ELSE level END, \
         last_release = CASE WHEN ? >= last_seen THEN COALESCE(?, last_release) \
             ELSE last_release END, \
         last_seen = {greatest}(last_seen, ?), \
         substatus = CASE WHEN status = 'resolved' THEN 'regressed' \
             WHEN ? THEN 'ongoing' ELSE substatus END, \
         resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END, \
         snooze_until = CASE WHEN ? THEN NULL ELSE snooze_until END, \
         snooze_count = CASE WHEN ? THEN NULL ELSE snooze_count END, \
         snooze_users = CASE WHEN ? THEN NULL ELSE snooze_users END, \
         status = CASE WHEN status = 'resolved' OR ? THEN 'unresolved' ELSE status END \
         WHERE id = ?",
        least = dialect.least(),
        greatest = dialect.greatest(),
    );
    for delta in &batch.deltas {
        let latest = delta.latest;
        tx.query(&update)
            .bind(delta.count)
            .bind(new_users.get(&delta.group_id).copied().unwrap_or(0))
            .bind(delta.first_seen)
            .bind(delta.last_seen)
            .bind(latest.title.as_str())
            .bind(delta.last_seen)
            .bind(latest.culprit.as_str())
            .bind(delta.last_seen)
            .bind(latest.metadata.to_string())
            .bind(delta.last_seen)
            .bind(latest.level.as_str())
            .bind(delta.last_seen)
            .bind(latest.release.as_deref())
            .bind(delta.last_seen)
            .bind(delta.reappears)
            .bind(delta.reappears)
            .bind(delta.reappears)
            .bind(delta.reappears)
            .bind(delta.reappears)
            .bind(delta.group_id.0)
            .execute()
            .await?;
    }
    // Releases seen in events are created on the fly, in the project, as
    // Sentry does (only versions Sentry would accept).
    let mut releases: Vec<(ProjectId, &str)> = batch
        .seen
        .iter()
        .filter_map(|(event, _)| Some((event.project_id, event.release.as_deref()?)))
        .filter(|(_, version)| faultline_storage::is_valid_version(version))
        .collect();
    releases.sort_unstable();
    releases.dedup();
    let now = to_millis(Utc::now());
    for (project, version) in releases {
        tx.query(
            "INSERT INTO releases (org_id, version, status, date_created) \
             SELECT org_id, ?, 'open', ? FROM projects WHERE id = ? \
             ON CONFLICT (org_id, version) DO NOTHING",
        )
        .bind(version)
        .bind(now)
        .bind(project.0)
        .execute()
        .await?;
        tx.query(
            "INSERT INTO release_projects (release_id, project_id) \
             SELECT r.id, p.id FROM releases r JOIN projects p ON p.org_id = r.org_id \
             WHERE p.id = ? AND r.version = ? ON CONFLICT DO NOTHING",
        )
        .bind(project.0)
        .bind(version)
        .execute()
        .await?;
    }
    for &(project, first) in &batch.first_events {
        tx.query("UPDATE projects SET first_event = ? WHERE id = ? AND first_event IS NULL")
            .bind(first)
            .bind(project.0)
            .execute()
            .await?;
    }
    tx.commit().await?;
    Ok(batch.outcomes)
}

/// Earlier batches' outcomes for the event ids of `events`.
async fn earlier_deliveries(tx: &mut Tx, events: &[GroupedEvent]) -> Result<Earlier> {
    let mut earlier = Earlier::new();
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let mut select = tx.query(
            "SELECT project_id, event_id, group_id, is_new, regression, reappeared \
             FROM seen_events \
             WHERE (project_id, event_id) IN (VALUES ",
        );
        select.push_rows(chunk, |q, event| {
            q.push_bind(event.project_id.0)
                .push(", ")
                .push_bind(event.event_id.to_string());
        });
        select.push(")");
        for row in select.fetch_all().await? {
            let event_id: String = row.get(1)?;
            let event_id = event_id
                .parse()
                .map_err(|e| StorageError::Corrupt(format!("event id {event_id}: {e}")))?;
            let outcome = RecordOutcome {
                group_id: GroupId(row.get(2)?),
                duplicate: true,
                new_group: row.get(3)?,
                regression: row.get(4)?,
                reappeared: row.get(5)?,
            };
            earlier.insert((ProjectId(row.get(0)?), event_id), outcome);
        }
    }
    Ok(earlier)
}

/// The issue of each event in `firsts` (one per project and hash), created
/// from it, in order, where there is none yet.
async fn find_or_create_issues(
    tx: &mut Tx,
    firsts: &[&GroupedEvent],
    now: DateTime<Utc>,
) -> Result<Vec<IssueState>> {
    let mut existing: HashMap<(ProjectId, String), IssueState> = HashMap::new();
    for chunk in firsts.chunks(ROWS_PER_STATEMENT) {
        let mut select = tx.query(
            "SELECT id, project_id, hash, status, count, user_count, snooze_until, snooze_count, \
             snooze_users FROM issues WHERE (project_id, hash) IN (VALUES ",
        );
        select.push_rows(chunk, |q, event| {
            q.push_bind(event.project_id.0)
                .push(", ")
                .push_bind(event.hash.as_str());
        });
        select.push(")");
        for row in select.fetch_all().await? {
            let status: String = row.get("status")?;
            // A snooze runs out at its time, or once the issue has reached
            // its count or user count (the event at hand counted).
            let until: Option<i64> = row.get("snooze_until")?;
            let count: Option<i64> = row.get("snooze_count")?;
            let users: Option<i64> = row.get("snooze_users")?;
            let reappears = status == GroupStatus::Ignored.as_str()
                && (until.is_some_and(|t| t <= to_millis(now))
                    || count.is_some_and(|c| row.get::<i64>("count").is_ok_and(|n| n + 1 >= c))
                    || users.is_some_and(|u| row.get::<i64>("user_count").is_ok_and(|n| n >= u)));
            let state = IssueState {
                group_id: GroupId(row.get("id")?),
                was_resolved: status == GroupStatus::Resolved.as_str(),
                reappears,
                created: false,
            };
            existing.insert((ProjectId(row.get("project_id")?), row.get("hash")?), state);
        }
    }
    let mut states = Vec::with_capacity(firsts.len());
    for &event in firsts {
        let state = match existing.get(&(event.project_id, event.hash.clone())) {
            Some(&state) => state,
            None => IssueState {
                group_id: create_issue(tx, event).await?,
                was_resolved: false,
                reappears: false,
                created: true,
            },
        };
        states.push(state);
    }
    Ok(states)
}

/// A new issue from its first event; its counters start at zero and the
/// batch's UPDATE counts it like the others.
async fn create_issue(tx: &mut Tx, event: &GroupedEvent) -> Result<GroupId> {
    let short_id: i64 = tx
        .query(
            "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = ? \
             RETURNING next_short_id",
        )
        .bind(event.project_id.0)
        .fetch_scalar()
        .await?
        .ok_or(StorageError::NotFound)?;
    let ts = to_millis(event.timestamp);
    let id: i64 = tx
        .query(
            "INSERT INTO issues (project_id, hash, short_id, title, culprit, level, status, \
             substatus, event_type, platform, metadata, count, user_count, first_seen, last_seen, \
             first_release) \
             VALUES (?, ?, ?, ?, ?, ?, 'unresolved', 'new', ?, ?, ?, 0, 0, ?, ?, ?) RETURNING id",
        )
        .bind(event.project_id.0)
        .bind(event.hash.as_str())
        .bind(short_id)
        .bind(event.title.as_str())
        .bind(event.culprit.as_str())
        .bind(event.level.as_str())
        .bind(event.event_type.as_str())
        .bind(event.platform.as_str())
        .bind(event.metadata.to_string())
        .bind(ts)
        .bind(ts)
        .bind(event.release.as_deref())
        .fetch_one()
        .await?
        .get(0)?;
    Ok(GroupId(id))
}

pub(super) async fn by_id(pools: &Pools, id: GroupId) -> Result<Option<Group>> {
    let row = pools
        .read("SELECT * FROM issues WHERE id = ?")
        .bind(id.0)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::group).transpose()
}

pub(super) async fn by_hash(
    pools: &Pools,
    project: ProjectId,
    hash: &str,
) -> Result<Option<Group>> {
    let row = pools
        .read("SELECT * FROM issues WHERE project_id = ? AND hash = ?")
        .bind(project.0)
        .bind(hash)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::group).transpose()
}

pub(super) async fn by_short_id(
    pools: &Pools,
    project: ProjectId,
    short_id: i64,
) -> Result<Option<Group>> {
    let row = pools
        .read("SELECT * FROM issues WHERE project_id = ? AND short_id = ?")
        .bind(project.0)
        .bind(short_id)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::group).transpose()
}

/// `%term%` for LIKE, with the term's own wildcards taken literally.
fn contains_pattern(term: &str) -> String {
    format!(
        "%{}%",
        term.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

pub(super) async fn list(pools: &Pools, query: &GroupQuery) -> Result<Vec<Group>> {
    if query.matches_nothing() {
        return Ok(Vec::new());
    }
    let mut sql = pools.read("SELECT * FROM issues");
    push_page(&mut sql, query);
    let found = sql.fetch_all().await?;
    rows::all(&found, rows::group)
}

/// How many issues [`list`] would return, without reading them: the page
/// is only counted, in the database.
pub(super) async fn count(pools: &Pools, query: &GroupQuery) -> Result<usize> {
    if query.matches_nothing() {
        return Ok(0);
    }
    let mut sql = pools.read("SELECT COUNT(*) FROM (SELECT id FROM issues");
    push_page(&mut sql, query);
    sql.push(") AS page");
    let count: Option<i64> = sql.fetch_scalar().await?;
    Ok(usize::try_from(count.unwrap_or(0)).unwrap_or(0))
}

/// The WHERE, ORDER BY, LIMIT and OFFSET of `query`.
fn push_page(sql: &mut Query<'_, '_>, query: &GroupQuery) {
    let like = sql.dialect().like_ignoring_case();
    sql.push(" WHERE project_id IN ");
    sql.push_list(query.project_ids.iter().map(|p| p.0));
    if !query.statuses.is_empty() {
        sql.push(" AND status IN ");
        sql.push_list(query.statuses.iter().map(|s| s.as_str()));
    }
    if !query.levels.is_empty() {
        sql.push(" AND level IN ");
        sql.push_list(query.levels.iter().map(|l| l.as_str()));
    }
    for term in &query.text {
        let pattern = contains_pattern(term);
        sql.push(&format!(" AND (title {like} "))
            .push_bind(pattern.clone())
            .push(&format!(" ESCAPE '\\' OR culprit {like} "))
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(ids) = &query.group_ids {
        sql.push(" AND id IN ");
        sql.push_list(ids.iter().map(|id| id.0));
    }
    match query.assigned {
        Some(true) => {
            sql.push(" AND assignee_id IS NOT NULL");
        }
        Some(false) => {
            sql.push(" AND assignee_id IS NULL");
        }
        None => {}
    }
    if let Some(after) = query.last_seen_after {
        sql.push(" AND last_seen >= ").push_bind(to_millis(after));
    }
    if let Some(release) = &query.first_release {
        sql.push(" AND first_release = ").push_bind(release.clone());
    }
    sql.push(match query.sort {
        GroupSort::LastSeen => " ORDER BY last_seen DESC, id DESC",
        GroupSort::FirstSeen => " ORDER BY first_seen DESC, id DESC",
        GroupSort::Events => " ORDER BY count DESC, id DESC",
        GroupSort::Users => " ORDER BY user_count DESC, id DESC",
    });
    sql.push(" LIMIT ").push_bind(query.limit as i64);
    sql.push(" OFFSET ").push_bind(query.offset as i64);
}

pub(super) async fn set_status(pools: &Pools, ids: &[GroupId], status: GroupStatus) -> Result<()> {
    let (resolved_at, substatus) = match status {
        GroupStatus::Resolved => (Some(to_millis(Utc::now())), None),
        GroupStatus::Unresolved => (None, Some("ongoing")),
        GroupStatus::Ignored => (None, Some("archived_forever")),
    };
    let mut tx = pools.begin().await?;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut update = tx
            .query(
                "UPDATE issues SET status = ?, resolved_at = ?, substatus = ?, \
                 snooze_until = NULL, snooze_count = NULL, snooze_users = NULL WHERE id IN ",
            )
            .bind(status.as_str())
            .bind(resolved_at)
            .bind(substatus);
        update.push_list(chunk.iter().map(|id| id.0));
        update.execute().await?;
    }
    tx.commit().await
}

pub(super) async fn snooze(pools: &Pools, ids: &[GroupId], snooze: &Snooze) -> Result<()> {
    let more = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let (count, users) = (more(snooze.count), more(snooze.user_count));
    let mut tx = pools.begin().await?;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut update = tx
            .query(
                "UPDATE issues SET status = 'ignored', substatus = 'archived_until_condition_met', \
                 resolved_at = NULL, snooze_until = ?, \
                 snooze_count = CASE WHEN ? IS NULL THEN NULL ELSE count + ? END, \
                 snooze_users = CASE WHEN ? IS NULL THEN NULL ELSE user_count + ? END \
                 WHERE id IN ",
            )
            .bind(snooze.until.map(to_millis))
            .bind(count)
            .bind(count)
            .bind(users)
            .bind(users);
        update.push_list(chunk.iter().map(|id| id.0));
        update.execute().await?;
    }
    tx.commit().await
}

pub(super) async fn set_assignee(
    pools: &Pools,
    ids: &[GroupId],
    assignee: Option<UserId>,
) -> Result<()> {
    let mut tx = pools.begin().await?;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut update = tx
            .query("UPDATE issues SET assignee_id = ? WHERE id IN ")
            .bind(assignee.map(|u| u.0));
        update.push_list(chunk.iter().map(|id| id.0));
        update.execute().await?;
    }
    tx.commit().await
}

pub(super) async fn delete_before(pools: &Pools, cutoff: DateTime<Utc>) -> Result<u64> {
    let cutoff = to_millis(cutoff);
    let mut tx = pools.begin().await?;
    for table in ["seen_events", "issue_users"] {
        tx.query(&format!(
            "DELETE FROM {table} WHERE group_id IN (SELECT id FROM issues WHERE last_seen < ?)"
        ))
        .bind(cutoff)
        .execute()
        .await?;
    }
    // The ids of events retention deleted from live issues: their events
    // are gone, so no redelivery can need them.
    tx.query("DELETE FROM seen_events WHERE event_time < ?")
        .bind(cutoff)
        .execute()
        .await?;
    tx.query(super::feedback::delete_before_sql())
        .bind(cutoff)
        .execute()
        .await?;
    let deleted = tx
        .query("DELETE FROM issues WHERE last_seen < ?")
        .bind(cutoff)
        .execute()
        .await?;
    tx.commit().await?;
    pools
        .reclaim(&["issues", "seen_events", "issue_users", "user_reports"])
        .await?;
    Ok(deleted)
}
