//! Releases and deploys as sentry-cli drives them: create-or-update (with
//! Sentry's version rules), finalize, archive and restore, commits, deploys
//! and deletion (refused while issues were first seen in the release).

use chrono::{DateTime, Utc};
use faultline_storage::{
    Commit, Deploy, MetaStore, NewDeploy, Project, Release, ReleaseChange, ReleaseStatus,
};
use serde_json::Value;

use super::{Member, OpError, OpResult};
use crate::scopes;

pub use faultline_storage::releases::MAX_VERSION;
/// Most commits kept for a release (sentry-cli sends at most a few hundred).
pub const MAX_COMMITS: usize = 1000;
/// Longest environment name, as Sentry's.
const MAX_ENVIRONMENT: usize = 64;
/// Longest ref, URL, deploy name or commit field kept.
const MAX_TEXT: usize = 2048;

/// A version as Sentry accepts it: 1 to 200 characters, no `/`, `\`, line
/// breaks or tabs, not `.`, `..`, ` ` or `latest`.
pub fn check_version(version: &str) -> OpResult<()> {
    if !faultline_storage::is_valid_version(version) {
        return Err(OpError::invalid(
            "version",
            format!(
                "Release with name {version:?} is not allowed: 1 to {MAX_VERSION} characters, no slashes, line breaks or surrounding spaces, not latest"
            ),
        ));
    }
    Ok(())
}

fn text(body: &Value, key: &str) -> OpResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Ok(Some(s.clone())),
        Some(_) => Err(OpError::invalid(
            "body",
            format!("{key} must be a string of at most {MAX_TEXT} bytes"),
        )),
    }
}

fn time(body: &Value, key: &str) -> OpResult<Option<DateTime<Utc>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| OpError::invalid("body", format!("{key} is not an ISO 8601 time"))),
        Some(_) => Err(OpError::invalid("body", format!("{key} is not a time"))),
    }
}

/// The projects a body's `projects` names (slugs of the organization),
/// plus `always` (the project of a project-scoped endpoint).
async fn projects_of(
    meta: &dyn MetaStore,
    member: &Member,
    body: &Value,
    always: Option<&Project>,
) -> OpResult<Vec<Project>> {
    let mut out: Vec<Project> = always.into_iter().cloned().collect();
    let Some(slugs) = body.get("projects") else {
        return Ok(out);
    };
    let slugs = slugs
        .as_array()
        .ok_or_else(|| OpError::invalid("projects", "projects is a list of project slugs"))?;
    for slug in slugs {
        let slug = slug.as_str().unwrap_or("");
        let project = meta
            .project_by_slug(member.org.id, slug)
            .await?
            .ok_or_else(|| OpError::invalid("projects", "Invalid project slugs"))?;
        if !out.iter().any(|p| p.id == project.id) {
            out.push(project);
        }
    }
    Ok(out)
}

fn status(body: &Value) -> OpResult<Option<ReleaseStatus>> {
    match body.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(ReleaseStatus::parse)
            .map(Some)
            .ok_or_else(|| OpError::invalid("status", "status is open or archived")),
    }
}

/// The commits of a body (sentry-cli's `set-commits`), checked.
fn commits(body: &Value) -> OpResult<Option<Vec<Commit>>> {
    let Some(list) = body.get("commits").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .filter(|l| l.len() <= MAX_COMMITS)
        .ok_or_else(|| {
            OpError::invalid(
                "commits",
                format!("commits is a list of at most {MAX_COMMITS}"),
            )
        })?;
    let mut out = Vec::with_capacity(list.len());
    for commit in list {
        let id = text(commit, "id")?
            .filter(|id| !id.is_empty())
            .ok_or_else(|| OpError::invalid("commits", "every commit has an id"))?;
        out.push(Commit {
            id,
            repository: text(commit, "repository")?,
            message: text(commit, "message")?,
            author_name: text(commit, "author_name")?,
            author_email: text(commit, "author_email")?,
            timestamp: time(commit, "timestamp")?,
        });
    }
    Ok(Some(out))
}

