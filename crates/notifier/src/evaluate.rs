//! Whether a rule fires for one event of an issue: its conditions (what
//! happened to the issue) combined by `actionMatch`, then its filters (what
//! the event and the issue are like) combined by `filterMatch`, as Sentry's
//! rule processor does. Pure: everything is handed in. Conditions need only
//! what happened ([`Happened`], a message's header), filters the issue and
//! the event ([`Subject`]): most messages trigger nothing and are done with
//! before the issue is read.

use chrono::{DateTime, Utc};
use faultline_protocol::{Event, Level};
use faultline_rules::{
    AgeComparison, AssigneeTarget, Condition, Filter, Interval, LevelMatch, Match, RuleSpec,
    ValueMatch,
};
use faultline_storage::{Group, UserId};
use serde_json::Value;

/// What a rule's filters are evaluated against.
pub struct Subject<'a> {
    pub group: &'a Group,
    pub event: Option<&'a Event>,
    pub now: DateTime<Utc>,
    /// The project's newest release (first seen last), for the
    /// latest-release filter.
    pub latest_release: Option<&'a str>,
}

/// What happened to the issue: all that conditions look at, known from a
/// message's header and the issue's counts.
#[derive(Debug, Clone, Copy)]
pub struct Happened<'a> {
    pub is_new: bool,
    pub is_regression: bool,
    /// An ignored issue came back (its snooze ran out).
    pub is_reappeared: bool,
    /// Within the windows the project's frequency conditions ask about.
    pub counts: &'a Counts,
}

/// An issue's events and distinct users within the windows of a
/// project's frequency conditions (kept by the notifier as messages pass,
/// so no event is read again to count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: Vec<(Interval, u64)>,
    pub users: Vec<(Interval, u64)>,
}

/// No counts: what a project without frequency conditions has.
pub static NO_COUNTS: Counts = Counts {
    events: Vec::new(),
    users: Vec::new(),
};

impl Counts {
    fn within(list: &[(Interval, u64)], interval: Interval) -> u64 {
        list.iter()
            .find(|(i, _)| *i == interval)
            .map_or(0, |(_, n)| *n)
    }
}

/// The windows `rules` count over: (events, users), each once.
pub fn windows<'a>(
    rules: impl IntoIterator<Item = &'a RuleSpec>,
) -> (Vec<Interval>, Vec<Interval>) {
    let (mut events, mut users) = (Vec::new(), Vec::new());
    for rule in rules {
        for condition in &rule.conditions {
            let (list, interval) = match condition {
                Condition::EventFrequency { interval, .. } => (&mut events, *interval),
                Condition::UniqueUserFrequency { interval, .. } => (&mut users, *interval),
                _ => continue,
            };
            if !list.contains(&interval) {
                list.push(interval);
            }
        }
    }
    (events, users)
}

/// Whether the rule's conditions are met: the cheap half of a rule,
/// which needs neither the issue nor the event, so most messages are done
/// with after it. A rule fires when this and [`passes_filters`] hold.
pub fn triggered(rule: &RuleSpec, happened: Happened<'_>) -> bool {
    // `none` of the conditions firing is not a trigger: a rule fires on
    // something that happened (Sentry treats it alike).
    match rule.action_match {
        Match::None => false,
        other => other.combine(rule.conditions.iter().map(|c| condition(c, happened))),
    }
}

/// Whether the event and the issue pass the rule's environment and filters.
pub fn passes_filters(rule: &RuleSpec, subject: &Subject<'_>) -> bool {
    if let Some(environment) = &rule.environment
        && subject.event.and_then(|e| e.environment.as_deref()) != Some(environment.as_str())
    {
        return false;
    }
    rule.filter_match
        .combine(rule.filters.iter().map(|f| filter(f, subject)))
}

fn condition(condition: &Condition, happened: Happened<'_>) -> bool {
    match condition {
        Condition::FirstSeen => happened.is_new,
        Condition::Regression => happened.is_regression,
        Condition::Reappeared => happened.is_reappeared,
        // "Seen more than {value} times in {interval}", the event at hand
        // counted.
        Condition::EventFrequency { value, interval } => {
            Counts::within(&happened.counts.events, *interval) > *value
        }
        Condition::UniqueUserFrequency { value, interval } => {
            Counts::within(&happened.counts.users, *interval) > *value
        }
    }
}

fn level_number(level: Level) -> u8 {
    match level {
        Level::Debug => 10,
        Level::Info => 20,
        Level::Warning => 30,
        Level::Error => 40,
        Level::Fatal => 50,
    }
}

