//! Alert rules and what they did: the rules of each project (stored as
//! their canonical JSON, which `faultline-rules` reads and writes), each
//! firing for an issue, and the deliveries a firing owes (an outbox the
//! notifier works through, so a crash between deciding and sending loses
//! nothing and repeats nothing decided).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, ProjectId};
use serde_json::Value;

use crate::{Result, UserId};

/// Whether a rule is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleStatus {
    Active,
    Disabled,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Active => "active",
            RuleStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(RuleStatus::Active),
            "disabled" => Some(RuleStatus::Disabled),
            _ => None,
        }
    }
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: i64,
    pub project_id: ProjectId,
    pub name: String,
    pub status: RuleStatus,
    /// The rule's canonical JSON (`RuleSpec::to_json`).
    pub data: Value,
    /// `None` for the rule every new project gets.
    pub created_by: Option<UserId>,
    pub date_created: DateTime<Utc>,
    pub last_triggered: Option<DateTime<Utc>>,
}

/// A rule as written by create and update.
#[derive(Debug, Clone)]
pub struct RuleRecord<'a> {
    pub name: &'a str,
    pub status: RuleStatus,
    pub data: &'a Value,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// Claimed by a notifier that has not reported back; claimed again
    /// once its lease runs out (the notifier died).
    Sending,
    Sent,
    /// Every attempt failed; `last_error` says how the last one did.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "sending" => Some(DeliveryStatus::Sending),
            "sent" => Some(DeliveryStatus::Sent),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One message owed to one channel and recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDelivery {
    pub id: i64,
    /// The firing it belongs to; `None` for a summary of several.
    pub fire_id: Option<i64>,
    pub project_id: ProjectId,
    /// `email`, or a plugin's slug.
    pub channel: String,
    /// The email address, or empty for a plugin (its settings say where).
    pub target: String,
    /// What to say, rendered when the rule fired.
    pub payload: Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The W3C trace context of the event it is for (none without traces).
    pub traceparent: Option<String>,
    pub date_created: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

/// A delivery to write with a firing.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub channel: String,
    pub target: String,
    pub payload: Value,
}

/// A rule's firing for an issue, with what it owed.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFire {
    pub id: i64,
    pub rule_id: i64,
    pub group_id: GroupId,
    pub event_id: EventId,
    pub date_fired: DateTime<Utc>,
    pub deliveries: Vec<AlertDelivery>,
}

/// A firing to record.
#[derive(Debug, Clone)]
pub struct NewFire {
    pub rule_id: i64,
    pub project_id: ProjectId,
    pub group_id: GroupId,
    pub event_id: EventId,
    pub now: DateTime<Utc>,
    /// The rule's action interval: no firing for the same issue within it.
    pub interval_minutes: u32,
    pub deliveries: Vec<NewDelivery>,
    /// The trace the deliveries join when they are sent.
    pub traceparent: Option<String>,
}

/// Why a firing was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireOutcome {
    Recorded(i64),
    /// This rule already fired for this issue and event (a redelivery).
    Repeat,
    /// This rule fired for this issue within its action interval.
    TooSoon,
}

/// A project's settings for one of its plugins (the chat and webhook
/// channels). A plugin without a row is disabled and unconfigured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectPlugin {
    pub slug: String,
    pub enabled: bool,
    /// The plugin's settings, an object of its fields.
    pub config: Value,
}

/// What an attempt at a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Sent,
    /// Try again at the given time.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Give up.
    Failed {
        error: String,
    },
}

