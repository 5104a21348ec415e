//! Teams: creating one (projects are created under a team).

use faultline_storage::{MetaStore, Team};

use super::{Member, OpResult, conflict, slug_of};
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
    meta.create_team(member.org.id, &slug, name)
        .await
        .map_err(|e| conflict(e, || format!("a team with the slug {slug} already exists")))
}
