//! The Releases pages: the organization's releases (version, projects,
//! new issues, when created and released, the last deploy) and each
//! release's page with the issues first seen in it, its deploys, its
//! commits and the source map files uploaded for it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use faultline_storage::{GroupQuery, GroupSort, Project, Release};

use super::error::{PageError, PageResult};
use super::pages::context;
use super::views::{Nav, render_status};
use crate::WebState;
use crate::ops;
use crate::scopes;
use crate::serialize::iso;

/// Most releases and issues a page lists.
const LIMIT: usize = 100;

pub struct ReleaseRow {
    pub version: String,
    /// The version as a URL path segment.
    pub path: String,
    pub projects: Vec<String>,
    pub status: String,
    pub new_issues: u64,
    pub date_created: String,
    pub date_released: Option<String>,
    pub last_deploy: Option<String>,
    /// When the issues first seen in it had their first and latest events.
    pub first_event: Option<String>,
    pub last_event: Option<String>,
}

#[derive(Template)]
#[template(path = "releases.html")]
pub struct ReleasesPage {
    pub nav: Nav,
    pub releases: Vec<ReleaseRow>,
}

pub struct IssueRow {
    pub id: i64,
    pub title: String,
    pub count: i64,
}

pub struct DeployRow {
    pub environment: String,
    pub name: String,
    pub date_finished: String,
}

pub struct CommitRow {
    pub id: String,
    pub message: String,
    pub author: String,
}

/// A file of a bundle uploaded for the release.
pub struct ArtifactRow {
    pub url: String,
    pub kind: &'static str,
    pub dist: String,
    pub size: u64,
    pub debug_id: String,
}

#[derive(Template)]
#[template(path = "release.html")]
pub struct ReleasePage {
    pub nav: Nav,
    pub release: ReleaseRow,
    pub issues: Vec<IssueRow>,
    pub deploys: Vec<DeployRow>,
    pub commits: Vec<CommitRow>,
    pub artifacts: Vec<ArtifactRow>,
}

fn path_segment(version: &str) -> String {
    percent_encoding::utf8_percent_encode(version, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A release's row, given the organization's projects.
async fn row(
    state: &WebState,
    projects: &[Project],
    release: &Release,
) -> Result<ReleaseRow, PageError> {
    let meta = state.meta.as_ref();
    let (new_issues, first_event, last_event) = meta
        .release_issue_stats(&release.projects, &release.version)
        .await?;
    let deploys = meta.deploys(release.id).await?;
    Ok(ReleaseRow {
        version: release.version.clone(),
        path: path_segment(&release.version),
        projects: projects
            .iter()
            .filter(|p| release.projects.contains(&p.id))
            .map(|p| p.slug.clone())
            .collect(),
        status: release.status.as_str().to_owned(),
        new_issues,
        date_created: iso(release.date_created),
        date_released: release.date_released.map(iso),
        last_deploy: deploys
            .first()
            .map(|d| format!("{} ({})", d.environment, iso(d.date_finished))),
        first_event: first_event.map(iso),
        last_event: last_event.map(iso),
    })
}

/// `GET /organizations/{org}/releases/`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    ctx.member.require(scopes::RELEASES_READ)?;
    let releases = state.meta.releases(ctx.member.org.id, None, LIMIT).await?;
    let projects = state.meta.projects(ctx.member.org.id).await?;
    let mut rows = Vec::with_capacity(releases.len());
    for release in &releases {
        rows.push(row(&state, &projects, release).await?);
    }
    Ok(render_status(
        StatusCode::OK,
        &ReleasesPage {
            nav: ctx.nav,
            releases: rows,
        },
    ))
}

/// `GET /organizations/{org}/releases/{version}/`
pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    let version = percent_encoding::percent_decode_str(&path.1)
        .decode_utf8_lossy()
        .into_owned();
    let meta = state.meta.as_ref();
    let release = ops::releases::get(meta, &ctx.member, &version, None).await?;
    let groups = if release.projects.is_empty() {
        Vec::new()
    } else {
        meta.groups(&GroupQuery {
            project_ids: release.projects.clone(),
            first_release: Some(release.version.clone()),
            sort: GroupSort::FirstSeen,
            limit: LIMIT,
            ..GroupQuery::default()
        })
        .await?
    };
    let deploys = meta.deploys(release.id).await?;
    let commits = meta.release_commits(release.id).await?;
    let mut artifacts = Vec::new();
    for (bundle, files) in state
        .artifacts
        .release_bundles(ctx.member.org.id, &release.version)
        .await?
    {
        artifacts.extend(files.into_iter().map(|f| ArtifactRow {
            url: f.url,
            kind: f.ty.as_str(),
            dist: bundle.dist.clone().unwrap_or_default(),
            size: f.size,
            debug_id: f.debug_id.unwrap_or_default(),
        }));
    }
    Ok(render_status(
        StatusCode::OK,
        &ReleasePage {
            release: row(&state, &meta.projects(ctx.member.org.id).await?, &release).await?,
            issues: groups
                .iter()
                .map(|g| IssueRow {
                    id: g.id.0,
                    title: g.title.clone(),
                    count: g.count,
                })
                .collect(),
            deploys: deploys
                .iter()
                .map(|d| DeployRow {
                    environment: d.environment.clone(),
                    name: d.name.clone().unwrap_or_default(),
                    date_finished: iso(d.date_finished),
                })
                .collect(),
            commits: commits
                .iter()
                .map(|c| CommitRow {
                    id: c.id.chars().take(12).collect(),
                    message: c.message.clone().unwrap_or_default().trim().to_owned(),
                    author: c
                        .author_name
                        .clone()
                        .or_else(|| c.author_email.clone())
                        .unwrap_or_default(),
                })
                .collect(),
            artifacts,
            nav: ctx.nav,
        },
    ))
}
