//! Relational metadata: accounts, organizations, projects and their keys,
//! API tokens, and issues (groups) with their counters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, Level, OrgId, ProjectId};
use serde::{Deserialize, Serialize};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub is_superuser: bool,
    pub is_active: bool,
    pub date_joined: DateTime<Utc>,
    /// IANA name the dashboard shows dates in.
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub date_created: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "member" => Role::Member,
            _ => return None,
        })
    }
}

/// Whether a membership change may touch a member who is an owner: only
/// owners change or remove an owner. The store decides this in the same
/// statement as the change, so a role read beforehand cannot go stale (an
/// admin's change racing an owner's promotion of the same person).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChanges {
    /// The actor is an owner: owners may be changed or removed (the
    /// last-owner rule still holds).
    Allowed,
    /// The actor is not an owner: an owner target is refused with
    /// [`crate::StorageError::OwnerOnly`].
    Refused,
}

impl OwnerChanges {
    /// As the guarded SQL binds it.
    pub fn allowed(self) -> bool {
        self == OwnerChanges::Allowed
    }
}

/// A group of members that projects belong to, as in Sentry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub org_id: OrgId,
    pub slug: String,
    pub name: String,
    pub date_created: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    pub date_created: DateTime<Utc>,
    pub first_event: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKey {
    pub id: i64,
    pub project_id: ProjectId,
    pub label: String,
    pub public_key: String,
    pub secret_key: String,
    pub is_active: bool,
    /// Events per `rate_limit_window` seconds; `None` is unlimited.
    pub rate_limit_count: Option<i64>,
    pub rate_limit_window: Option<i64>,
    pub date_created: DateTime<Utc>,
}

/// An invitation to join an organization with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub org_id: OrgId,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub expires: DateTime<Utc>,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: UserId,
    /// Bound to the session: forms must echo it back.
    pub csrf_token: String,
    pub expires: DateTime<Utc>,
}

/// A change to a project key; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    pub label: Option<String>,
    pub is_active: Option<bool>,
    /// `Some(None)` removes the limit; `Some(Some((count, window_seconds)))` sets it.
    pub rate_limit: Option<Option<(i64, i64)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub name: Option<String>,
    pub date_created: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    Unresolved,
    Resolved,
    Ignored,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Unresolved => "unresolved",
            GroupStatus::Resolved => "resolved",
            GroupStatus::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unresolved" => GroupStatus::Unresolved,
            "resolved" => GroupStatus::Resolved,
            "ignored" | "muted" => GroupStatus::Ignored,
            _ => return None,
        })
    }
}

/// An issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub project_id: ProjectId,
    /// Per-project sequence number behind the short id (`PROJECT-1A`).
    pub short_id: i64,
    pub title: String,
    pub culprit: String,
    pub level: Level,
    pub status: GroupStatus,
    /// Sentry's substatus: `new`, `ongoing`, `regressed`, …
    pub substatus: Option<String>,
    pub event_type: String,
    pub platform: String,
    pub metadata: serde_json::Value,
    pub count: i64,
    pub user_count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub first_release: Option<String>,
    /// The release of the newest event.
    pub last_release: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub assignee: Option<UserId>,
}

/// One grouped event, as the ingest-consumer records it.
#[derive(Debug, Clone)]
pub struct GroupedEvent {
    pub project_id: ProjectId,
    pub event_id: EventId,
    pub hash: String,
    pub title: String,
    pub culprit: String,
    pub level: Level,
    pub event_type: String,
    pub platform: String,
    pub metadata: serde_json::Value,
    pub timestamp: DateTime<Utc>,
    pub release: Option<String>,
    /// The "users affected" identity (`id:42`), if the event names a user.
    pub user: Option<String>,
}

/// What recording one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOutcome {
    pub group_id: GroupId,
    /// The event id was already recorded: nothing was counted, and the
    /// flags below are those of the first delivery.
    pub duplicate: bool,
    pub new_group: bool,
    /// A resolved issue was reopened by this event.
    pub regression: bool,
    /// An issue ignored until a time, a count or a number of users came
    /// back with this event.
    pub reappeared: bool,
}

/// What an ignored issue waits for before it comes back (Sentry's
/// snooze); all unset is ignoring forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snooze {
    pub until: Option<DateTime<Utc>>,
    /// This many more events.
    pub count: Option<u64>,
    /// This many more distinct users.
    pub user_count: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupSort {
    #[default]
    LastSeen,
    FirstSeen,
    Events,
    Users,
}

