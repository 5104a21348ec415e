//! A whole rule: what Sentry's API takes and gives, checked field by field.

use serde_json::{Map, Value, json};

use crate::{Action, Condition, Filter};

/// Longest rule name (Sentry's column holds 256 characters).
const MAX_NAME: usize = 256;
/// Most conditions, filters or actions one rule may have: enough for any
/// rule a person writes, few enough that evaluating 50 rules stays cheap.
const MAX_ITEMS: usize = 50;
/// Sentry's bounds on the action interval, in minutes (5 minutes to 30 days).
const FREQUENCY: std::ops::RangeInclusive<u64> = 5..=43_200;
/// What a rule waits between firings for one issue when the body says
/// nothing: Sentry's default.
const DEFAULT_FREQUENCY: u32 = 30;

/// How a rule combines its conditions (`actionMatch`) or filters
/// (`filterMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    All,
    Any,
    None,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::All => "all",
            Match::Any => "any",
            Match::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Match::All),
            "any" => Some(Match::Any),
            "none" => Some(Match::None),
            _ => None,
        }
    }

    /// Combines the outcomes; an empty list of filters passes under every
    /// match, as in Sentry.
    pub fn combine(self, mut outcomes: impl Iterator<Item = bool>) -> bool {
        match self {
            Match::All => outcomes.all(|o| o),
            Match::Any => {
                let mut any = false;
                let mut empty = true;
                for o in outcomes {
                    empty = false;
                    any |= o;
                }
                empty || any
            }
            Match::None => !outcomes.any(|o| o),
        }
    }
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub name: String,
    pub conditions: Vec<Condition>,
    pub filters: Vec<Filter>,
    pub actions: Vec<Action>,
    pub action_match: Match,
    pub filter_match: Match,
    /// Least time between two firings for one issue, in minutes.
    pub frequency_minutes: u32,
    /// Only events of this environment, when set.
    pub environment: Option<String>,
}

/// What is wrong with a rule body, by field, in the order found: Sentry's
/// 400 answer (`{"name": ["This field is required."]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule: {}", self.summary())]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    fn summary(&self) -> String {
        self.0
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sentry's shape: each field with the list of its messages.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (field, message) in &self.0 {
            let list = map.entry(field.clone()).or_insert_with(|| json!([]));
            if let Value::Array(list) = list {
                list.push(json!(message));
            }
        }
        Value::Object(map)
    }
}

