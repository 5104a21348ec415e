//! The conditions, filters and actions of a rule: each parsed from Sentry's
//! JSON object (its `id` and fields) and written back with Sentry's wording.

use serde_json::{Map, Value, json};

use crate::ids;

/// Longest tag key, value or attribute value a filter may compare (Sentry
/// caps tag values at 200 characters).
const MAX_TEXT: usize = 200;

/// What starts a rule: something that happened to the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// "A new issue is created".
    FirstSeen,
    /// A resolved issue is seen again.
    Regression,
    /// An ignored issue is seen again.
    Reappeared,
    /// More than `value` events in the interval.
    EventFrequency { value: u64, interval: Interval },
    /// More than `value` distinct users in the interval.
    UniqueUserFrequency { value: u64, interval: Interval },
}

/// The intervals Sentry offers for frequency conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Minute,
    FiveMinutes,
    FifteenMinutes,
    Hour,
    Day,
    Week,
    ThirtyDays,
}

impl Interval {
    pub const ALL: [Interval; 7] = [
        Interval::Minute,
        Interval::FiveMinutes,
        Interval::FifteenMinutes,
        Interval::Hour,
        Interval::Day,
        Interval::Week,
        Interval::ThirtyDays,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "1m",
            Interval::FiveMinutes => "5m",
            Interval::FifteenMinutes => "15m",
            Interval::Hour => "1h",
            Interval::Day => "1d",
            Interval::Week => "1w",
            Interval::ThirtyDays => "30d",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }

    /// Sentry's words for it, as its rule editor shows them.
    pub fn label(self) -> &'static str {
        match self {
            Interval::Minute => "one minute",
            Interval::FiveMinutes => "5 minutes",
            Interval::FifteenMinutes => "15 minutes",
            Interval::Hour => "one hour",
            Interval::Day => "one day",
            Interval::Week => "one week",
            Interval::ThirtyDays => "30 days",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            Interval::Minute => 60,
            Interval::FiveMinutes => 300,
            Interval::FifteenMinutes => 900,
            Interval::Hour => 3600,
            Interval::Day => 86_400,
            Interval::Week => 604_800,
            Interval::ThirtyDays => 2_592_000,
        }
    }
}

/// What narrows a rule down: a property of the event or the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The event's level compared with `level` (Sentry's numbers: 50
    /// fatal, 40 error, 30 warning, 20 info, 10 debug).
    Level { matcher: LevelMatch, level: u8 },
    /// One of the event's tags.
    TaggedEvent {
        key: String,
        matcher: ValueMatch,
        value: String,
    },
    /// The issue's age (since first seen).
    Age {
        comparison: AgeComparison,
        value: u64,
        unit: TimeUnit,
    },
    /// The issue has happened at least `value` times.
    Occurrences { value: u64 },
    /// Who the issue is assigned to.
    AssignedTo { target: AssigneeTarget },
    /// The event is from the project's latest release.
    LatestRelease,
    /// An attribute of the event (`message`, `exception.type`, …).
    EventAttribute {
        attribute: String,
        matcher: ValueMatch,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMatch {
    Equal,
    GreaterOrEqual,
    LessOrEqual,
}

/// Sentry's match types for tags and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMatch {
    Equal,
    NotEqual,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
    IsSet,
    NotSet,
    IsIn,
    NotIn,
}

const VALUE_MATCHES: [(ValueMatch, &str, &str); 12] = [
    (ValueMatch::Equal, "eq", "equals"),
    (ValueMatch::NotEqual, "ne", "does not equal"),
    (ValueMatch::StartsWith, "sw", "starts with"),
    (ValueMatch::NotStartsWith, "nsw", "does not start with"),
    (ValueMatch::EndsWith, "ew", "ends with"),
    (ValueMatch::NotEndsWith, "new", "does not end with"),
    (ValueMatch::Contains, "co", "contains"),
    (ValueMatch::NotContains, "nc", "does not contain"),
    (ValueMatch::IsSet, "is", "is set"),
    (ValueMatch::NotSet, "ns", "is not set"),
    (ValueMatch::IsIn, "in", "is in (comma separated)"),
    (ValueMatch::NotIn, "nin", "not in (comma separated)"),
];

impl ValueMatch {
    pub fn parse(s: &str) -> Option<Self> {
        VALUE_MATCHES.iter().find(|m| m.1 == s).map(|m| m.0)
    }

