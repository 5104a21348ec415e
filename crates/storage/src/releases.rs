//! Releases as Sentry keeps them: a version of an organization's code,
//! in some of its projects, with when it was started and released, its
//! commits and its deploys.

use chrono::{DateTime, Utc};
use faultline_protocol::{OrgId, ProjectId};

/// Sentry's longest version.
pub const MAX_VERSION: usize = 200;

/// A version as Sentry accepts it: 1 to 200 characters, no `/`, `\`,
/// line breaks, tabs or surrounding spaces, not `.`, `..` or `latest`.
/// Events naming another are not made releases.
pub fn is_valid_version(version: &str) -> bool {
    !(version.is_empty()
        || version.chars().count() > MAX_VERSION
        || version
            .chars()
            .any(|c| matches!(c, '/' | '\\') || c.is_control())
        || matches!(version, "." | ".." | "latest")
        || version.trim() != version)
}

/// Whether a release is listed (Sentry's `open`) or archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    Open,
    Archived,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Open => "open",
            ReleaseStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ReleaseStatus::Open),
            "archived" => Some(ReleaseStatus::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: i64,
    pub org_id: OrgId,
    pub version: String,
    pub reference: Option<String>,
    pub url: Option<String>,
    pub status: ReleaseStatus,
    pub date_created: DateTime<Utc>,
    pub date_started: Option<DateTime<Utc>>,
    pub date_released: Option<DateTime<Utc>>,
    /// The projects it is in, by id.
    pub projects: Vec<ProjectId>,
}

/// What a create-or-update (Sentry's `POST …/releases/`) or an update
/// (`PUT …/releases/{version}/`) sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ReleaseChange {
    pub reference: Option<String>,
    pub url: Option<String>,
    pub status: Option<ReleaseStatus>,
    pub date_started: Option<DateTime<Utc>>,
    pub date_released: Option<DateTime<Utc>>,
    /// Projects to add the release to (never removed, as in Sentry).
    pub projects: Vec<ProjectId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    pub id: i64,
    pub release_id: i64,
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<DateTime<Utc>>,
    pub date_finished: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewDeploy {
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<DateTime<Utc>>,
    pub date_finished: Option<DateTime<Utc>>,
}

/// A commit of a release, as `sentry-cli releases set-commits` sends it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Commit {
    pub id: String,
    pub repository: Option<String>,
    pub message: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}
