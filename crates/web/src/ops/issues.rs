//! Triage: an issue's status (one issue, or many at once) and its
//! assignee, who must be a member of the organization.

use faultline_protocol::GroupId;
use faultline_storage::{Group, GroupStatus, MetaStore, Project, Snooze, UserId};

use super::{Member, OpError, OpResult};
use crate::scopes;

/// Sets the status of `ids`, issues the caller found among the member's
/// organization's projects (by search, or with [`of_projects`]).
pub async fn set_status(
    meta: &dyn MetaStore,
    member: &Member,
    ids: &[GroupId],
    status: GroupStatus,
) -> OpResult<()> {
    member.require(scopes::EVENT_WRITE)?;
    if ids.is_empty() {
        return Ok(());
    }
    Ok(meta.set_group_status(ids, status).await?)
}

/// Ignores `ids` until `snooze` runs out (Sentry's "ignore for 30
/// minutes", "until it happens 100 more times").
pub async fn snooze(
    meta: &dyn MetaStore,
    member: &Member,
    ids: &[GroupId],
    snooze: &Snooze,
) -> OpResult<()> {
    member.require(scopes::EVENT_WRITE)?;
    if ids.is_empty() {
        return Ok(());
    }
    Ok(meta.snooze_groups(ids, snooze).await?)
}

/// Those of `ids` that are issues of `projects` (projects of `member`'s
/// organization); other ids are left out, as if they did not exist.
pub async fn of_projects(
    meta: &dyn MetaStore,
    member: &Member,
    projects: &[Project],
    ids: &[i64],
) -> OpResult<Vec<GroupId>> {
    let mut found = Vec::new();
    for id in ids {
        if let Some(group) = meta.group(GroupId(*id)).await?
            && projects
                .iter()
                .any(|p| p.id == group.project_id && p.org_id == member.org.id)
        {
            found.push(group.id);
        }
    }
    Ok(found)
}

/// Assigns `group` (of `project`) to the member Sentry's `assignedTo` names
/// (`"user:3"`, `"3"`, or an email), or unassigns it when `assignee` is
/// empty. Returns the new assignee.
pub async fn assign(
    meta: &dyn MetaStore,
    member: &Member,
    group: &Group,
    project: &Project,
    assignee: &str,
) -> OpResult<Option<UserId>> {
    member.require(scopes::EVENT_WRITE)?;
    if group.project_id != project.id {
        return Err(OpError::NotFound);
    }
    member.check_project(project)?;
    let assignee = assignee.trim();
    let user = if assignee.is_empty() {
        None
    } else {
        let id = assignee.strip_prefix("user:").unwrap_or(assignee);
        let members = meta.members(member.org.id).await?;
        let found = members
            .iter()
            .find(|(u, _)| u.id.0.to_string() == id || u.email.eq_ignore_ascii_case(assignee))
            .map(|(u, _)| u.id);
        match found {
            Some(id) => Some(id),
            None => {
                return Err(OpError::invalid(
                    "assignedTo",
                    format!(
                        "cannot assign to {assignee}: not a member of {}",
                        member.org.slug
                    ),
                ));
            }
        }
    };
    meta.set_assignee(&[group.id], user).await?;
    Ok(user)
}
