//! Releases, their projects, deploys and commits.

use chrono::{DateTime, Utc};
use faultline_protocol::{OrgId, ProjectId};

use super::driver::{Pools, Row, Tx};
use faultline_storage::{
    Commit, Deploy, NewDeploy, Release, ReleaseChange, ReleaseStatus, Result, StorageError,
    from_millis, to_millis,
};

fn release(row: &Row, projects: Vec<ProjectId>) -> Result<Release> {
    let status: String = row.get("status")?;
    Ok(Release {
        id: row.get("id")?,
        org_id: OrgId(row.get("org_id")?),
        version: row.get("version")?,
        reference: row.get("ref")?,
        url: row.get("url")?,
        status: ReleaseStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("release status {status}")))?,
        date_created: from_millis(row.get("date_created")?),
        date_started: row.get::<Option<i64>>("date_started")?.map(from_millis),
        date_released: row.get::<Option<i64>>("date_released")?.map(from_millis),
        projects,
    })
}

async fn projects_of(tx: &mut Tx, release: i64) -> Result<Vec<ProjectId>> {
    let rows = tx
        .query("SELECT project_id FROM release_projects WHERE release_id = ? ORDER BY project_id")
        .bind(release)
        .fetch_all()
        .await?;
    rows.iter().map(|r| Ok(ProjectId(r.get(0)?))).collect()
}

