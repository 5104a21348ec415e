//! Result rows as model values. Both schemas name their columns alike, and
//! timestamps are milliseconds since the epoch in both.

use faultline_protocol::{GroupId, Level, OrgId, ProjectId};

use super::driver::Row;
use faultline_storage::*;
use faultline_storage::{Result, StorageError, from_millis};

pub(crate) fn user(row: &Row) -> Result<User> {
    Ok(User {
        id: UserId(row.get("id")?),
        email: row.get("email")?,
        name: row.get("name")?,
        password_hash: row.get("password_hash")?,
        is_superuser: row.get("is_superuser")?,
        is_active: row.get("is_active")?,
        date_joined: from_millis(row.get("date_joined")?),
        timezone: row.get("timezone")?,
    })
}

pub(crate) fn organization(row: &Row) -> Result<Organization> {
    Ok(Organization {
        id: OrgId(row.get("id")?),
        slug: row.get("slug")?,
        name: row.get("name")?,
        date_created: from_millis(row.get("date_created")?),
    })
}

/// A role as stored; one this code does not know reads as the least one.
pub(crate) fn role(stored: &str) -> Role {
    Role::parse(stored).unwrap_or(Role::Member)
}

pub(crate) fn invite(row: &Row) -> Result<Invite> {
    Ok(Invite {
        org_id: OrgId(row.get("org_id")?),
        email: row.get("email")?,
        role: role(&row.get::<String>("role")?),
        invited_by: UserId(row.get("invited_by")?),
        expires: from_millis(row.get("expires")?),
    })
}

pub(crate) fn team(row: &Row) -> Result<Team> {
    Ok(Team {
        id: row.get("id")?,
        org_id: OrgId(row.get("org_id")?),
        slug: row.get("slug")?,
        name: row.get("name")?,
        date_created: from_millis(row.get("date_created")?),
    })
}

pub(crate) fn project(row: &Row) -> Result<Project> {
    Ok(Project {
        id: ProjectId(row.get("id")?),
        org_id: OrgId(row.get("org_id")?),
        slug: row.get("slug")?,
        name: row.get("name")?,
        platform: row.get("platform")?,
        date_created: from_millis(row.get("date_created")?),
        first_event: row.get::<Option<i64>>("first_event")?.map(from_millis),
    })
}

pub(crate) fn key(row: &Row) -> Result<ProjectKey> {
    Ok(ProjectKey {
        id: row.get("id")?,
        project_id: ProjectId(row.get("project_id")?),
        label: row.get("label")?,
        public_key: row.get("public_key")?,
        secret_key: row.get("secret_key")?,
        is_active: row.get("is_active")?,
        rate_limit_count: row.get("rate_limit_count")?,
        rate_limit_window: row.get("rate_limit_window")?,
        date_created: from_millis(row.get("date_created")?),
    })
}

/// A token's scopes are stored as one space-separated string.
pub(crate) fn scopes(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

pub(crate) fn group(row: &Row) -> Result<Group> {
    let level: String = row.get("level")?;
    let status: String = row.get("status")?;
    let metadata: String = row.get("metadata")?;
    Ok(Group {
        id: GroupId(row.get("id")?),
        project_id: ProjectId(row.get("project_id")?),
        short_id: row.get("short_id")?,
        title: row.get("title")?,
        culprit: row.get("culprit")?,
        level: Level::parse(&level)
            .ok_or_else(|| StorageError::Corrupt(format!("level {level}")))?,
        status: GroupStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("status {status}")))?,
        substatus: row.get("substatus")?,
        event_type: row.get("event_type")?,
        platform: row.get("platform")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        count: row.get("count")?,
        user_count: row.get("user_count")?,
        first_seen: from_millis(row.get("first_seen")?),
        last_seen: from_millis(row.get("last_seen")?),
        first_release: row.get("first_release")?,
        last_release: row.get("last_release")?,
        resolved_at: row.get::<Option<i64>>("resolved_at")?.map(from_millis),
        assignee: row.get::<Option<i64>>("assignee_id")?.map(UserId),
    })
}

/// Maps every row, stopping at the first that does not map.
pub(crate) fn all<T>(rows: &[Row], map: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(map).collect()
}
