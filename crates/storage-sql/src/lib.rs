//! The SQL backends of the storage seams: the metadata store, one
//! implementation of [`MetaStore`] for SQLite (embedded, `faultline
//! devserver`) and PostgreSQL (production), and the embedded event store
//! and durable queue on SQLite files ([`sqlite`]). Only the binary and the
//! tests depend on this crate; services see the traits.
//!
//! Every query is written once, with `?` placeholders, in the SQL both
//! databases accept; [`dialect`] holds the few pieces they spell
//! differently (LEAST/GREATEST, ILIKE, the email comparison, VACUUM, the
//! organization lock), and [`migrate`] the schema, one file per dialect
//! only where it must differ. The batch folding of `record_events` is the
//! pure [`fold`]; the modules by area (`users`, `sessions`, `orgs`,
//! `projects`, `issues`) hold the queries.
//!
//! The databases run through [`driver`]: an enum of the two sqlx pools
//! whose queries bind straight into each driver's own argument buffer, so
//! a query costs what it costs with sqlx alone. The alternatives were
//! weighed: a store generic over `sqlx::Database` needs every bound type's
//! `Encode`/`Decode`/`Type` and the executor's higher-ranked bounds
//! repeated on every function (Rust does not imply them), and compiles the
//! whole store twice; sqlx's `Any` driver formats placeholders as `?` for
//! PostgreSQL too (its `QueryBuilder` is unusable there), cannot read a
//! SQLite INTEGER column as `bool`, and copies every row into its own value
//! type. The enum costs one `match` per statement.
//!
//! What must differ between the databases stays different:
//! - SQLite writes go through one writer connection (SQLite allows one
//!   writer; queuing writers in-process avoids lock upgrade failures), and
//!   reads through read-only connections; PostgreSQL has one pool.
//! - Membership changes run in a transaction that decides the last-owner
//!   rule and makes the change; on PostgreSQL it first locks the
//!   organization row `FOR UPDATE`, on SQLite the single writer already
//!   serialises them.
//! - Driver errors become [`StorageError`]s in [`error`], at this
//!   boundary: a unique violation is `Conflict`, a lost connection
//!   `Unavailable`.

mod alerts;
mod artifacts;
mod attachments_meta;
mod dialect;
mod driver;
mod error;
mod feedback;
mod fold;
mod issues;
pub(crate) mod migrate;
mod monitors;
mod orgs;
mod projects;
mod releases;
mod rows;
mod sessions;
pub mod sqlite;
mod users;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, OrgId, ProjectId};
use sqlx::postgres::PgPoolOptions;

pub(crate) use driver::Pools;

use error::db_error;
use faultline_storage::Result;
use faultline_storage::*;

/// The metadata store, on either database.
#[derive(Clone)]
pub struct SqlMetaStore {
    pools: Pools,
}

impl SqlMetaStore {
    /// Opens (creating and migrating as needed) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        let db = crate::sqlite::Db::open(path, 4).await?;
        Self::migrated(Pools::Sqlite(db)).await
    }

    /// Connects to `url` (`postgres://…`) and applies pending migrations.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db_error)?;
        driver::watch_pool("meta", &pool);
        Self::migrated(Pools::Postgres(pool)).await
    }

    async fn migrated(pools: Pools) -> Result<Self> {
        migrate::apply(&pools, &migrate::meta(pools.dialect())).await?;
        Ok(SqlMetaStore { pools })
    }
}