    pub fn as_str(self) -> &'static str {
        VALUE_MATCHES
            .iter()
            .find(|m| m.0 == self)
            .map_or("eq", |m| m.1)
    }

    pub fn label(self) -> &'static str {
        VALUE_MATCHES
            .iter()
            .find(|m| m.0 == self)
            .map_or("equals", |m| m.2)
    }

    /// Whether the match needs a value to compare with.
    pub fn needs_value(self) -> bool {
        !matches!(self, ValueMatch::IsSet | ValueMatch::NotSet)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeComparison {
    Older,
    Newer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Minute,
    Hour,
    Day,
    Week,
}

impl TimeUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
        }
    }

    pub fn seconds(self) -> u64 {
        match self {
            TimeUnit::Minute => 60,
            TimeUnit::Hour => 3600,
            TimeUnit::Day => 86_400,
            TimeUnit::Week => 604_800,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeTarget {
    Unassigned,
    Member(i64),
    Team(i64),
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Email the target, or the fallthrough when the target has nobody.
    Email {
        target: EmailTarget,
        fallthrough: Fallthrough,
    },
    /// Send through one project plugin (`webhooks`, `slack`, …).
    Service { service: String },
    /// Send through every enabled plugin.
    AllLegacy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTarget {
    IssueOwners,
    Team(i64),
    Member(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallthrough {
    ActiveMembers,
    AllMembers,
    NoOne,
}

impl Fallthrough {
    pub fn as_str(self) -> &'static str {
        match self {
            Fallthrough::ActiveMembers => "ActiveMembers",
            Fallthrough::AllMembers => "AllMembers",
            Fallthrough::NoOne => "NoOne",
        }
    }
}

/// The plugin slugs a [`Action::Service`] may name.
pub const SERVICES: &[&str] = &[
    "webhooks", "slack", "discord", "msteams", "dingtalk", "feishu", "wecom", "mail",
];

/// The event attributes Sentry's attribute filter offers.
pub const ATTRIBUTES: &[&str] = &[
    "message",
    "platform",
    "environment",
    "type",
    "error.handled",
    "error.unhandled",
    "exception.type",
    "exception.value",
    "user.id",
    "user.email",
    "user.username",
    "user.ip_address",
    "http.method",
    "http.url",
    "http.status_code",
    "sdk.name",
    "stacktrace.code",
    "stacktrace.module",
    "stacktrace.filename",
    "stacktrace.abs_path",
    "stacktrace.package",
];

/// Sentry's level numbers and names.
const LEVELS: [(u8, &str); 6] = [
    (50, "fatal"),
    (40, "error"),
    (30, "warning"),
    (20, "info"),
    (10, "debug"),
    (0, "sample"),
];

pub(crate) fn level_name(level: u8) -> &'static str {
    LEVELS
        .iter()
        .find(|l| l.0 == level)
        .map_or("error", |l| l.1)
}

/// One item's fields, read the way Sentry's forms send them (numbers may
/// come as strings).
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, key: &str) -> Result<String, String> {
        match self.0.get(key) {
            Some(Value::String(s)) if s.chars().count() <= MAX_TEXT => Ok(s.trim().to_owned()),
            Some(Value::String(_)) => Err(format!("{key} is longer than {MAX_TEXT} characters")),
            Some(Value::Number(n)) => Ok(n.to_string()),
            None | Some(Value::Null) => Err(format!("{key} is required")),
            Some(_) => Err(format!("{key} must be a string")),
        }
    }

    fn number(&self, key: &str) -> Result<u64, String> {
        let bad = || format!("{key} must be a whole number of at least 0");
        match self.0.get(key) {
            Some(Value::Number(n)) => n.as_u64().ok_or_else(bad),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
            None | Some(Value::Null) => Err(format!("{key} is required")),
            Some(_) => Err(bad()),
        }
    }

    fn id(&self, key: &str) -> Result<i64, String> {
        let n = self.number(key)?;
        i64::try_from(n).map_err(|_| format!("{key} is out of range"))
    }
}

fn object(value: &Value) -> Result<(&str, Fields<'_>), String> {
    let map = value
        .as_object()
        .ok_or("each item must be an object with an id")?;
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .ok_or("each item must have an id")?;
    Ok((id, Fields(map)))
}

impl Condition {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let (id, fields) = object(value)?;
        Ok(match id {
            ids::FIRST_SEEN => Condition::FirstSeen,
            ids::REGRESSION => Condition::Regression,
            ids::REAPPEARED => Condition::Reappeared,
            ids::EVENT_FREQUENCY | ids::UNIQUE_USER_FREQUENCY => {
                if let Some(kind) = value.get("comparisonType").and_then(Value::as_str)
                    && kind != "count"
                {
                    return Err(format!("comparisonType {kind} is not supported"));
                }
                let value = fields.number("value")?;
                let interval = fields.text("interval")?;
                let interval = Interval::parse(&interval).ok_or_else(|| {
                    format!(
                        "interval must be one of {}",
                        Interval::ALL.map(Interval::as_str).join(", ")
                    )
                })?;
                if id == ids::EVENT_FREQUENCY {
                    Condition::EventFrequency { value, interval }
                } else {
                    Condition::UniqueUserFrequency { value, interval }
                }
            }
            other => return Err(format!("unknown condition: {other}")),
        })
    }

    pub fn id(&self) -> &'static str {
        match self {
            Condition::FirstSeen => ids::FIRST_SEEN,
            Condition::Regression => ids::REGRESSION,
            Condition::Reappeared => ids::REAPPEARED,
            Condition::EventFrequency { .. } => ids::EVENT_FREQUENCY,
            Condition::UniqueUserFrequency { .. } => ids::UNIQUE_USER_FREQUENCY,
        }
    }

    /// Sentry's wording.
    pub fn label(&self) -> String {
        match self {
            Condition::FirstSeen => "A new issue is created".to_owned(),
            Condition::Regression => "The issue changes state from resolved to unresolved".into(),
            Condition::Reappeared => "The issue changes state from ignored to unresolved".into(),
            Condition::EventFrequency { value, interval } => {
                format!(
                    "The issue is seen more than {value} times in {}",
                    interval.label()
                )
            }
            Condition::UniqueUserFrequency { value, interval } => format!(
                "The issue is seen by more than {value} users in {}",
                interval.label()
            ),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id(), "name": self.label()});
        if let Condition::EventFrequency { value, interval }
        | Condition::UniqueUserFrequency { value, interval } = self
        {
            v["value"] = json!(value);
            v["interval"] = json!(interval.as_str());
            v["comparisonType"] = json!("count");
        }
        v
    }
}