fn filter(filter: &Filter, subject: &Subject<'_>) -> bool {
    let group = subject.group;
    match filter {
        Filter::Level { matcher, level } => {
            let seen = level_number(subject.event.map_or(group.level, |e| e.level));
            match matcher {
                LevelMatch::Equal => seen == *level,
                LevelMatch::GreaterOrEqual => seen >= *level,
                LevelMatch::LessOrEqual => seen <= *level,
            }
        }
        Filter::TaggedEvent {
            key,
            matcher,
            value,
        } => {
            let values: Vec<&str> = subject
                .event
                .map(|e| {
                    e.tags
                        .iter()
                        .filter(|(k, _)| k == key)
                        .map(|(_, v)| v.as_str())
                        .collect()
                })
                .unwrap_or_default();
            value_matches(*matcher, &values, value)
        }
        Filter::Age {
            comparison,
            value,
            unit,
        } => {
            let age = (subject.now - group.first_seen).num_seconds().max(0) as u64;
            let limit = value.saturating_mul(unit.seconds());
            match comparison {
                AgeComparison::Older => age > limit,
                AgeComparison::Newer => age < limit,
            }
        }
        Filter::Occurrences { value } => group.count.max(0) as u64 >= *value,
        Filter::AssignedTo { target } => match target {
            AssigneeTarget::Unassigned => group.assignee.is_none(),
            AssigneeTarget::Member(id) => group.assignee == Some(UserId(*id)),
            // Issues are assigned to members only so far.
            AssigneeTarget::Team(_) => false,
        },
        // Releases are not modelled yet: no event is from "the latest".
        // "The event is from the latest release": a release the project
        // has, named by the event.
        Filter::LatestRelease => {
            subject.latest_release.is_some()
                && subject.event.and_then(|e| e.release.as_deref()) == subject.latest_release
        }
        Filter::EventAttribute {
            attribute,
            matcher,
            value,
        } => {
            let values = subject
                .event
                .map(|e| attribute_values(e, attribute))
                .unwrap_or_default();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            value_matches(*matcher, &values, value)
        }
    }
}

/// Sentry's match types over the values an event has for a tag or an
/// attribute (several for `exception.type` of a chain, or frames). The
/// negative matches hold when no value matches.
fn value_matches(matcher: ValueMatch, values: &[&str], expected: &str) -> bool {
    let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
    let list = || expected.split(',').map(str::trim).collect::<Vec<_>>();
    match matcher {
        ValueMatch::Equal => any(&|v| v == expected),
        ValueMatch::NotEqual => !any(&|v| v == expected),
        ValueMatch::StartsWith => any(&|v| v.starts_with(expected)),
        ValueMatch::NotStartsWith => !any(&|v| v.starts_with(expected)),
        ValueMatch::EndsWith => any(&|v| v.ends_with(expected)),
        ValueMatch::NotEndsWith => !any(&|v| v.ends_with(expected)),
        ValueMatch::Contains => any(&|v| v.contains(expected)),
        ValueMatch::NotContains => !any(&|v| v.contains(expected)),
        ValueMatch::IsSet => !values.is_empty(),
        ValueMatch::NotSet => values.is_empty(),
        ValueMatch::IsIn => {
            let list = list();
            any(&|v| list.contains(&v))
        }
        ValueMatch::NotIn => {
            let list = list();
            !any(&|v| list.contains(&v))
        }
    }
}

/// The values of one of Sentry's event attributes.
fn attribute_values(event: &Event, attribute: &str) -> Vec<String> {
    let text = |s: Option<&str>| s.map(str::to_owned).into_iter().collect::<Vec<_>>();
    let frames = || {
        event
            .exception
            .iter()
            .filter_map(|e| e.stacktrace.as_ref())
            .flat_map(|s| s.frames.iter())
    };
    let user = |key: &str| {
        text(
            event
                .user
                .as_ref()
                .and_then(|u| u.get(key))
                .and_then(scalar)
                .as_deref(),
        )
    };
    let request = |key: &str| {
        text(
            event
                .request
                .as_ref()
                .and_then(|r| r.get(key))
                .and_then(scalar)
                .as_deref(),
        )
    };
    match attribute {
        "message" => {
            let mut out = text(
                event
                    .logentry
                    .as_ref()
                    .and_then(|l| l.formatted.as_deref().or(l.message.as_deref())),
            );
            out.extend(event.exception.iter().filter_map(|e| e.value.clone()));
            out
        }
        "platform" => vec![event.platform.clone()],
        "environment" => text(event.environment.as_deref()),
        "type" => vec![event.event_type().to_owned()],
        "error.handled" | "error.unhandled" => {
            let unhandled = event.exception.iter().any(|e| {
                e.mechanism
                    .as_ref()
                    .and_then(|m| m.get("handled"))
                    .and_then(Value::as_bool)
                    == Some(false)
            });
            if event.exception.is_empty() {
                Vec::new()
            } else if attribute == "error.unhandled" {
                vec![unhandled.to_string()]
            } else {
                vec![(!unhandled).to_string()]
            }
        }
        "exception.type" => event
            .exception
            .iter()
            .filter_map(|e| e.ty.clone())
            .collect(),
        "exception.value" => event
            .exception
            .iter()
            .filter_map(|e| e.value.clone())
            .collect(),
        "user.id" => user("id"),
        "user.email" => user("email"),
        "user.username" => user("username"),
        "user.ip_address" => user("ip_address"),
        "http.method" => request("method"),
        "http.url" => request("url"),
        "http.status_code" => event
            .contexts
            .get("response")
            .and_then(|r| r.get("status_code"))
            .and_then(scalar)
            .into_iter()
            .collect(),
        "sdk.name" => text(
            event
                .sdk
                .as_ref()
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str),
        ),
        "stacktrace.code" => frames().filter_map(|f| f.context_line.clone()).collect(),
        "stacktrace.module" => frames().filter_map(|f| f.module.clone()).collect(),
        "stacktrace.filename" => frames().filter_map(|f| f.filename.clone()).collect(),
        "stacktrace.abs_path" => frames().filter_map(|f| f.abs_path.clone()).collect(),
        "stacktrace.package" => frames().filter_map(|f| f.package.clone()).collect(),
        _ => Vec::new(),
    }
}