impl RuleSpec {
    /// Checks a rule body as `POST …/rules/` and `PUT …/rules/{id}/` take it.
    pub fn from_json(body: &Value) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let Some(body) = body.as_object() else {
            errors.add("detail", "The body must be a JSON object.");
            return Err(errors);
        };
        let name = match body.get("name") {
            Some(Value::String(s)) if s.trim().is_empty() => {
                errors.add("name", "This field may not be blank.");
                String::new()
            }
            Some(Value::String(s)) if s.trim().chars().count() > MAX_NAME => {
                errors.add(
                    "name",
                    format!("Ensure this field has no more than {MAX_NAME} characters."),
                );
                String::new()
            }
            Some(Value::String(s)) => s.trim().to_owned(),
            None | Some(Value::Null) => {
                errors.add("name", "This field is required.");
                String::new()
            }
            Some(_) => {
                errors.add("name", "Not a valid string.");
                String::new()
            }
        };
        let action_match = read_match(body, "actionMatch", None, &mut errors);
        let filter_match = read_match(body, "filterMatch", Some(Match::All), &mut errors);
        let frequency_minutes = match body.get("frequency") {
            None | Some(Value::Null) => DEFAULT_FREQUENCY,
            Some(v) => match v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(n) if FREQUENCY.contains(&n) => n as u32,
                _ => {
                    errors.add(
                        "frequency",
                        format!(
                            "Ensure this value is a whole number from {} to {} (minutes).",
                            FREQUENCY.start(),
                            FREQUENCY.end()
                        ),
                    );
                    DEFAULT_FREQUENCY
                }
            },
        };
        let environment = match body.get("environment") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if s.chars().count() <= 64 => Some(s.trim().to_owned()),
            Some(_) => {
                errors.add("environment", "This environment has not been created.");
                None
            }
        };

        let mut conditions = Vec::new();
        let mut filters = Vec::new();
        for item in items(body, "conditions", &mut errors) {
            // Older rules list filters among their conditions; Sentry
            // reads them as filters.
            let is_filter = item
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(Filter::is_filter_id);
            if is_filter {
                match Filter::parse(item) {
                    Ok(f) => filters.push(f),
                    Err(e) => errors.add("conditions", e),
                }
            } else {
                match Condition::parse(item) {
                    Ok(c) => conditions.push(c),
                    Err(e) => errors.add("conditions", e),
                }
            }
        }
        for item in items(body, "filters", &mut errors) {
            match Filter::parse(item) {
                Ok(f) => filters.push(f),
                Err(e) => errors.add("filters", e),
            }
        }
        let mut actions = Vec::new();
        for item in items(body, "actions", &mut errors) {
            match Action::parse(item) {
                Ok(a) => actions.push(a),
                Err(e) => errors.add("actions", e),
            }
        }
        if conditions.is_empty() && !errors.0.iter().any(|(f, _)| f == "conditions") {
            errors.add("conditions", "You must add at least one trigger.");
        }
        if actions.is_empty() && !errors.0.iter().any(|(f, _)| f == "actions") {
            errors.add("actions", "You must add an action for this alert to fire.");
        }
        if filters.len() > MAX_ITEMS {
            errors.add("filters", format!("At most {MAX_ITEMS} filters."));
        }

        if !errors.0.is_empty() {
            return Err(errors);
        }
        Ok(RuleSpec {
            name,
            conditions,
            filters,
            actions,
            action_match: action_match.unwrap_or(Match::All),
            filter_match: filter_match.unwrap_or(Match::All),
            frequency_minutes,
            environment,
        })
    }

    /// The canonical JSON: Sentry's fields, each item with its wording.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "conditions": self.conditions.iter().map(Condition::to_json).collect::<Vec<_>>(),
            "filters": self.filters.iter().map(Filter::to_json).collect::<Vec<_>>(),
            "actions": self.actions.iter().map(Action::to_json).collect::<Vec<_>>(),
            "actionMatch": self.action_match.as_str(),
            "filterMatch": self.filter_match.as_str(),
            "frequency": self.frequency_minutes,
            "environment": self.environment,
        })
    }
}

fn read_match(
    body: &Map<String, Value>,
    field: &str,
    default: Option<Match>,
    errors: &mut FieldErrors,
) -> Option<Match> {
    match body.get(field) {
        None | Some(Value::Null) if default.is_some() => default,
        None | Some(Value::Null) => {
            errors.add(field, "This field is required.");
            None
        }
        Some(v) => match v.as_str().and_then(Match::parse) {
            Some(m) => Some(m),
            None => {
                errors.add(field, format!("\"{v}\" is not a valid choice."));
                None
            }
        },
    }
}