impl Filter {
    /// Whether `id` names a filter (Sentry's older rules list filters among
    /// their conditions).
    pub fn is_filter_id(id: &str) -> bool {
        [
            ids::LEVEL,
            ids::TAGGED_EVENT,
            ids::AGE_COMPARISON,
            ids::ISSUE_OCCURRENCES,
            ids::ASSIGNED_TO,
            ids::LATEST_RELEASE,
            ids::EVENT_ATTRIBUTE,
            ids::EVENT_ATTRIBUTE_FILTER,
        ]
        .contains(&id)
    }

    pub fn parse(value: &Value) -> Result<Self, String> {
        let (id, fields) = object(value)?;
        Ok(match id {
            ids::LEVEL => {
                let matcher = match fields.text("match")?.as_str() {
                    "eq" => LevelMatch::Equal,
                    "gte" => LevelMatch::GreaterOrEqual,
                    "lte" => LevelMatch::LessOrEqual,
                    other => return Err(format!("unknown level match: {other}")),
                };
                let level = fields.text("level")?;
                let level = LEVELS
                    .iter()
                    .find(|l| l.0.to_string() == level || l.1 == level)
                    .ok_or_else(|| format!("unknown level: {level}"))?
                    .0;
                Filter::Level { matcher, level }
            }
            ids::TAGGED_EVENT | ids::EVENT_ATTRIBUTE | ids::EVENT_ATTRIBUTE_FILTER => {
                let name = if id == ids::TAGGED_EVENT {
                    "key"
                } else {
                    "attribute"
                };
                let subject = fields.text(name)?;
                if subject.is_empty() {
                    return Err(format!("{name} is required"));
                }
                let matcher = fields.text("match")?;
                let matcher = ValueMatch::parse(&matcher)
                    .ok_or_else(|| format!("unknown match type: {matcher}"))?;
                let value = if matcher.needs_value() {
                    fields.text("value")?
                } else {
                    String::new()
                };
                if id == ids::TAGGED_EVENT {
                    Filter::TaggedEvent {
                        key: subject,
                        matcher,
                        value,
                    }
                } else {
                    if !ATTRIBUTES.contains(&subject.as_str()) {
                        return Err(format!("unknown event attribute: {subject}"));
                    }
                    Filter::EventAttribute {
                        attribute: subject,
                        matcher,
                        value,
                    }
                }
            }
            ids::AGE_COMPARISON => {
                let comparison = match fields.text("comparison_type")?.as_str() {
                    "older" => AgeComparison::Older,
                    "newer" => AgeComparison::Newer,
                    other => return Err(format!("unknown comparison_type: {other}")),
                };
                let value = fields.number("value")?;
                let unit = match fields.text("time")?.as_str() {
                    "minute" => TimeUnit::Minute,
                    "hour" => TimeUnit::Hour,
                    "day" => TimeUnit::Day,
                    "week" => TimeUnit::Week,
                    other => return Err(format!("unknown time unit: {other}")),
                };
                Filter::Age {
                    comparison,
                    value,
                    unit,
                }
            }
            ids::ISSUE_OCCURRENCES => Filter::Occurrences {
                value: fields.number("value")?,
            },
            ids::ASSIGNED_TO => {
                let target = match fields.text("targetType")?.as_str() {
                    "Unassigned" => AssigneeTarget::Unassigned,
                    "Member" => AssigneeTarget::Member(fields.id("targetIdentifier")?),
                    "Team" => AssigneeTarget::Team(fields.id("targetIdentifier")?),
                    other => return Err(format!("unknown targetType: {other}")),
                };
                Filter::AssignedTo { target }
            }
            ids::LATEST_RELEASE => Filter::LatestRelease,
            other => return Err(format!("unknown filter: {other}")),
        })
    }