/// Sentry's `POST …/releases/`: creates the release or updates the one of
/// that version; returns it and whether it is new.
pub async fn upsert(
    meta: &dyn MetaStore,
    member: &Member,
    body: &Value,
    project: Option<&Project>,
) -> OpResult<(Release, bool)> {
    member.require(scopes::RELEASES_WRITE)?;
    let version = body
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| OpError::invalid("version", "This field is required."))?;
    check_version(version)?;
    apply(meta, member, version, body, project).await
}

/// Applies a body's fields (`ref`, `url`, `status`, `dateStarted`,
/// `dateReleased`, `projects` added, `commits` replaced) to the release
/// `version`, creating it if need be, all checked before anything is
/// written.
async fn apply(
    meta: &dyn MetaStore,
    member: &Member,
    version: &str,
    body: &Value,
    project: Option<&Project>,
) -> OpResult<(Release, bool)> {
    let projects = projects_of(meta, member, body, project).await?;
    let change = ReleaseChange {
        reference: text(body, "ref")?,
        url: text(body, "url")?,
        status: status(body)?,
        date_started: time(body, "dateStarted")?,
        date_released: time(body, "dateReleased")?,
        projects: projects.iter().map(|p| p.id).collect(),
    };
    let commits = commits(body)?;
    let (release, created) = meta.upsert_release(member.org.id, version, &change).await?;
    if let Some(commits) = commits {
        meta.set_release_commits(release.id, &commits).await?;
    }
    Ok((release, created))
}

/// The release `version` of the member's organization (of `project`, when
/// the endpoint is the project's).
pub async fn get(
    meta: &dyn MetaStore,
    member: &Member,
    version: &str,
    project: Option<&Project>,
) -> OpResult<Release> {
    member.require(scopes::RELEASES_READ)?;
    let release = meta
        .release(member.org.id, version)
        .await?
        .ok_or(OpError::NotFound)?;
    if project.is_some_and(|p| !release.projects.contains(&p.id)) {
        return Err(OpError::NotFound);
    }
    Ok(release)
}

/// Sentry's `PUT …/releases/{version}/`: `ref`, `url`, `dateReleased`
/// (finalize), `status`, `projects` (added), `commits` (replaced).
pub async fn update(
    meta: &dyn MetaStore,
    member: &Member,
    version: &str,
    body: &Value,
    project: Option<&Project>,
) -> OpResult<Release> {
    member.require(scopes::RELEASES_WRITE)?;
    let release = get(meta, member, version, project).await?;
    Ok(apply(meta, member, &release.version, body, None).await?.0)
}

/// Deletes a release, unless issues were first seen in it (Sentry refuses
/// that too).
pub async fn delete(
    meta: &dyn MetaStore,
    member: &Member,
    version: &str,
    project: Option<&Project>,
) -> OpResult<()> {
    member.require(scopes::RELEASES_WRITE)?;
    let release = get(meta, member, version, project).await?;
    let (issues, _, _) = meta
        .release_issue_stats(&release.projects, &release.version)
        .await?;
    if issues > 0 {
        return Err(OpError::invalid(
            "version",
            "This release is referenced by active issues and cannot be removed.",
        ));
    }
    Ok(meta.delete_release(member.org.id, &release.version).await?)
}

/// Sentry's `POST …/releases/{version}/deploys/`.
pub async fn create_deploy(
    meta: &dyn MetaStore,
    member: &Member,
    version: &str,
    body: &Value,
) -> OpResult<Deploy> {
    member.require(scopes::RELEASES_WRITE)?;
    let release = get(meta, member, version, None).await?;
    let environment = text(body, "environment")?
        .filter(|e| {
            !e.is_empty()
                && e.chars().count() <= MAX_ENVIRONMENT
                && !e.chars().any(|c| c == '/' || c.is_control())
        })
        .ok_or_else(|| {
            OpError::invalid(
                "environment",
                format!("an environment of 1 to {MAX_ENVIRONMENT} characters, without slashes"),
            )
        })?;
    let deploy = NewDeploy {
        environment,
        name: text(body, "name")?,
        url: text(body, "url")?,
        date_started: time(body, "dateStarted")?,
        date_finished: time(body, "dateFinished")?,
    };
    Ok(meta.create_deploy(release.id, &deploy).await?)
}
