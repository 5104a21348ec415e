//! Projects: creating one (with its first key, in a team) and changing its
//! name and platform.

use faultline_storage::{AlertStore, MetaStore, Project, Team};

use super::{Member, OpError, OpResult, conflict, slug_of};
use crate::names;
use crate::scopes;

/// What a new project is made of, as the API's body or the dashboard's
/// form gives it.
pub struct NewProject<'a> {
    pub name: &'a str,
    /// Made from the name when absent, as Sentry does.
    pub slug: Option<&'a str>,
    /// Empty or absent: none.
    pub platform: Option<&'a str>,
    /// The team's slug; the project joins no team when absent.
    pub team: Option<&'a str>,
}

/// Creates a project and, as Sentry does, a key named `Default` for it and
/// the default alert rule. Returns the team it joined.
pub async fn create(
    meta: &dyn MetaStore,
    alerts: &dyn AlertStore,
    member: &Member,
    new: &NewProject<'_>,
) -> OpResult<(Project, Option<Team>)> {
    member.require(scopes::PROJECT_WRITE)?;
    let team = match new.team {
        Some(slug) => Some(
            meta.team_by_slug(member.org.id, slug)
                .await?
                .ok_or(OpError::NotFound)?,
        ),
        None => None,
    };
    let name = names::name("project", new.name)?;
    let platform = names::platform(new.platform.unwrap_or(""))?;
    let slug = slug_of("project", name, new.slug)?;
    let project = meta
        .create_project(member.org.id, &slug, name, platform)
        .await
        .map_err(|e| {
            conflict(e, || {
                format!("a project with the slug {slug} already exists")
            })
        })?;
    meta.create_key(project.id, super::keys::DEFAULT_NAME)
        .await?;
    super::rules::create_default(alerts, &project).await?;
    if let Some(team) = &team {
        meta.add_project_to_team(team.id, project.id).await?;
    }
    Ok((project, team))
}

/// Renames a project and sets its platform (empty: none).
pub async fn update(
    meta: &dyn MetaStore,
    member: &Member,
    project: &Project,
    name: &str,
    platform: &str,
) -> OpResult<()> {
    member.require(scopes::PROJECT_WRITE)?;
    member.check_project(project)?;
    let name = names::name("project", name)?;
    let platform = names::platform(platform)?;
    Ok(meta.update_project(project.id, name, platform).await?)
}
