//! Projects, their teams and their keys.

use chrono::Utc;
use faultline_protocol::{OrgId, ProjectId};

use super::driver::Pools;
use super::error::conflict;
use super::rows;
use faultline_storage::{KeyUpdate, Project, ProjectKey, Team, UserId};
use faultline_storage::{Result, to_millis};

pub(super) async fn create(
    pools: &Pools,
    org: OrgId,
    slug: &str,
    name: &str,
    platform: Option<&str>,
) -> Result<Project> {
    let row = pools
        .write(
            "INSERT INTO projects (org_id, slug, name, platform, date_created) \
             VALUES (?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(org.0)
        .bind(slug)
        .bind(name)
        .bind(platform)
        .bind(to_millis(Utc::now()))
        .fetch_one()
        .await
        .map_err(conflict("a project with this slug"))?;
    rows::project(&row)
}

pub(super) async fn of_org(pools: &Pools, org: OrgId) -> Result<Vec<Project>> {
    let found = pools
        .read("SELECT * FROM projects WHERE org_id = ? ORDER BY slug")
        .bind(org.0)
        .fetch_all()
        .await?;
    rows::all(&found, rows::project)
}

pub(super) async fn by_slug(pools: &Pools, org: OrgId, slug: &str) -> Result<Option<Project>> {
    let row = pools
        .read("SELECT * FROM projects WHERE org_id = ? AND slug = ?")
        .bind(org.0)
        .bind(slug)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::project).transpose()
}

pub(super) async fn by_id(pools: &Pools, id: ProjectId) -> Result<Option<Project>> {
    let row = pools
        .read("SELECT * FROM projects WHERE id = ?")
        .bind(id.0)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::project).transpose()
}

pub(super) async fn update(
    pools: &Pools,
    id: ProjectId,
    name: &str,
    platform: Option<&str>,
) -> Result<()> {
    pools
        .write("UPDATE projects SET name = ?, platform = ? WHERE id = ?")
        .bind(name)
        .bind(platform)
        .bind(id.0)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn create_team(pools: &Pools, org: OrgId, slug: &str, name: &str) -> Result<Team> {
    let row = pools
        .write(
            "INSERT INTO teams (org_id, slug, name, date_created) VALUES (?, ?, ?, ?) RETURNING *",
        )
        .bind(org.0)
        .bind(slug)
        .bind(name)
        .bind(to_millis(Utc::now()))
        .fetch_one()
        .await
        .map_err(conflict("a team with this slug"))?;
    rows::team(&row)
}

pub(super) async fn teams(pools: &Pools, org: OrgId) -> Result<Vec<Team>> {
    let found = pools
        .read("SELECT * FROM teams WHERE org_id = ? ORDER BY slug")
        .bind(org.0)
        .fetch_all()
        .await?;
    rows::all(&found, rows::team)
}

pub(super) async fn team_by_slug(pools: &Pools, org: OrgId, slug: &str) -> Result<Option<Team>> {
    let row = pools
        .read("SELECT * FROM teams WHERE org_id = ? AND slug = ?")
        .bind(org.0)
        .bind(slug)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::team).transpose()
}

pub(super) async fn add_to_team(pools: &Pools, team: i64, project: ProjectId) -> Result<()> {
    pools
        .write(
            "INSERT INTO project_teams (project_id, team_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(project.0)
        .bind(team)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn of_team(pools: &Pools, team: i64) -> Result<Vec<Project>> {
    let found = pools
        .read(
            "SELECT p.* FROM projects p JOIN project_teams t ON t.project_id = p.id \
             WHERE t.team_id = ? ORDER BY p.slug",
        )
        .bind(team)
        .fetch_all()
        .await?;
    rows::all(&found, rows::project)
}

pub(super) async fn teams_of(pools: &Pools, project: ProjectId) -> Result<Vec<Team>> {
    let found = pools
        .read(
            "SELECT t.* FROM teams t JOIN project_teams p ON p.team_id = t.id \
             WHERE p.project_id = ? ORDER BY t.slug",
        )
        .bind(project.0)
        .fetch_all()
        .await?;
    rows::all(&found, rows::team)
}

pub(super) async fn add_team_member(pools: &Pools, team: i64, user: UserId) -> Result<()> {
    pools
        .write("INSERT INTO team_members (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(team)
        .bind(user.0)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn remove_team_member(pools: &Pools, team: i64, user: UserId) -> Result<()> {
    pools
        .write("DELETE FROM team_members WHERE team_id = ? AND user_id = ?")
        .bind(team)
        .bind(user.0)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn team_members(pools: &Pools, team: i64) -> Result<Vec<UserId>> {
    let found = pools
        .read("SELECT user_id FROM team_members WHERE team_id = ? ORDER BY user_id")
        .bind(team)
        .fetch_all()
        .await?;
    found
        .iter()
        .map(|r| Ok(UserId(r.get("user_id")?)))
        .collect()
}

/// A project key part: 32 hex digits from a v4 UUID's 122 random bits.
fn random_hex_key() -> String {
    faultline_protocol::EventId::new_random().to_string()
}

pub(super) async fn create_key(
    pools: &Pools,
    project: ProjectId,
    label: &str,
) -> Result<ProjectKey> {
    let row = pools
        .write(
            "INSERT INTO project_keys (project_id, label, public_key, secret_key, date_created) \
             VALUES (?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(project.0)
        .bind(label)
        .bind(random_hex_key())
        .bind(random_hex_key())
        .bind(to_millis(Utc::now()))
        .fetch_one()
        .await?;
    rows::key(&row)
}

pub(super) async fn keys(pools: &Pools, project: ProjectId) -> Result<Vec<ProjectKey>> {
    let found = pools
        .read("SELECT * FROM project_keys WHERE project_id = ? ORDER BY id")
        .bind(project.0)
        .fetch_all()
        .await?;
    rows::all(&found, rows::key)
}

pub(super) async fn key_by_public(pools: &Pools, public_key: &str) -> Result<Option<ProjectKey>> {
    let row = pools
        .read("SELECT * FROM project_keys WHERE public_key = ?")
        .bind(public_key)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::key).transpose()
}

pub(super) async fn update_key(
    pools: &Pools,
    key_id: i64,
    update: &KeyUpdate,
) -> Result<ProjectKey> {
    let (limit_set, count, window) = match update.rate_limit {
        None => (false, None, None),
        Some(None) => (true, None, None),
        Some(Some((count, window))) => (true, Some(count), Some(window)),
    };
    let row = pools
        .write(
            "UPDATE project_keys SET label = COALESCE(?, label), \
             is_active = COALESCE(?, is_active), \
             rate_limit_count = CASE WHEN ? THEN ? ELSE rate_limit_count END, \
             rate_limit_window = CASE WHEN ? THEN ? ELSE rate_limit_window END \
             WHERE id = ? RETURNING *",
        )
        .bind(update.label.as_deref())
        .bind(update.is_active)
        .bind(limit_set)
        .bind(count)
        .bind(limit_set)
        .bind(window)
        .bind(key_id)
        .fetch_one()
        .await?;
    rows::key(&row)
}
