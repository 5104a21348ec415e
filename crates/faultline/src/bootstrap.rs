//! First-run set-up of a devserver: an admin, an organization, a project and
//! its DSN, so a newcomer can send events right away.

use faultline_storage::{AlertStore, MetaStore, Organization, Project, ProjectKey, Role};
use faultline_web::password::{generate_password, hash_password};

pub const ADMIN_EMAIL: &str = "admin@faultline.local";
pub const ORG_SLUG: &str = "faultline";
pub const PROJECT_SLUG: &str = "default";
const BOOTSTRAPPED: &str = "devserver.bootstrapped";

pub struct FirstRun {
    pub password: String,
}

pub struct Defaults {
    pub organization: Organization,
    pub project: Project,
    pub key: ProjectKey,
    pub first_run: Option<FirstRun>,
}

/// The organization `faultline` with its team and the project `default`
/// with a key, created if missing. `faultline upgrade` runs this on a fresh
/// install, as Sentry's migrations create its default organization; users
/// come from `createuser` then.
pub async fn ensure_organization(
    meta: &dyn MetaStore,
    alerts: &dyn AlertStore,
) -> anyhow::Result<Organization> {
    let org = match meta.organization_by_slug(ORG_SLUG).await? {
        Some(org) => org,
        None => meta.create_organization(ORG_SLUG, "Faultline").await?,
    };
    // Like self-hosted Sentry, the organization starts with a team of the
    // same name that owns the first project.
    let team = match meta.team_by_slug(org.id, ORG_SLUG).await? {
        Some(team) => team,
        None => meta.create_team(org.id, ORG_SLUG, "Faultline").await?,
    };
    if meta.project_by_slug(org.id, PROJECT_SLUG).await?.is_none() {
        let project = meta
            .create_project(org.id, PROJECT_SLUG, "Default", None)
            .await?;
        meta.create_key(project.id, "Default").await?;
        meta.add_project_to_team(team.id, project.id).await?;
        faultline_web::ops::rules::create_default(alerts, &project).await?;
    }
    Ok(org)
}

pub async fn ensure_defaults(
    meta: &dyn MetaStore,
    alerts: &dyn AlertStore,
) -> anyhow::Result<Defaults> {
    let mut first_run = None;
    if meta.setting(BOOTSTRAPPED).await?.is_none() {
        let password = generate_password();
        let admin = match meta.user_by_email(ADMIN_EMAIL).await? {
            Some(user) => user,
            None => {
                meta.create_user(ADMIN_EMAIL, Some(&hash_password(&password)), true)
                    .await?
            }
        };
        let org = ensure_organization(meta, alerts).await?;
        meta.add_member(org.id, admin.id, Role::Owner).await?;
        meta.set_setting(BOOTSTRAPPED, "1").await?;
        first_run = Some(FirstRun { password });
    }
    let organization = meta
        .organization_by_slug(ORG_SLUG)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the default organization `{ORG_SLUG}` is missing"))?;
    let project = meta
        .project_by_slug(organization.id, PROJECT_SLUG)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the default project `{PROJECT_SLUG}` is missing"))?;
    let key = meta
        .keys(project.id)
        .await?
        .into_iter()
        .find(|k| k.is_active)
        .ok_or_else(|| anyhow::anyhow!("the default project has no active key"))?;
    Ok(Defaults {
        organization,
        project,
        key,
        first_run,
    })
}
