//! Sentry's issue alert rules as typed values.
//!
//! A rule arrives as Sentry's JSON (the body of `POST …/rules/`): `name`,
//! `conditions`, `filters`, `actions` (each an object with Sentry's class
//! path as `id` and its own fields), `actionMatch`, `filterMatch`,
//! `frequency` (minutes) and `environment`. [`RuleSpec::from_json`] checks
//! all of it and reports every problem by field, as Sentry's API answers a
//! 400; [`RuleSpec::to_json`] writes the canonical form back, with Sentry's
//! wording as each item's `name`. What is stored is always what
//! `to_json` wrote, so a stored rule always parses.
//!
//! This crate does no I/O; the notifier evaluates these values and web
//! serves them.

mod items;
mod plugins;
mod spec;

pub use items::{
    ATTRIBUTES, Action, AgeComparison, AssigneeTarget, Condition, EmailTarget, Fallthrough, Filter,
    Interval, LevelMatch, SERVICES, TimeUnit, ValueMatch,
};
pub use plugins::{
    ConfigErrors, FieldKind, MAX_SECRET_LEN, MAX_URL_LEN, MAX_WEBHOOK_URLS, Plugin, PluginField,
};
pub use spec::{FieldErrors, Match, RuleSpec};

/// Sentry's class paths, the `id` of each condition, filter and action.
pub mod ids {
    pub const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
    pub const REGRESSION: &str =
        "sentry.rules.conditions.regression_event.RegressionEventCondition";
    pub const REAPPEARED: &str =
        "sentry.rules.conditions.reappeared_event.ReappearedEventCondition";
    pub const EVENT_FREQUENCY: &str =
        "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
    pub const UNIQUE_USER_FREQUENCY: &str =
        "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";

    pub const LEVEL: &str = "sentry.rules.filters.level.LevelFilter";
    pub const TAGGED_EVENT: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
    pub const AGE_COMPARISON: &str = "sentry.rules.filters.age_comparison.AgeComparisonFilter";
    pub const ISSUE_OCCURRENCES: &str =
        "sentry.rules.filters.issue_occurrences.IssueOccurrencesFilter";
    pub const ASSIGNED_TO: &str = "sentry.rules.filters.assigned_to.AssignedToFilter";
    pub const LATEST_RELEASE: &str = "sentry.rules.filters.latest_release.LatestReleaseFilter";
    /// The event attribute check, under the id Sentry has listed it as a
    /// condition with since its first release; [`EVENT_ATTRIBUTE_FILTER`]
    /// is accepted too and stored as this.
    pub const EVENT_ATTRIBUTE: &str =
        "sentry.rules.conditions.event_attribute.EventAttributeCondition";
    pub const EVENT_ATTRIBUTE_FILTER: &str =
        "sentry.rules.filters.event_attribute.EventAttributeFilter";

    pub const NOTIFY_EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";
    pub const NOTIFY_SERVICE: &str =
        "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";
    pub const NOTIFY_LEGACY: &str = "sentry.rules.actions.notify_event.NotifyEventAction";
}

/// The rule a new project gets, as in Sentry: email the issue owners (or,
/// when there are none, the active members) when a new issue is created,
/// at most every 30 minutes per issue.
pub fn default_rule() -> RuleSpec {
    RuleSpec {
        name: "Send a notification for new issues".to_owned(),
        conditions: vec![Condition::FirstSeen],
        filters: Vec::new(),
        actions: vec![Action::Email {
            target: EmailTarget::IssueOwners,
            fallthrough: Fallthrough::ActiveMembers,
        }],
        action_match: Match::All,
        filter_match: Match::All,
        frequency_minutes: 30,
        environment: None,
    }
}