    pub fn id(&self) -> &'static str {
        match self {
            Filter::Level { .. } => ids::LEVEL,
            Filter::TaggedEvent { .. } => ids::TAGGED_EVENT,
            Filter::Age { .. } => ids::AGE_COMPARISON,
            Filter::Occurrences { .. } => ids::ISSUE_OCCURRENCES,
            Filter::AssignedTo { .. } => ids::ASSIGNED_TO,
            Filter::LatestRelease => ids::LATEST_RELEASE,
            Filter::EventAttribute { .. } => ids::EVENT_ATTRIBUTE,
        }
    }

    /// Sentry's wording.
    pub fn label(&self) -> String {
        match self {
            Filter::Level { matcher, level } => {
                let matcher = match matcher {
                    LevelMatch::Equal => "equal to",
                    LevelMatch::GreaterOrEqual => "greater than or equal to",
                    LevelMatch::LessOrEqual => "less than or equal to",
                };
                format!("The event's level is {matcher} {}", level_name(*level))
            }
            Filter::TaggedEvent {
                key,
                matcher,
                value,
            } => format!("The event's tags match {key} {} {value}", matcher.label())
                .trim_end()
                .to_owned(),
            Filter::Age {
                comparison,
                value,
                unit,
            } => {
                let comparison = match comparison {
                    AgeComparison::Older => "older",
                    AgeComparison::Newer => "newer",
                };
                let plural = if *value == 1 { "" } else { "s" };
                format!(
                    "The issue is {comparison} than {value} {}{plural}",
                    unit.as_str()
                )
            }
            Filter::Occurrences { value } => {
                format!("The issue has happened at least {value} times")
            }
            Filter::AssignedTo { target } => match target {
                AssigneeTarget::Unassigned => "The issue is assigned to no one".to_owned(),
                AssigneeTarget::Member(_) => "The issue is assigned to a member".to_owned(),
                AssigneeTarget::Team(_) => "The issue is assigned to a team".to_owned(),
            },
            Filter::LatestRelease => "The event is from the latest release".to_owned(),
            Filter::EventAttribute {
                attribute,
                matcher,
                value,
            } => format!("The event's {attribute} value {} {value}", matcher.label())
                .trim_end()
                .to_owned(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id(), "name": self.label()});
        match self {
            Filter::Level { matcher, level } => {
                v["match"] = json!(match matcher {
                    LevelMatch::Equal => "eq",
                    LevelMatch::GreaterOrEqual => "gte",
                    LevelMatch::LessOrEqual => "lte",
                });
                v["level"] = json!(level.to_string());
            }
            Filter::TaggedEvent {
                key,
                matcher,
                value,
            } => {
                v["key"] = json!(key);
                v["match"] = json!(matcher.as_str());
                v["value"] = json!(value);
            }
            Filter::EventAttribute {
                attribute,
                matcher,
                value,
            } => {
                v["attribute"] = json!(attribute);
                v["match"] = json!(matcher.as_str());
                v["value"] = json!(value);
            }
            Filter::Age {
                comparison,
                value,
                unit,
            } => {
                v["comparison_type"] = json!(match comparison {
                    AgeComparison::Older => "older",
                    AgeComparison::Newer => "newer",
                });
                v["value"] = json!(value);
                v["time"] = json!(unit.as_str());
            }
            Filter::Occurrences { value } => v["value"] = json!(value),
            Filter::AssignedTo { target } => match target {
                AssigneeTarget::Unassigned => {
                    v["targetType"] = json!("Unassigned");
                    v["targetIdentifier"] = json!("");
                }
                AssigneeTarget::Member(id) => {
                    v["targetType"] = json!("Member");
                    v["targetIdentifier"] = json!(id);
                }
                AssigneeTarget::Team(id) => {
                    v["targetType"] = json!("Team");
                    v["targetIdentifier"] = json!(id);
                }
            },
            Filter::LatestRelease => {}
        }
        v
    }
}