/// Which issues to list. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub project_ids: Vec<ProjectId>,
    pub statuses: Vec<GroupStatus>,
    pub levels: Vec<Level>,
    /// Case-insensitive substring of title or culprit, every term must match.
    pub text: Vec<String>,
    /// `Some(true)`: only assigned issues; `Some(false)`: only unassigned.
    pub assigned: Option<bool>,
    /// Only issues first seen in this release (`firstRelease:`).
    pub first_release: Option<String>,
    /// Restricts to these issues (the result of tag filters on the event store).
    pub group_ids: Option<Vec<GroupId>>,
    pub last_seen_after: Option<DateTime<Utc>>,
    pub sort: GroupSort,
    pub offset: usize,
    pub limit: usize,
}

impl GroupQuery {
    /// No project, or an empty list of issues to restrict to: nothing can
    /// match, and no query needs to run.
    pub fn matches_nothing(&self) -> bool {
        self.project_ids.is_empty() || self.group_ids.as_ref().is_some_and(Vec::is_empty)
    }
}

#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    async fn ping(&self) -> Result<()>;

    // Users and tokens.
    async fn create_user(
        &self,
        email: &str,
        password_hash: Option<&str>,
        is_superuser: bool,
    ) -> Result<User>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<()>;
    async fn count_users(&self) -> Result<i64>;
    /// Stores a token by its hash; the plain token is never stored.
    async fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        scopes: &[String],
        name: Option<&str>,
    ) -> Result<ApiToken>;
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>>;
    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>>;
    /// Deletes one of the user's tokens; another user's token is untouched.
    async fn delete_api_token(&self, user: UserId, token_id: i64) -> Result<()>;
    async fn set_timezone(&self, user: UserId, timezone: &str) -> Result<()>;

    // Organizations and membership.
    async fn create_organization(&self, slug: &str, name: &str) -> Result<Organization>;
    async fn organization_by_slug(&self, slug: &str) -> Result<Option<Organization>>;
    async fn organization_by_id(&self, id: OrgId) -> Result<Option<Organization>>;
    /// Adds `user` with `role` unless already a member, whose role then
    /// stays as it is (joining never demotes or promotes anyone); returns
    /// whether the user was added.
    async fn add_member(&self, org: OrgId, user: UserId, role: Role) -> Result<bool>;
    /// Changes a member's role. `NotFound` for a non-member; `OwnerOnly`
    /// when the member is an owner and `owners` is
    /// [`OwnerChanges::Refused`]; `LastOwner` when it would leave the
    /// organization without an owner. Both are decided in the same
    /// transaction as the change, so concurrent changes cannot slip past
    /// either rule.
    async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        owners: OwnerChanges,
    ) -> Result<()>;
    async fn member_role(&self, org: OrgId, user: UserId) -> Result<Option<Role>>;
    /// Members with their roles, by email.
    async fn members(&self, org: OrgId) -> Result<Vec<(User, Role)>>;
    /// Removes a member: `NotFound`, `OwnerOnly` or `LastOwner` as
    /// [`Self::set_member_role`].
    async fn remove_member(&self, org: OrgId, user: UserId, owners: OwnerChanges) -> Result<()>;
    /// Stores an invitation by the hash of the token in its link.
    async fn create_invite(&self, invite: &Invite, token_hash: &str) -> Result<()>;
    /// The invitation, unless expired or used.
    async fn invite(&self, token_hash: &str) -> Result<Option<Invite>>;
    /// Uses up the invitation for `user`, once: the first caller gets it
    /// (and the membership, added as [`Self::add_member`] does), any
    /// later or concurrent one `None`. Expired invitations give `None`.
    async fn accept_invite(&self, token_hash: &str, user: UserId) -> Result<Option<Invite>>;
    async fn delete_invite(&self, token_hash: &str) -> Result<()>;
    /// Organizations the user belongs to (all of them for a superuser).
    async fn organizations_for_user(&self, user: &User) -> Result<Vec<Organization>>;

    // Teams.
    async fn create_team(&self, org: OrgId, slug: &str, name: &str) -> Result<Team>;
    async fn teams(&self, org: OrgId) -> Result<Vec<Team>>;
    async fn team_by_slug(&self, org: OrgId, slug: &str) -> Result<Option<Team>>;
    async fn add_project_to_team(&self, team: i64, project: ProjectId) -> Result<()>;
    /// The projects of a team.
    async fn team_projects(&self, team: i64) -> Result<Vec<Project>>;
    /// The teams a project belongs to.
    async fn project_teams(&self, project: ProjectId) -> Result<Vec<Team>>;
    // Releases.
    /// Creates the release `version` of `org` with `change`, or applies
    /// `change` to it; returns it and whether it was created.
    async fn upsert_release(
        &self,
        org: OrgId,
        version: &str,
        change: &crate::ReleaseChange,
    ) -> Result<(crate::Release, bool)>;
    async fn release(&self, org: OrgId, version: &str) -> Result<Option<crate::Release>>;
    /// The organization's releases (of `project` only, if given), newest
    /// first, at most `limit`.
    async fn releases(
        &self,
        org: OrgId,
        project: Option<ProjectId>,
        limit: usize,
    ) -> Result<Vec<crate::Release>>;
    /// `NotFound` unless `org` has the release.
    async fn delete_release(&self, org: OrgId, version: &str) -> Result<()>;
    /// Replaces the release's commits.
    async fn set_release_commits(&self, release: i64, commits: &[crate::Commit]) -> Result<()>;
    async fn release_commits(&self, release: i64) -> Result<Vec<crate::Commit>>;
    async fn create_deploy(&self, release: i64, deploy: &crate::NewDeploy)
    -> Result<crate::Deploy>;
    /// The release's deploys, newest first.
    async fn deploys(&self, release: i64) -> Result<Vec<crate::Deploy>>;
    /// Issues of `projects` first seen in `version`: (how many, the first
    /// one's first event, the latest last event among them).
    async fn release_issue_stats(
        &self,
        projects: &[ProjectId],
        version: &str,
    ) -> Result<(u64, Option<DateTime<Utc>>, Option<DateTime<Utc>>)>;

    /// Puts a user on a team (already on it is no change).
    async fn add_team_member(&self, team: i64, user: UserId) -> Result<()>;
    /// Takes a user off a team (not on it is no change).
    async fn remove_team_member(&self, team: i64, user: UserId) -> Result<()>;
    /// The users on a team, by id; callers keep those still members of
    /// the team's organization.
    async fn team_members(&self, team: i64) -> Result<Vec<UserId>>;

    // Projects and keys.
    async fn create_project(
        &self,
        org: OrgId,
        slug: &str,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project>;
    async fn projects(&self, org: OrgId) -> Result<Vec<Project>>;
    async fn project_by_slug(&self, org: OrgId, slug: &str) -> Result<Option<Project>>;
    async fn project_by_id(&self, id: ProjectId) -> Result<Option<Project>>;
    async fn update_project(&self, id: ProjectId, name: &str, platform: Option<&str>)
    -> Result<()>;
    async fn create_key(&self, project: ProjectId, label: &str) -> Result<ProjectKey>;
    async fn keys(&self, project: ProjectId) -> Result<Vec<ProjectKey>>;
    async fn key_by_public(&self, public_key: &str) -> Result<Option<ProjectKey>>;
    /// Applies the fields that are `Some`; returns the updated key.
    async fn update_key(&self, key_id: i64, update: &KeyUpdate) -> Result<ProjectKey>;

    // Issues.
    /// Groups a batch of events into issues in one transaction: creates issues,
    /// counts events and distinct users, reopens resolved issues. An event id
    /// seen before counts nothing and reports its issue.
    async fn record_events(&self, events: &[GroupedEvent]) -> Result<Vec<RecordOutcome>>;
    async fn group(&self, id: GroupId) -> Result<Option<Group>>;
    async fn group_by_short_id(&self, project: ProjectId, short_id: i64) -> Result<Option<Group>>;
    async fn groups(&self, query: &GroupQuery) -> Result<Vec<Group>>;
    /// How many issues [`Self::groups`] would return for `query` (within
    /// its offset and limit), counted without reading them.
    async fn count_groups(&self, query: &GroupQuery) -> Result<usize>;
    /// Sets the status; any snooze is cleared.
    async fn set_group_status(&self, ids: &[GroupId], status: GroupStatus) -> Result<()>;
    /// Ignores the issues until the snooze runs out; the first event after
    /// that brings each back (`RecordOutcome::reappeared`).
    async fn snooze_groups(&self, ids: &[GroupId], snooze: &Snooze) -> Result<()>;
    async fn set_assignee(&self, ids: &[GroupId], assignee: Option<UserId>) -> Result<()>;
    /// Deletes issues last seen before `cutoff` with what hangs off them
    /// (seen event ids, users), returning how many issues went; then gives
    /// the space back.
    async fn delete_issues_before(&self, cutoff: DateTime<Utc>) -> Result<u64>;

    // User feedback.
    /// Keeps the reports; a second report about the same event replaces
    /// the first (as Sentry's), so a redelivered one changes nothing.
    async fn record_user_reports(&self, reports: &[crate::NewUserReport]) -> Result<()>;
    /// The project's reports (only the issue `group`'s, when given),
    /// newest first, at most `limit`.
    async fn user_reports(
        &self,
        project: ProjectId,
        group: Option<GroupId>,
        limit: usize,
    ) -> Result<Vec<crate::UserReport>>;
    // Event attachments (their bytes are in the blob store).
    /// Keeps the attachments; the same one again (a redelivered item: same
    /// event, name and content) is kept once.
    async fn record_attachments(&self, attachments: &[crate::NewAttachment]) -> Result<()>;
    /// An event's attachments, in the order they arrived.
    async fn attachments(
        &self,
        project: ProjectId,
        event: EventId,
    ) -> Result<Vec<crate::Attachment>>;
    /// Deletes the attachments kept before `cutoff` and returns them, so
    /// that their blobs can go too.
    async fn delete_attachments_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<crate::Attachment>>;
    // Cron monitors.
    /// The project's monitor with this slug.
    async fn monitor(&self, project: ProjectId, slug: &str) -> Result<Option<crate::Monitor>>;
    /// Creates the monitor (active, named by its slug); if another one took
    /// the slug meanwhile, that one.
    async fn create_monitor(
        &self,
        project: ProjectId,
        slug: &str,
        config: &crate::MonitorConfig,
    ) -> Result<crate::Monitor>;
    /// Writes back name, slug, status, mute and configuration (`Conflict`
    /// when the slug is taken).
    async fn update_monitor(&self, monitor: &crate::Monitor) -> Result<()>;
    /// The monitor, its environments and its check-ins.
    async fn delete_monitor(&self, id: i64) -> Result<()>;
    /// The projects' monitors, by name.
    async fn monitors(&self, projects: &[ProjectId]) -> Result<Vec<crate::Monitor>>;
    async fn monitor_by_id(&self, id: i64) -> Result<Option<crate::Monitor>>;
    /// The monitors' environments.
    async fn monitor_environments(
        &self,
        monitors: &[i64],
    ) -> Result<Vec<crate::MonitorEnvironment>>;
    /// The monitor's environment of this name, created (active) if new.
    async fn monitor_environment(
        &self,
        monitor: i64,
        name: &str,
    ) -> Result<crate::MonitorEnvironment>;
    /// Writes the environment back if nobody saved it since it was read
    /// (its `version`); `false` when somebody did. The saved version is
    /// one more.
    async fn save_monitor_environment(
        &self,
        environment: &crate::MonitorEnvironment,
    ) -> Result<bool>;
    /// Active monitors' environments whose latest check-in time is at or
    /// before `now`, soonest first, at most `limit` (an index answers:
    /// no check-in is read).
    async fn due_monitor_environments(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<crate::MonitorEnvironment>>;
    async fn checkin(&self, monitor: i64, guid: &str) -> Result<Option<crate::CheckIn>>;
    /// The environment's newest in-progress check-in.
    async fn latest_in_progress(&self, environment: i64) -> Result<Option<crate::CheckIn>>;
    /// Keeps the check-in; returns it with its id.
    async fn insert_checkin(&self, checkin: &crate::NewCheckIn) -> Result<crate::CheckIn>;
    /// Writes back status, duration, update time and timeout.
    async fn update_checkin(&self, checkin: &crate::CheckIn) -> Result<()>;
    /// The monitor's check-ins (of one environment, when given), newest
    /// first.
    async fn checkins(
        &self,
        monitor: i64,
        environment: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<crate::CheckIn>>;
    /// In-progress check-ins whose timeout is at or before `now`, at most
    /// `limit` (an index on in-progress check-ins answers).
    async fn timed_out_checkins(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<crate::CheckIn>>;
    /// Deletes check-ins created before `cutoff`; returns how many.
    async fn delete_checkins_before(&self, cutoff: DateTime<Utc>) -> Result<u64>;
    /// The project's issue of this grouping hash.
    async fn group_by_hash(&self, project: ProjectId, hash: &str) -> Result<Option<Group>>;

    /// How many reports each of `groups` has (issues without any left out).
    async fn user_report_counts(&self, groups: &[GroupId]) -> Result<Vec<(GroupId, u64)>>;
    /// Bytes the metadata takes on disk (the database's files or, on a
    /// server, the database's size).
    async fn disk_bytes(&self) -> Result<u64>;

    // Dashboard sessions, stored by the hash of their cookie value.
    async fn create_session(&self, session: &Session, token_hash: &str) -> Result<()>;
    /// The session and its user, unless expired or the user is inactive.
    async fn session(&self, token_hash: &str) -> Result<Option<(Session, User)>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of `user` except the one stored as
    /// `keep_token_hash` (after a password change).
    async fn delete_other_sessions(&self, user: UserId, keep_token_hash: &str) -> Result<()>;

    // Installation settings (the devserver's bootstrap state, etc.).
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;
}
