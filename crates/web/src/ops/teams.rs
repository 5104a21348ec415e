//! Teams: creating one (projects are created under a team), and who is on
//! it (a rule that emails a team emails them).

use faultline_storage::{MetaStore, Team, User, UserId};

use super::{Member, OpError, OpResult, conflict, slug_of};
use crate::names;
use crate::scopes;

/// A new team. Sentry's API takes a name or a slug: a missing (or empty)
/// name is the slug, and a missing slug is made from the name.
pub async fn create(
    meta: &dyn MetaStore,
    member: &Member,
    name: Option<&str>,
    slug: Option<&str>,
) -> OpResult<Team> {
    member.require(scopes::TEAM_CREATE)?;
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or(slug)
        .unwrap_or("");
    let name = names::name("team", name)?;
    let slug = slug_of("team", name, slug)?;
    let team = meta
        .create_team(member.org.id, &slug, name)
        .await
        .map_err(|e| conflict(e, || format!("a team with the slug {slug} already exists")))?;
    // As in Sentry, whoever creates a team is on it.
    meta.add_team_member(team.id, member.user.id).await?;
    Ok(team)
}

/// The team `slug` of the member's organization.
pub async fn find(meta: &dyn MetaStore, member: &Member, slug: &str) -> OpResult<Team> {
    member.require(scopes::TEAM_READ)?;
    meta.team_by_slug(member.org.id, slug)
        .await?
        .ok_or(OpError::NotFound)
}

/// The team's members (still members of the organization), by email.
pub async fn members(meta: &dyn MetaStore, member: &Member, team: &Team) -> OpResult<Vec<User>> {
    member.require(scopes::TEAM_READ)?;
    let on_team = meta.team_members(team.id).await?;
    let mut users: Vec<User> = meta
        .members(member.org.id)
        .await?
        .into_iter()
        .map(|(user, _)| user)
        .filter(|u| on_team.contains(&u.id))
        .collect();
    users.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(users)
}

/// Puts the organization member `user` on the team, or takes them off:
/// anyone may join or leave themselves (Sentry's open membership); moving
/// someone else takes `team:write` (admins).
pub async fn set_membership(
    meta: &dyn MetaStore,
    member: &Member,
    team: &Team,
    user: &str,
    on: bool,
) -> OpResult<User> {
    let id: i64 = user.parse().map_err(|_| OpError::NotFound)?;
    let user = meta
        .members(member.org.id)
        .await?
        .into_iter()
        .map(|(user, _)| user)
        .find(|u| u.id == UserId(id))
        .ok_or(OpError::NotFound)?;
    if user.id == member.user.id {
        member.require(scopes::TEAM_READ)?;
    } else {
        member.require(scopes::TEAM_WRITE)?;
    }
    if team.org_id != member.org.id {
        return Err(OpError::NotFound);
    }
    if on {
        meta.add_team_member(team.id, user.id).await?;
    } else {
        meta.remove_team_member(team.id, user.id).await?;
    }
    Ok(user)
}