impl Action {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let (id, fields) = object(value)?;
        Ok(match id {
            ids::NOTIFY_EMAIL => {
                let target = match fields.text("targetType")?.as_str() {
                    "IssueOwners" => EmailTarget::IssueOwners,
                    "Team" => EmailTarget::Team(fields.id("targetIdentifier")?),
                    "Member" => EmailTarget::Member(fields.id("targetIdentifier")?),
                    other => return Err(format!("unknown targetType: {other}")),
                };
                // Sentry's default when the form leaves it out.
                let fallthrough = match fields.0.get("fallthroughType").and_then(Value::as_str) {
                    None | Some("ActiveMembers") => Fallthrough::ActiveMembers,
                    Some("AllMembers") => Fallthrough::AllMembers,
                    Some("NoOne") => Fallthrough::NoOne,
                    Some(other) => return Err(format!("unknown fallthroughType: {other}")),
                };
                Action::Email {
                    target,
                    fallthrough,
                }
            }
            ids::NOTIFY_SERVICE => {
                let service = fields.text("service")?;
                if !SERVICES.contains(&service.as_str()) {
                    return Err(format!("unknown service: {service}"));
                }
                Action::Service { service }
            }
            ids::NOTIFY_LEGACY => Action::AllLegacy,
            other => return Err(format!("unknown action: {other}")),
        })
    }

    pub fn id(&self) -> &'static str {
        match self {
            Action::Email { .. } => ids::NOTIFY_EMAIL,
            Action::Service { .. } => ids::NOTIFY_SERVICE,
            Action::AllLegacy => ids::NOTIFY_LEGACY,
        }
    }

    /// Sentry's wording.
    pub fn label(&self) -> String {
        match self {
            Action::Email {
                target,
                fallthrough,
            } => {
                let target = match target {
                    EmailTarget::IssueOwners => "Suggested Assignees",
                    EmailTarget::Team(_) => "Team",
                    EmailTarget::Member(_) => "Member",
                };
                let fallthrough = match fallthrough {
                    Fallthrough::ActiveMembers => "Recently Active Members",
                    Fallthrough::AllMembers => "All Project Members",
                    Fallthrough::NoOne => "No One",
                };
                format!(
                    "Send a notification to {target} and if none can be found then send a notification to {fallthrough}"
                )
            }
            Action::Service { service } => format!("Send a notification via {service}"),
            Action::AllLegacy => "Send a notification to all legacy integrations".to_owned(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id(), "name": self.label()});
        match self {
            Action::Email {
                target,
                fallthrough,
            } => {
                let (kind, id) = match target {
                    EmailTarget::IssueOwners => ("IssueOwners", json!("")),
                    EmailTarget::Team(id) => ("Team", json!(id)),
                    EmailTarget::Member(id) => ("Member", json!(id)),
                };
                v["targetType"] = json!(kind);
                v["targetIdentifier"] = id;
                v["fallthroughType"] = json!(fallthrough.as_str());
            }
            Action::Service { service } => v["service"] = json!(service),
            Action::AllLegacy => {}
        }
        v
    }
}