fn items<'a>(body: &'a Map<String, Value>, field: &str, errors: &mut FieldErrors) -> &'a [Value] {
    match body.get(field) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(list)) if list.len() <= MAX_ITEMS => list,
        Some(Value::Array(_)) => {
            errors.add(field, format!("At most {MAX_ITEMS} items."));
            &[]
        }
        Some(_) => {
            errors.add(field, "Expected a list of items.");
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EmailTarget, Fallthrough, Interval, LevelMatch, ValueMatch, default_rule, ids};

    fn body() -> Value {
        json!({
            "name": "  Errors spike ",
            "actionMatch": "any",
            "filterMatch": "all",
            "frequency": 60,
            "environment": "production",
            "conditions": [
                {"id": ids::FIRST_SEEN},
                {"id": ids::EVENT_FREQUENCY, "value": "100", "interval": "1h", "comparisonType": "count"},
                {"id": ids::LEVEL, "match": "gte", "level": "40"}
            ],
            "filters": [
                {"id": ids::TAGGED_EVENT, "key": "browser", "match": "sw", "value": "Chrome"},
                {"id": ids::EVENT_ATTRIBUTE_FILTER, "attribute": "exception.type", "match": "is"}
            ],
            "actions": [
                {"id": ids::NOTIFY_EMAIL, "targetType": "Member", "targetIdentifier": "7"},
                {"id": ids::NOTIFY_SERVICE, "service": "dingtalk"}
            ]
        })
    }

    #[test]
    fn a_sentry_rule_body_parses_with_filters_moved_out_of_conditions() {
        let rule = RuleSpec::from_json(&body()).unwrap();
        assert_eq!(rule.name, "Errors spike");
        assert_eq!(rule.action_match, Match::Any);
        assert_eq!(rule.frequency_minutes, 60);
        assert_eq!(rule.environment.as_deref(), Some("production"));
        assert_eq!(
            rule.conditions,
            [
                Condition::FirstSeen,
                Condition::EventFrequency {
                    value: 100,
                    interval: Interval::Hour
                }
            ]
        );
        assert_eq!(
            rule.filters[0],
            Filter::Level {
                matcher: LevelMatch::GreaterOrEqual,
                level: 40
            }
        );
        assert!(matches!(
            &rule.filters[2],
            Filter::EventAttribute {
                matcher: ValueMatch::IsSet,
                ..
            }
        ));
        assert_eq!(
            rule.actions[0],
            Action::Email {
                target: EmailTarget::Member(7),
                fallthrough: Fallthrough::ActiveMembers
            }
        );
    }

    #[test]
    fn the_canonical_json_parses_back_to_the_same_rule_with_sentrys_wording() {
        let rule = RuleSpec::from_json(&body()).unwrap();
        let json = rule.to_json();
        assert_eq!(RuleSpec::from_json(&json).unwrap(), rule);
        assert_eq!(
            json["conditions"][1]["name"],
            "The issue is seen more than 100 times in one hour"
        );
        assert_eq!(
            json["filters"][0]["name"],
            "The event's level is greater than or equal to error"
        );
        assert_eq!(json["filters"][2]["id"], ids::EVENT_ATTRIBUTE);
        assert_eq!(
            json["actions"][1]["name"],
            "Send a notification via dingtalk"
        );
        let default = default_rule().to_json();
        assert_eq!(default["conditions"][0]["name"], "A new issue is created");
        assert_eq!(default["actions"][0]["targetType"], "IssueOwners");
        assert_eq!(default["actions"][0]["fallthroughType"], "ActiveMembers");
        assert_eq!(RuleSpec::from_json(&default).unwrap(), default_rule());
    }

    #[test]
    fn every_problem_is_reported_by_field() {
        let errors = RuleSpec::from_json(&json!({
            "frequency": 1,
            "actionMatch": "most",
            "conditions": [{"id": "sentry.rules.conditions.nope.Nope"}, 3],
            "filters": [{"id": ids::AGE_COMPARISON, "comparison_type": "older", "value": -1, "time": "day"}],
            "actions": []
        }))
        .unwrap_err();
        let json = errors.to_json();
        assert_eq!(json["name"][0], "This field is required.");
        assert!(
            json["actionMatch"][0]
                .as_str()
                .unwrap()
                .contains("not a valid choice")
        );
        assert!(
            json["frequency"][0]
                .as_str()
                .unwrap()
                .contains("5 to 43200")
        );
        assert_eq!(json["conditions"].as_array().unwrap().len(), 2);
        assert!(json["filters"][0].as_str().unwrap().contains("value"));
        assert_eq!(
            json["actions"][0],
            "You must add an action for this alert to fire."
        );
        assert!(RuleSpec::from_json(&json!("rule")).is_err());
    }

    #[test]
    fn hostile_bodies_are_bounded() {
        let many: Vec<Value> = (0..51).map(|_| json!({"id": ids::FIRST_SEEN})).collect();
        let mut b = body();
        b["conditions"] = json!(many);
        assert!(RuleSpec::from_json(&b).unwrap_err().to_json()["conditions"].is_array());
        let mut b = body();
        b["name"] = json!("x".repeat(257));
        assert!(RuleSpec::from_json(&b).is_err());
        let mut b = body();
        b["filters"] =
            json!([{"id": ids::TAGGED_EVENT, "key": "k", "match": "eq", "value": "v".repeat(201)}]);
        assert!(RuleSpec::from_json(&b).is_err());
        let mut b = body();
        b["actions"] = json!([{"id": ids::NOTIFY_EMAIL, "targetType": "Member", "targetIdentifier": "99999999999999999999"}]);
        assert!(RuleSpec::from_json(&b).is_err());
    }

    #[test]
    fn matches_combine_as_sentry_does() {
        assert!(Match::All.combine([true, true].into_iter()));
        assert!(!Match::All.combine([true, false].into_iter()));
        assert!(Match::Any.combine([false, true].into_iter()));
        assert!(!Match::Any.combine([false, false].into_iter()));
        assert!(Match::Any.combine(std::iter::empty()));
        assert!(Match::None.combine([false, false].into_iter()));
        assert!(!Match::None.combine([true, false].into_iter()));
    }
}