#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    // Rules.
    async fn create_rule(
        &self,
        project: ProjectId,
        rule: &RuleRecord<'_>,
        created_by: Option<UserId>,
    ) -> Result<AlertRule>;
    /// The project's rules, newest first (as Sentry lists them).
    async fn rules(&self, project: ProjectId) -> Result<Vec<AlertRule>>;
    async fn rule(&self, project: ProjectId, id: i64) -> Result<Option<AlertRule>>;
    /// `NotFound` unless the project has rule `id`.
    async fn update_rule(
        &self,
        project: ProjectId,
        id: i64,
        rule: &RuleRecord<'_>,
    ) -> Result<AlertRule>;
    /// `NotFound` unless the project has rule `id`; its history goes with it.
    async fn delete_rule(&self, project: ProjectId, id: i64) -> Result<()>;

    // Firings and their deliveries.
    /// Records a firing and its deliveries in one transaction, unless the
    /// rule already fired for this event or, for this issue, within its
    /// interval (decided in the same transaction).
    async fn record_fire(&self, fire: &NewFire) -> Result<FireOutcome>;
    /// Up to `limit` deliveries due at `now` (pending, or claimed by a
    /// notifier whose lease ran out), marked as claimed until `lease_until`.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AlertDelivery>>;
    /// Records how an attempt went.
    async fn finish_delivery(&self, id: i64, result: &AttemptResult) -> Result<()>;
    /// The rule's latest firings, newest first, with their deliveries.
    async fn rule_history(&self, rule_id: i64, limit: usize) -> Result<Vec<RuleFire>>;
    /// How many firings of the project's rules happened since `since`.
    async fn fires_since(&self, project: ProjectId, since: DateTime<Utc>) -> Result<u64>;
    /// Turns `user`'s alert emails for `project` on or off (Sentry's
    /// per-project alert notification setting).
    async fn set_alert_emails(&self, user: UserId, project: ProjectId, on: bool) -> Result<()>;
    /// The users who turned alert emails off for `project`.
    async fn alert_email_opt_outs(&self, project: ProjectId) -> Result<Vec<UserId>>;
    // Plugins.
    /// The plugins the project has settings for, by slug.
    async fn plugins(&self, project: ProjectId) -> Result<Vec<ProjectPlugin>>;
    /// Saves a plugin's settings, leaving it enabled or not as it was.
    async fn save_plugin_config(
        &self,
        project: ProjectId,
        slug: &str,
        config: &Value,
    ) -> Result<ProjectPlugin>;
    /// Turns a plugin on or off, keeping its settings.
    async fn set_plugin_enabled(
        &self,
        project: ProjectId,
        slug: &str,
        enabled: bool,
    ) -> Result<ProjectPlugin>;

    // Counts for frequency conditions.
    /// Adds each issue's events seen at `now`.
    async fn add_event_counts(&self, counts: &[(GroupId, u64)], now: DateTime<Utc>) -> Result<()>;
    /// Records that each user (a key such as `id:42` or `ip:…`) was seen
    /// on each issue at `now`.
    async fn add_issue_users(&self, seen: &[(GroupId, String)], now: DateTime<Utc>) -> Result<()>;
    /// The issue's events within each window of `minutes` ending at `now`:
    /// to the minute for windows up to an hour, to the hour beyond.
    async fn events_within(
        &self,
        group: GroupId,
        minutes: &[u32],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>>;
    /// The distinct users seen on the issue within each window.
    async fn users_within(
        &self,
        group: GroupId,
        minutes: &[u32],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>>;
    /// Records the releases the projects' events named at `now` (a release
    /// already known keeps its first sighting).
    async fn add_releases(&self, seen: &[(ProjectId, String)], now: DateTime<Utc>) -> Result<()>;
    /// The project's release first seen last, if any.
    async fn latest_release(&self, project: ProjectId) -> Result<Option<String>>;
    /// Removes counts no window reaches any more; returns how many rows.
    async fn prune_counts(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Queues `deliveries` as the project's one summary (deliveries of no
    /// firing) since `since`, unless one was queued since then (decided in
    /// the same transaction); returns whether these were queued.
    async fn queue_summary(
        &self,
        project: ProjectId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        deliveries: &[NewDelivery],
    ) -> Result<bool>;
}