pub(super) async fn upsert(
    pools: &Pools,
    org: OrgId,
    version: &str,
    change: &ReleaseChange,
) -> Result<(Release, bool)> {
    let mut tx = pools.begin().await?;
    let existing: Option<i64> = tx
        .query("SELECT id FROM releases WHERE org_id = ? AND version = ?")
        .bind(org.0)
        .bind(version)
        .fetch_scalar()
        .await?;
    let created = existing.is_none();
    let id = match existing {
        Some(id) => id,
        None => tx
            .query(
                "INSERT INTO releases (org_id, version, status, date_created) VALUES (?, ?, ?, ?) \
                 RETURNING id",
            )
            .bind(org.0)
            .bind(version)
            .bind(ReleaseStatus::Open.as_str())
            .bind(to_millis(Utc::now()))
            .fetch_scalar()
            .await?
            .ok_or(StorageError::NotFound)?,
    };
    tx.query(
        "UPDATE releases SET ref = COALESCE(?, ref), url = COALESCE(?, url), \
         status = COALESCE(?, status), date_started = COALESCE(?, date_started), \
         date_released = COALESCE(?, date_released) WHERE id = ?",
    )
    .bind(change.reference.as_deref())
    .bind(change.url.as_deref())
    .bind(change.status.map(ReleaseStatus::as_str))
    .bind(change.date_started.map(to_millis))
    .bind(change.date_released.map(to_millis))
    .bind(id)
    .execute()
    .await?;
    for project in &change.projects {
        tx.query(
            "INSERT INTO release_projects (release_id, project_id) VALUES (?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(project.0)
        .execute()
        .await?;
    }
    let row = tx
        .query("SELECT * FROM releases WHERE id = ?")
        .bind(id)
        .fetch_one()
        .await?;
    let projects = projects_of(&mut tx, id).await?;
    let found = release(&row, projects)?;
    tx.commit().await?;
    Ok((found, created))
}

pub(super) async fn get(pools: &Pools, org: OrgId, version: &str) -> Result<Option<Release>> {
    let mut tx = pools.begin().await?;
    let row = tx
        .query("SELECT * FROM releases WHERE org_id = ? AND version = ?")
        .bind(org.0)
        .bind(version)
        .fetch_optional()
        .await?;
    let found = match row {
        Some(row) => {
            let id: i64 = row.get("id")?;
            let projects = projects_of(&mut tx, id).await?;
            Some(release(&row, projects)?)
        }
        None => None,
    };
    tx.commit().await?;
    Ok(found)
}

pub(super) async fn list(
    pools: &Pools,
    org: OrgId,
    project: Option<ProjectId>,
    limit: usize,
) -> Result<Vec<Release>> {
    let mut tx = pools.begin().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match project {
        Some(project) => {
            tx.query(
                "SELECT r.* FROM releases r JOIN release_projects p ON p.release_id = r.id \
                 WHERE r.org_id = ? AND p.project_id = ? \
                 ORDER BY r.date_created DESC, r.id DESC LIMIT ?",
            )
            .bind(org.0)
            .bind(project.0)
            .bind(limit)
            .fetch_all()
            .await?
        }
        None => {
            tx.query(
                "SELECT * FROM releases WHERE org_id = ? ORDER BY date_created DESC, id DESC LIMIT ?",
            )
            .bind(org.0)
            .bind(limit)
            .fetch_all()
            .await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.get("id")?;
        let projects = projects_of(&mut tx, id).await?;
        out.push(release(row, projects)?);
    }
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn delete(pools: &Pools, org: OrgId, version: &str) -> Result<()> {
    let deleted = pools
        .write("DELETE FROM releases WHERE org_id = ? AND version = ?")
        .bind(org.0)
        .bind(version)
        .execute()
        .await?;
    if deleted == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

pub(super) async fn set_commits(pools: &Pools, release: i64, commits: &[Commit]) -> Result<()> {
    let mut tx = pools.begin().await?;
    tx.query("DELETE FROM release_commits WHERE release_id = ?")
        .bind(release)
        .execute()
        .await?;
    for (position, commit) in commits.iter().enumerate() {
        tx.query(
            "INSERT INTO release_commits (release_id, position, commit_id, repository, message, \
             author_name, author_email, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(release)
        .bind(position as i64)
        .bind(commit.id.as_str())
        .bind(commit.repository.as_deref())
        .bind(commit.message.as_deref())
        .bind(commit.author_name.as_deref())
        .bind(commit.author_email.as_deref())
        .bind(commit.timestamp.map(to_millis))
        .execute()
        .await?;
    }
    tx.commit().await
}

pub(super) async fn commits(pools: &Pools, release: i64) -> Result<Vec<Commit>> {
    let rows = pools
        .read("SELECT * FROM release_commits WHERE release_id = ? ORDER BY position")
        .bind(release)
        .fetch_all()
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Commit {
                id: r.get("commit_id")?,
                repository: r.get("repository")?,
                message: r.get("message")?,
                author_name: r.get("author_name")?,
                author_email: r.get("author_email")?,
                timestamp: r.get::<Option<i64>>("timestamp")?.map(from_millis),
            })
        })
        .collect()
}

fn deploy(row: &Row) -> Result<Deploy> {
    Ok(Deploy {
        id: row.get("id")?,
        release_id: row.get("release_id")?,
        environment: row.get("environment")?,
        name: row.get("name")?,
        url: row.get("url")?,
        date_started: row.get::<Option<i64>>("date_started")?.map(from_millis),
        date_finished: from_millis(row.get("date_finished")?),
    })
}

pub(super) async fn create_deploy(pools: &Pools, release: i64, new: &NewDeploy) -> Result<Deploy> {
    let finished = new.date_finished.unwrap_or_else(Utc::now);
    let row = pools
        .write(
            "INSERT INTO deploys (release_id, environment, name, url, date_started, date_finished) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(release)
        .bind(new.environment.as_str())
        .bind(new.name.as_deref())
        .bind(new.url.as_deref())
        .bind(new.date_started.map(to_millis))
        .bind(to_millis(finished))
        .fetch_one()
        .await?;
    deploy(&row)
}

pub(super) async fn deploys(pools: &Pools, release: i64) -> Result<Vec<Deploy>> {
    let rows = pools
        .read("SELECT * FROM deploys WHERE release_id = ? ORDER BY date_finished DESC, id DESC")
        .bind(release)
        .fetch_all()
        .await?;
    rows.iter().map(deploy).collect()
}

pub(super) async fn issue_stats(
    pools: &Pools,
    projects: &[ProjectId],
    version: &str,
) -> Result<(u64, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    if projects.is_empty() {
        return Ok((0, None, None));
    }
    let mut select = pools.read(
        "SELECT COUNT(*), MIN(first_seen), MAX(last_seen) FROM issues \
         WHERE first_release = ? AND project_id IN ",
    );
    select = select.bind(version);
    select.push_list(projects.iter().map(|p| p.0));
    let row = select.fetch_one().await?;
    let count: i64 = row.get(0)?;
    let first: Option<i64> = row.get(1)?;
    let last: Option<i64> = row.get(2)?;
    Ok((
        count.max(0) as u64,
        first.map(from_millis),
        last.map(from_millis),
    ))
}