/// A JSON string or number as text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_protocol::{EventId, Exception, GroupId, ProjectId};
    use faultline_rules::{TimeUnit, default_rule};
    use faultline_storage::GroupStatus;
    use serde_json::json;

    fn group() -> Group {
        let now = Utc::now();
        Group {
            id: GroupId(1),
            project_id: ProjectId(1),
            short_id: 1,
            title: "ZeroDivisionError: division by zero".into(),
            culprit: "app.divide".into(),
            level: Level::Error,
            status: GroupStatus::Unresolved,
            substatus: None,
            event_type: "error".into(),
            platform: "python".into(),
            metadata: json!({}),
            count: 3,
            user_count: 1,
            first_seen: now - chrono::Duration::hours(2),
            last_seen: now,
            first_release: None,
            last_release: None,
            resolved_at: None,
            assignee: None,
        }
    }

    fn event() -> Event {
        let mut event: Event = serde_json::from_value(json!({
            "event_id": EventId::new_random().to_string(),
            "timestamp": "2026-12-03T10:00:00Z",
            "received": "2026-12-03T10:00:00Z",
            "level": "error",
            "platform": "python",
            "environment": "production",
            "release": "web@2.0",
            "tags": [["browser", "Chrome 120"], ["server_name", "web-1"]],
            "user": {"id": 42, "email": "jane@example.com"},
        }))
        .unwrap();
        event.exception.push(Exception {
            ty: Some("ZeroDivisionError".into()),
            value: Some("division by zero".into()),
            ..Default::default()
        });
        event
    }

    fn rule(body: Value) -> RuleSpec {
        RuleSpec::from_json(&body).unwrap()
    }

    /// A new (or not) issue's event, as a rule sees it.
    fn subject<'a>(
        group: &'a Group,
        event: &'a Event,
        is_new: bool,
    ) -> (Happened<'static>, Subject<'a>) {
        let happened = Happened {
            is_new,
            is_regression: false,
            is_reappeared: false,
            counts: &NO_COUNTS,
        };
        let subject = Subject {
            group,
            event: Some(event),
            now: Utc::now(),
            latest_release: Some("web@2.0"),
        };
        (happened, subject)
    }

    /// Whether the rule fires: both halves, as the notifier checks them.
    fn fires(rule: &RuleSpec, (happened, subject): &(Happened<'_>, Subject<'_>)) -> bool {
        triggered(rule, *happened) && passes_filters(rule, subject)
    }

    const EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";

    #[test]
    fn the_default_rule_fires_on_new_issues_only() {
        let (g, e) = (group(), event());
        assert!(fires(&default_rule(), &subject(&g, &e, true)));
        assert!(!fires(&default_rule(), &subject(&g, &e, false)));
        let regression = (
            Happened {
                is_new: false,
                is_regression: true,
                is_reappeared: false,
                counts: &NO_COUNTS,
            },
            subject(&g, &e, false).1,
        );
        let rule = rule(json!({
            "name": "r", "actionMatch": "any",
            "conditions": [{"id": faultline_rules::ids::FIRST_SEEN}, {"id": faultline_rules::ids::REGRESSION}],
            "actions": [{"id": EMAIL, "targetType": "IssueOwners"}]
        }));
        assert!(fires(&rule, &regression));
    }

    #[test]
    fn frequency_conditions_compare_the_counts_of_their_window() {
        let (g, e) = (group(), event());
        let spike = rule(json!({
            "name": "spike", "actionMatch": "any",
            "conditions": [
                {"id": faultline_rules::ids::EVENT_FREQUENCY, "value": 10, "interval": "5m"},
                {"id": faultline_rules::ids::UNIQUE_USER_FREQUENCY, "value": 2, "interval": "1h"}
            ],
            "actions": [{"id": EMAIL, "targetType": "IssueOwners"}]
        }));
        assert_eq!(
            windows([&spike]),
            (vec![Interval::FiveMinutes], vec![Interval::Hour])
        );
        let at = |events: u64, users: u64| Counts {
            events: vec![(Interval::FiveMinutes, events), (Interval::Hour, 99)],
            users: vec![(Interval::Hour, users)],
        };
        let (_, s) = subject(&g, &e, false);
        let fires_with = |counts: &Counts| {
            let happened = Happened {
                is_new: false,
                is_regression: false,
                is_reappeared: false,
                counts,
            };
            triggered(&spike, happened) && passes_filters(&spike, &s)
        };
        assert!(!fires_with(&at(10, 2)), "more than, not as many as");
        assert!(fires_with(&at(11, 0)));
        assert!(fires_with(&at(0, 3)));
        assert!(!fires_with(&NO_COUNTS));
    }

    #[test]
    fn filters_and_environment_narrow_a_rule() {
        let (g, e) = (group(), event());
        let with = |filters: Value, filter_match: &str| {
            rule(json!({
                "name": "r", "actionMatch": "all", "filterMatch": filter_match,
                "conditions": [{"id": faultline_rules::ids::FIRST_SEEN}],
                "filters": filters,
                "actions": [{"id": EMAIL, "targetType": "IssueOwners"}]
            }))
        };
        let s = subject(&g, &e, true);
        let level =
            |m: &str, l: &str| json!({"id": faultline_rules::ids::LEVEL, "match": m, "level": l});
        assert!(fires(&with(json!([level("gte", "40")]), "all"), &s));
        assert!(!fires(&with(json!([level("gte", "50")]), "all"), &s));
        assert!(fires(
            &with(json!([level("gte", "50"), level("eq", "40")]), "any"),
            &s
        ));
        assert!(!fires(&with(json!([level("eq", "40")]), "none"), &s));
        let tag = |m: &str, v: &str| json!({"id": faultline_rules::ids::TAGGED_EVENT, "key": "browser", "match": m, "value": v});
        assert!(fires(&with(json!([tag("sw", "Chrome")]), "all"), &s));
        assert!(!fires(&with(json!([tag("eq", "Firefox")]), "all"), &s));
        assert!(fires(
            &with(json!([tag("nin", "Firefox, Safari")]), "all"),
            &s
        ));
        let attr = |a: &str, m: &str, v: &str| json!({"id": faultline_rules::ids::EVENT_ATTRIBUTE, "attribute": a, "match": m, "value": v});
        assert!(fires(
            &with(
                json!([attr("exception.type", "eq", "ZeroDivisionError")]),
                "all"
            ),
            &s
        ));
        assert!(fires(
            &with(json!([attr("user.id", "eq", "42")]), "all"),
            &s
        ));
        assert!(!fires(
            &with(json!([attr("http.url", "is", "")]), "all"),
            &s
        ));
        let age = |c: &str, v: u64| json!({"id": faultline_rules::ids::AGE_COMPARISON, "comparison_type": c, "value": v, "time": "hour"});
        assert!(fires(&with(json!([age("older", 1)]), "all"), &s));
        assert!(!fires(&with(json!([age("newer", 1)]), "all"), &s));
        let seen = |v: u64| json!({"id": faultline_rules::ids::ISSUE_OCCURRENCES, "value": v});
        assert!(fires(&with(json!([seen(3)]), "all"), &s));
        assert!(!fires(&with(json!([seen(4)]), "all"), &s));
        let latest = json!({"id": faultline_rules::ids::LATEST_RELEASE});
        assert!(fires(&with(json!([latest.clone()]), "all"), &s));
        let mut older = event();
        older.release = Some("web@1.0".into());
        assert!(!fires(
            &with(json!([latest]), "all"),
            &subject(&g, &older, true)
        ));
        let unassigned =
            json!({"id": faultline_rules::ids::ASSIGNED_TO, "targetType": "Unassigned"});
        assert!(fires(&with(json!([unassigned]), "all"), &s));
        let _ = TimeUnit::Hour;

        let mut staging = with(json!([]), "all");
        staging.environment = Some("staging".into());
        assert!(!fires(&staging, &s));
        staging.environment = Some("production".into());
        assert!(fires(&staging, &s));
    }
}