#[async_trait]
impl MetaStore for SqlMetaStore {
    async fn ping(&self) -> Result<()> {
        self.pools.read("SELECT 1").execute().await.map(drop)
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: Option<&str>,
        is_superuser: bool,
    ) -> Result<User> {
        users::create(&self.pools, email, password_hash, is_superuser).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        users::by_email(&self.pools, email).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        users::by_id(&self.pools, id).await
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<()> {
        users::set_password(&self.pools, id, password_hash).await
    }

    async fn count_users(&self) -> Result<i64> {
        users::count(&self.pools).await
    }

    async fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        scopes: &[String],
        name: Option<&str>,
    ) -> Result<ApiToken> {
        users::create_token(&self.pools, user, token_hash, scopes, name).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        users::token_by_hash(&self.pools, token_hash).await
    }

    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        users::tokens(&self.pools, user).await
    }

    async fn delete_api_token(&self, user: UserId, token_id: i64) -> Result<()> {
        users::delete_token(&self.pools, user, token_id).await
    }

    async fn set_timezone(&self, user: UserId, timezone: &str) -> Result<()> {
        users::set_timezone(&self.pools, user, timezone).await
    }

    async fn create_organization(&self, slug: &str, name: &str) -> Result<Organization> {
        orgs::create(&self.pools, slug, name).await
    }

    async fn organization_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
        orgs::by_slug(&self.pools, slug).await
    }

    async fn organization_by_id(&self, id: OrgId) -> Result<Option<Organization>> {
        orgs::by_id(&self.pools, id).await
    }

    async fn add_member(&self, org: OrgId, user: UserId, role: Role) -> Result<bool> {
        orgs::add_member(&self.pools, org, user, role).await
    }

    async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        owners: OwnerChanges,
    ) -> Result<()> {
        orgs::set_member_role(&self.pools, org, user, role, owners).await
    }

    async fn member_role(&self, org: OrgId, user: UserId) -> Result<Option<Role>> {
        orgs::member_role(&self.pools, org, user).await
    }

    async fn members(&self, org: OrgId) -> Result<Vec<(User, Role)>> {
        orgs::members(&self.pools, org).await
    }

    async fn remove_member(&self, org: OrgId, user: UserId, owners: OwnerChanges) -> Result<()> {
        orgs::remove_member(&self.pools, org, user, owners).await
    }

    async fn create_invite(&self, invite: &Invite, token_hash: &str) -> Result<()> {
        orgs::create_invite(&self.pools, invite, token_hash).await
    }

    async fn invite(&self, token_hash: &str) -> Result<Option<Invite>> {
        orgs::invite(&self.pools, token_hash).await
    }

    async fn accept_invite(&self, token_hash: &str, user: UserId) -> Result<Option<Invite>> {
        orgs::accept_invite(&self.pools, token_hash, user).await
    }

    async fn delete_invite(&self, token_hash: &str) -> Result<()> {
        orgs::delete_invite(&self.pools, token_hash).await
    }

    async fn organizations_for_user(&self, user: &User) -> Result<Vec<Organization>> {
        orgs::for_user(&self.pools, user).await
    }

    async fn create_team(&self, org: OrgId, slug: &str, name: &str) -> Result<Team> {
        projects::create_team(&self.pools, org, slug, name).await
    }

    async fn teams(&self, org: OrgId) -> Result<Vec<Team>> {
        projects::teams(&self.pools, org).await
    }

    async fn team_by_slug(&self, org: OrgId, slug: &str) -> Result<Option<Team>> {
        projects::team_by_slug(&self.pools, org, slug).await
    }

    async fn add_project_to_team(&self, team: i64, project: ProjectId) -> Result<()> {
        projects::add_to_team(&self.pools, team, project).await
    }

    async fn team_projects(&self, team: i64) -> Result<Vec<Project>> {
        projects::of_team(&self.pools, team).await
    }

    async fn project_teams(&self, project: ProjectId) -> Result<Vec<Team>> {
        projects::teams_of(&self.pools, project).await
    }

    async fn upsert_release(
        &self,
        org: OrgId,
        version: &str,
        change: &ReleaseChange,
    ) -> Result<(Release, bool)> {
        releases::upsert(&self.pools, org, version, change).await
    }

    async fn release(&self, org: OrgId, version: &str) -> Result<Option<Release>> {
        releases::get(&self.pools, org, version).await
    }

    async fn releases(
        &self,
        org: OrgId,
        project: Option<ProjectId>,
        limit: usize,
    ) -> Result<Vec<Release>> {
        releases::list(&self.pools, org, project, limit).await
    }

    async fn delete_release(&self, org: OrgId, version: &str) -> Result<()> {
        releases::delete(&self.pools, org, version).await
    }

    async fn set_release_commits(&self, release: i64, commits: &[Commit]) -> Result<()> {
        releases::set_commits(&self.pools, release, commits).await
    }

    async fn release_commits(&self, release: i64) -> Result<Vec<Commit>> {
        releases::commits(&self.pools, release).await
    }

    async fn create_deploy(&self, release: i64, deploy: &NewDeploy) -> Result<Deploy> {
        releases::create_deploy(&self.pools, release, deploy).await
    }

    async fn deploys(&self, release: i64) -> Result<Vec<Deploy>> {
        releases::deploys(&self.pools, release).await
    }

    async fn release_issue_stats(
        &self,
        projects: &[ProjectId],
        version: &str,
    ) -> Result<(u64, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
        releases::issue_stats(&self.pools, projects, version).await
    }

    async fn add_team_member(&self, team: i64, user: UserId) -> Result<()> {
        projects::add_team_member(&self.pools, team, user).await
    }

    async fn remove_team_member(&self, team: i64, user: UserId) -> Result<()> {
        projects::remove_team_member(&self.pools, team, user).await
    }

    async fn team_members(&self, team: i64) -> Result<Vec<UserId>> {
        projects::team_members(&self.pools, team).await
    }

    async fn create_project(
        &self,
        org: OrgId,
        slug: &str,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project> {
        projects::create(&self.pools, org, slug, name, platform).await
    }

    async fn projects(&self, org: OrgId) -> Result<Vec<Project>> {
        projects::of_org(&self.pools, org).await
    }

    async fn project_by_slug(&self, org: OrgId, slug: &str) -> Result<Option<Project>> {
        projects::by_slug(&self.pools, org, slug).await
    }

    async fn project_by_id(&self, id: ProjectId) -> Result<Option<Project>> {
        projects::by_id(&self.pools, id).await
    }

    async fn update_project(
        &self,
        id: ProjectId,
        name: &str,
        platform: Option<&str>,
    ) -> Result<()> {
        projects::update(&self.pools, id, name, platform).await
    }

    async fn create_key(&self, project: ProjectId, label: &str) -> Result<ProjectKey> {
        projects::create_key(&self.pools, project, label).await
    }

    async fn keys(&self, project: ProjectId) -> Result<Vec<ProjectKey>> {
        projects::keys(&self.pools, project).await
    }

    async fn key_by_public(&self, public_key: &str) -> Result<Option<ProjectKey>> {
        projects::key_by_public(&self.pools, public_key).await
    }

    async fn update_key(&self, key_id: i64, update: &KeyUpdate) -> Result<ProjectKey> {
        projects::update_key(&self.pools, key_id, update).await
    }

    async fn record_events(&self, events: &[GroupedEvent]) -> Result<Vec<RecordOutcome>> {
        issues::record_events(&self.pools, events).await
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        issues::by_id(&self.pools, id).await
    }

    async fn group_by_hash(&self, project: ProjectId, hash: &str) -> Result<Option<Group>> {
        issues::by_hash(&self.pools, project, hash).await
    }

    async fn monitor(&self, project: ProjectId, slug: &str) -> Result<Option<Monitor>> {
        monitors::by_slug(&self.pools, project, slug).await
    }

    async fn create_monitor(
        &self,
        project: ProjectId,
        slug: &str,
        config: &MonitorConfig,
    ) -> Result<Monitor> {
        monitors::create(&self.pools, project, slug, config).await
    }

    async fn update_monitor(&self, monitor: &Monitor) -> Result<()> {
        monitors::update(&self.pools, monitor).await
    }

    async fn delete_monitor(&self, id: i64) -> Result<()> {
        monitors::delete(&self.pools, id).await
    }

    async fn monitors(&self, projects: &[ProjectId]) -> Result<Vec<Monitor>> {
        monitors::of_projects(&self.pools, projects).await
    }

    async fn monitor_by_id(&self, id: i64) -> Result<Option<Monitor>> {
        monitors::by_id(&self.pools, id).await
    }

    async fn monitor_environments(&self, monitors: &[i64]) -> Result<Vec<MonitorEnvironment>> {
        monitors::environments(&self.pools, monitors).await
    }

    async fn monitor_environment(&self, monitor: i64, name: &str) -> Result<MonitorEnvironment> {
        monitors::environment_named(&self.pools, monitor, name).await
    }

    async fn save_monitor_environment(&self, environment: &MonitorEnvironment) -> Result<bool> {
        monitors::save_environment(&self.pools, environment).await
    }

    async fn due_monitor_environments(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<MonitorEnvironment>> {
        monitors::due(&self.pools, now, limit).await
    }

    async fn checkin(&self, monitor: i64, guid: &str) -> Result<Option<CheckIn>> {
        monitors::checkin_by_guid(&self.pools, monitor, guid).await
    }

    async fn latest_in_progress(&self, environment: i64) -> Result<Option<CheckIn>> {
        monitors::latest_in_progress(&self.pools, environment).await
    }

    async fn insert_checkin(&self, checkin: &NewCheckIn) -> Result<CheckIn> {
        monitors::insert_checkin(&self.pools, checkin).await
    }

    async fn update_checkin(&self, checkin: &CheckIn) -> Result<()> {
        monitors::update_checkin(&self.pools, checkin).await
    }

    async fn checkins(
        &self,
        monitor: i64,
        environment: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<CheckIn>> {
        monitors::checkins(&self.pools, monitor, environment, limit, offset).await
    }

    async fn timed_out_checkins(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<CheckIn>> {
        monitors::timed_out(&self.pools, now, limit).await
    }

    async fn delete_checkins_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        monitors::delete_checkins_before(&self.pools, cutoff).await
    }

    async fn group_by_short_id(&self, project: ProjectId, short_id: i64) -> Result<Option<Group>> {
        issues::by_short_id(&self.pools, project, short_id).await
    }

    async fn count_groups(&self, query: &GroupQuery) -> Result<usize> {
        issues::count(&self.pools, query).await
    }

    async fn groups(&self, query: &GroupQuery) -> Result<Vec<Group>> {
        issues::list(&self.pools, query).await
    }

    async fn set_group_status(&self, ids: &[GroupId], status: GroupStatus) -> Result<()> {
        issues::set_status(&self.pools, ids, status).await
    }

    async fn snooze_groups(&self, ids: &[GroupId], snooze: &Snooze) -> Result<()> {
        issues::snooze(&self.pools, ids, snooze).await
    }

    async fn set_assignee(&self, ids: &[GroupId], assignee: Option<UserId>) -> Result<()> {
        issues::set_assignee(&self.pools, ids, assignee).await
    }

    async fn delete_issues_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        issues::delete_before(&self.pools, cutoff).await
    }

    async fn record_user_reports(&self, reports: &[NewUserReport]) -> Result<()> {
        feedback::record(&self.pools, reports).await
    }

    async fn user_reports(
        &self,
        project: ProjectId,
        group: Option<GroupId>,
        limit: usize,
    ) -> Result<Vec<UserReport>> {
        feedback::list(&self.pools, project, group, limit).await
    }

    async fn record_attachments(&self, attachments: &[NewAttachment]) -> Result<()> {
        attachments_meta::record(&self.pools, attachments).await
    }

    async fn attachments(&self, project: ProjectId, event: EventId) -> Result<Vec<Attachment>> {
        attachments_meta::of_event(&self.pools, project, event).await
    }

    async fn delete_attachments_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<Attachment>> {
        attachments_meta::delete_before(&self.pools, cutoff).await
    }

    async fn user_report_counts(&self, groups: &[GroupId]) -> Result<Vec<(GroupId, u64)>> {
        feedback::counts(&self.pools, groups).await
    }

    async fn disk_bytes(&self) -> Result<u64> {
        self.pools.disk_bytes().await
    }

    async fn create_session(&self, session: &Session, token_hash: &str) -> Result<()> {
        sessions::create(&self.pools, session, token_hash).await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<(Session, User)>> {
        sessions::get(&self.pools, token_hash).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sessions::delete(&self.pools, token_hash).await
    }

    async fn delete_other_sessions(&self, user: UserId, keep_token_hash: &str) -> Result<()> {
        sessions::delete_others(&self.pools, user, keep_token_hash).await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        sessions::setting(&self.pools, key).await
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sessions::set_setting(&self.pools, key, value).await
    }
}

#[async_trait]
impl AlertStore for SqlMetaStore {
    async fn create_rule(
        &self,
        project: ProjectId,
        rule: &RuleRecord<'_>,
        created_by: Option<UserId>,
    ) -> Result<AlertRule> {
        alerts::create_rule(&self.pools, project, rule, created_by).await
    }

    async fn rules(&self, project: ProjectId) -> Result<Vec<AlertRule>> {
        alerts::rules(&self.pools, project).await
    }

    async fn rule(&self, project: ProjectId, id: i64) -> Result<Option<AlertRule>> {
        alerts::rule_by_id(&self.pools, project, id).await
    }

    async fn update_rule(
        &self,
        project: ProjectId,
        id: i64,
        rule: &RuleRecord<'_>,
    ) -> Result<AlertRule> {
        alerts::update_rule(&self.pools, project, id, rule).await
    }

    async fn delete_rule(&self, project: ProjectId, id: i64) -> Result<()> {
        alerts::delete_rule(&self.pools, project, id).await
    }

    async fn record_fire(&self, fire: &NewFire) -> Result<FireOutcome> {
        alerts::record_fire(&self.pools, fire).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AlertDelivery>> {
        alerts::claim_deliveries(&self.pools, now, lease_until, limit).await
    }

    async fn finish_delivery(&self, id: i64, result: &AttemptResult) -> Result<()> {
        alerts::finish_delivery(&self.pools, id, result).await
    }

    async fn rule_history(&self, rule_id: i64, limit: usize) -> Result<Vec<RuleFire>> {
        alerts::rule_history(&self.pools, rule_id, limit).await
    }

    async fn fires_since(&self, project: ProjectId, since: DateTime<Utc>) -> Result<u64> {
        alerts::fires_since(&self.pools, project, since).await
    }

    async fn set_alert_emails(&self, user: UserId, project: ProjectId, on: bool) -> Result<()> {
        alerts::set_alert_emails(&self.pools, user, project, on).await
    }

    async fn alert_email_opt_outs(&self, project: ProjectId) -> Result<Vec<UserId>> {
        alerts::alert_email_opt_outs(&self.pools, project).await
    }

    async fn add_event_counts(&self, counts: &[(GroupId, u64)], now: DateTime<Utc>) -> Result<()> {
        alerts::add_event_counts(&self.pools, counts, now).await
    }

    async fn add_issue_users(&self, seen: &[(GroupId, String)], now: DateTime<Utc>) -> Result<()> {
        alerts::add_issue_users(&self.pools, seen, now).await
    }

    async fn events_within(
        &self,
        group: GroupId,
        minutes: &[u32],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>> {
        alerts::events_within(&self.pools, group, minutes, now).await
    }

    async fn users_within(
        &self,
        group: GroupId,
        minutes: &[u32],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>> {
        alerts::users_within(&self.pools, group, minutes, now).await
    }

    async fn add_releases(&self, seen: &[(ProjectId, String)], now: DateTime<Utc>) -> Result<()> {
        alerts::add_releases(&self.pools, seen, now).await
    }

    async fn latest_release(&self, project: ProjectId) -> Result<Option<String>> {
        alerts::latest_release(&self.pools, project).await
    }

    async fn prune_counts(&self, now: DateTime<Utc>) -> Result<u64> {
        alerts::prune_counts(&self.pools, now).await
    }

    async fn plugins(&self, project: ProjectId) -> Result<Vec<ProjectPlugin>> {
        alerts::plugins(&self.pools, project).await
    }

    async fn save_plugin_config(
        &self,
        project: ProjectId,
        slug: &str,
        config: &serde_json::Value,
    ) -> Result<ProjectPlugin> {
        alerts::save_plugin_config(&self.pools, project, slug, config).await
    }

    async fn set_plugin_enabled(
        &self,
        project: ProjectId,
        slug: &str,
        enabled: bool,
    ) -> Result<ProjectPlugin> {
        alerts::set_plugin_enabled(&self.pools, project, slug, enabled).await
    }

    async fn queue_summary(
        &self,
        project: ProjectId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        deliveries: &[NewDelivery],
    ) -> Result<bool> {
        alerts::queue_summary(&self.pools, project, since, now, deliveries).await
    }
}

#[async_trait]
impl ArtifactStore for SqlMetaStore {
    async fn record_chunks(
        &self,
        org: OrgId,
        chunks: &[(String, u64)],
        quota: u64,
    ) -> Result<ChunkAdmission> {
        artifacts::record_chunks(&self.pools, org, chunks, quota).await
    }

    async fn missing_chunks(&self, org: OrgId, checksums: &[String]) -> Result<Vec<String>> {
        artifacts::missing_chunks(&self.pools, org, checksums).await
    }

    async fn remove_chunks(&self, org: OrgId, checksums: &[String]) -> Result<()> {
        artifacts::remove_chunks(&self.pools, org, checksums).await
    }

    async fn upload_usage(&self, org: OrgId) -> Result<u64> {
        artifacts::upload_usage(&self.pools, org).await
    }

    async fn bundle_by_checksum(
        &self,
        org: OrgId,
        checksum: &str,
    ) -> Result<Option<ArtifactBundle>> {
        artifacts::bundle_by_checksum(&self.pools, org, checksum).await
    }

    async fn insert_bundle(&self, bundle: &NewArtifactBundle) -> Result<(ArtifactBundle, bool)> {
        artifacts::insert_bundle(&self.pools, bundle).await
    }

    async fn release_bundles(
        &self,
        org: OrgId,
        release: &str,
    ) -> Result<Vec<(ArtifactBundle, Vec<ArtifactFile>)>> {
        artifacts::release_bundles(&self.pools, org, release).await
    }

    async fn bundles(&self, org: OrgId, limit: usize) -> Result<Vec<ArtifactBundle>> {
        artifacts::bundles(&self.pools, org, limit).await
    }

    async fn artifact_by_debug_id(
        &self,
        project: ProjectId,
        debug_id: &str,
        ty: ArtifactType,
    ) -> Result<Option<FoundArtifact>> {
        artifacts::by_debug_id(&self.pools, project, debug_id, ty).await
    }

    async fn release_files(
        &self,
        project: ProjectId,
        release: &str,
        dist: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FoundArtifact>> {
        artifacts::release_files(&self.pools, project, release, dist, limit).await
    }

    async fn touch_bundles(&self, bundles: &[i64], at: DateTime<Utc>) -> Result<()> {
        artifacts::touch(&self.pools, bundles, at).await
    }

    async fn expire_artifacts(
        &self,
        chunks_before: DateTime<Utc>,
        bundles_before: DateTime<Utc>,
    ) -> Result<ExpiredArtifacts> {
        artifacts::expire(&self.pools, chunks_before, bundles_before).await
    }
}
