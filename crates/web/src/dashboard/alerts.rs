//! The Alerts pages: every project's issue alert rules (list, create,
//! disable, enable, delete) and each rule's page (what it does, in Sentry's
//! wording, its history of issues fired for and what each delivery did,
//! and editing it). The forms build Sentry's rule JSON, so the rules of
//! `ops::rules` (and `faultline-rules`) apply exactly as for the API.

use actix_web::{HttpRequest, web};
use askama::Template;
use faultline_rules::{
    ATTRIBUTES, Action, AgeComparison, AssigneeTarget, Condition, EmailTarget, Filter, Interval,
    LevelMatch, RuleSpec, SERVICES, ids,
};
use faultline_storage::{AlertRule, Project};
use serde_json::{Value, json};

use super::error::{PageResult, ShowRefusal, form_status};
use super::form_field;
use super::pages::{Ctx, context, form_context};
use super::session::redirect;
use super::views::{Nav, render_status};
use crate::WebState;
use crate::ops;
use crate::scopes;
use crate::serialize::iso;

/// Most firings a rule's page shows.
const HISTORY: usize = 100;

pub struct RuleRow {
    pub id: i64,
    pub project: String,
    pub name: String,
    pub active: bool,
    /// Each condition, filter and action in Sentry's words.
    pub when: Vec<String>,
    pub filters: Vec<String>,
    pub then: Vec<String>,
    pub action_match: String,
    pub frequency: u64,
    pub environment: Option<String>,
    pub last_triggered: Option<String>,
}

fn names(data: &Value, field: &str) -> Vec<String> {
    data[field]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn rule_row(rule: &AlertRule, project: &Project) -> RuleRow {
    RuleRow {
        id: rule.id,
        project: project.slug.clone(),
        name: rule.name.clone(),
        active: rule.status == faultline_storage::RuleStatus::Active,
        when: names(&rule.data, "conditions"),
        filters: names(&rule.data, "filters"),
        then: names(&rule.data, "actions"),
        action_match: rule.data["actionMatch"]
            .as_str()
            .unwrap_or("all")
            .to_owned(),
        frequency: rule.data["frequency"].as_u64().unwrap_or(30),
        environment: rule.data["environment"].as_str().map(str::to_owned),
        last_triggered: rule.last_triggered.map(iso),
    }
}

/// The values a rule form shows: a new rule's defaults, or the rule's own
/// when editing it. The form shows one item of each kind; a rule made
/// through the API may hold more (two tag filters), which the form keeps
/// as they are (`kept`) so saving the form loses nothing.
#[derive(Default)]
pub struct FormValues {
    pub first_seen: bool,
    pub regression: bool,
    pub reappeared: bool,
    pub events_value: String,
    pub events_interval: String,
    pub users_value: String,
    pub users_interval: String,
    pub action_match: String,
    pub filter_match: String,
    pub level_match: String,
    pub level: String,
    pub tag_key: String,
    pub tag_match: String,
    pub tag_value: String,
    pub attr_attribute: String,
    pub attr_match: String,
    pub attr_value: String,
    pub age_comparison: String,
    pub age_value: String,
    pub age_unit: String,
    pub occurrences: String,
    /// `unassigned`, `Member:{id}`, `Team:{id}`, or empty.
    pub assigned: String,
    pub latest_release: bool,
    pub environment: String,
    /// `IssueOwners`, `Member:{id}` or `Team:{id}`.
    pub email_target: String,
    pub email: String,
    pub service: String,
    pub legacy_all: bool,
    pub frequency: u32,
    pub kept: Kept,
}

/// The items of a rule the form does not show, in canonical JSON, with
/// their names in Sentry's words.
#[derive(Default)]
pub struct Kept {
    pub conditions: Vec<Value>,
    pub filters: Vec<Value>,
    pub actions: Vec<Value>,
}

impl Kept {
    pub fn names(&self) -> Vec<String> {
        self.conditions
            .iter()
            .chain(&self.filters)
            .chain(&self.actions)
            .filter_map(|i| i["name"].as_str().map(str::to_owned))
            .collect()
    }
}

fn target_value(kind: &str, id: i64) -> String {
    format!("{kind}:{id}")
}

impl FormValues {
    fn new_rule() -> Self {
        FormValues {
            first_seen: true,
            action_match: "any".into(),
            filter_match: "all".into(),
            level_match: "gte".into(),
            email_target: "IssueOwners".into(),
            email: "ActiveMembers".into(),
            frequency: 30,
            ..FormValues::default()
        }
    }

    fn of(data: &Value) -> Self {
        let Ok(spec) = RuleSpec::from_json(data) else {
            return FormValues::new_rule();
        };
        let canonical = spec.to_json();
        let item = |field: &str, i: usize| canonical[field][i].clone();
        let mut v = FormValues {
            action_match: spec.action_match.as_str().to_owned(),
            filter_match: spec.filter_match.as_str().to_owned(),
            level_match: "gte".into(),
            email_target: "IssueOwners".into(),
            environment: spec.environment.clone().unwrap_or_default(),
            frequency: spec.frequency_minutes,
            ..FormValues::default()
        };
        // Each kind the form shows once: the first of it.
        let mut shown: Vec<&'static str> = Vec::new();
        let mut first = |kind: &'static str| {
            let new = !shown.contains(&kind);
            shown.push(kind);
            new
        };
        for (i, condition) in spec.conditions.iter().enumerate() {
            let shows = match condition {
                Condition::FirstSeen => {
                    first("first_seen") && {
                        v.first_seen = true;
                        true
                    }
                }
                Condition::Regression => {
                    first("regression") && {
                        v.regression = true;
                        true
                    }
                }
                Condition::Reappeared => {
                    first("reappeared") && {
                        v.reappeared = true;
                        true
                    }
                }
                Condition::EventFrequency { value, interval } => {
                    first("events") && {
                        v.events_value = value.to_string();
                        v.events_interval = interval.as_str().to_owned();
                        true
                    }
                }
                Condition::UniqueUserFrequency { value, interval } => {
                    first("users") && {
                        v.users_value = value.to_string();
                        v.users_interval = interval.as_str().to_owned();
                        true
                    }
                }
            };
            if !shows {
                v.kept.conditions.push(item("conditions", i));
            }
        }
        for (i, filter) in spec.filters.iter().enumerate() {
            let shows = match filter {
                Filter::Level { matcher, level } => {
                    first("level") && {
                        v.level_match = match matcher {
                            LevelMatch::Equal => "eq",
                            LevelMatch::GreaterOrEqual => "gte",
                            LevelMatch::LessOrEqual => "lte",
                        }
                        .to_owned();
                        v.level = level.to_string();
                        true
                    }
                }
                Filter::TaggedEvent {
                    key,
                    matcher,
                    value,
                } => {
                    first("tag") && {
                        v.tag_key = key.clone();
                        v.tag_match = matcher.as_str().to_owned();
                        v.tag_value = value.clone();
                        true
                    }
                }
                Filter::EventAttribute {
                    attribute,
                    matcher,
                    value,
                } => {
                    first("attribute") && {
                        v.attr_attribute = attribute.clone();
                        v.attr_match = matcher.as_str().to_owned();
                        v.attr_value = value.clone();
                        true
                    }
                }
                Filter::Age {
                    comparison,
                    value,
                    unit,
                } => {
                    first("age") && {
                        v.age_comparison = match comparison {
                            AgeComparison::Older => "older",
                            AgeComparison::Newer => "newer",
                        }
                        .to_owned();
                        v.age_value = value.to_string();
                        v.age_unit = unit.as_str().to_owned();
                        true
                    }
                }
                Filter::Occurrences { value } => {
                    first("occurrences") && {
                        v.occurrences = value.to_string();
                        true
                    }
                }
                Filter::AssignedTo { target } => {
                    first("assigned") && {
                        v.assigned = match target {
                            AssigneeTarget::Unassigned => "unassigned".to_owned(),
                            AssigneeTarget::Member(id) => target_value("Member", *id),
                            AssigneeTarget::Team(id) => target_value("Team", *id),
                        };
                        true
                    }
                }
                Filter::LatestRelease => {
                    first("latest_release") && {
                        v.latest_release = true;
                        true
                    }
                }
            };
            if !shows {
                v.kept.filters.push(item("filters", i));
            }
        }
        for (i, action) in spec.actions.iter().enumerate() {
            let shows = match action {
                Action::Email {
                    target,
                    fallthrough,
                } => {
                    first("email") && {
                        v.email = fallthrough.as_str().to_owned();
                        v.email_target = match target {
                            EmailTarget::IssueOwners => "IssueOwners".to_owned(),
                            EmailTarget::Member(id) => target_value("Member", *id),
                            EmailTarget::Team(id) => target_value("Team", *id),
                        };
                        true
                    }
                }
                Action::Service { service } => {
                    first("service") && {
                        v.service = service.clone();
                        true
                    }
                }
                Action::AllLegacy => {
                    first("legacy") && {
                        v.legacy_all = true;
                        true
                    }
                }
            };
            if !shows {
                v.kept.actions.push(item("actions", i));
            }
        }
        if !shown.contains(&"email") {
            // No email action: the form's email choice reads "send no email".
            v.email = String::new();
        }
        v
    }
}

/// What the create and edit forms offer, in Sentry's words.
pub struct FormChoices {
    pub projects: Vec<String>,
    pub intervals: Vec<(&'static str, &'static str)>,
    pub services: Vec<String>,
    pub attributes: Vec<&'static str>,
    /// (`Team:{id}`, `#slug`) and (`Member:{id}`, email).
    pub teams: Vec<(String, String)>,
    pub members: Vec<(String, String)>,
}

async fn choices(
    state: &WebState,
    member: &ops::Member,
    projects: &[Project],
) -> Result<FormChoices, ops::OpError> {
    let teams = state.meta.teams(member.org.id).await?;
    let mut members: Vec<(String, String)> = state
        .meta
        .members(member.org.id)
        .await?
        .into_iter()
        .map(|(u, _)| (target_value("Member", u.id.0), u.email))
        .collect();
    members.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(FormChoices {
        attributes: ATTRIBUTES.to_vec(),
        teams: teams
            .iter()
            .map(|t| (target_value("Team", t.id), format!("#{}", t.slug)))
            .collect(),
        members,
        projects: projects.iter().map(|p| p.slug.clone()).collect(),
        intervals: Interval::ALL
            .iter()
            .map(|i| (i.as_str(), i.label()))
            .collect(),
        services: SERVICES
            .iter()
            .filter(|s| **s != "mail")
            .map(|s| (*s).to_owned())
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    pub nav: Nav,
    pub rules: Vec<RuleRow>,
    pub choices: FormChoices,
    pub values: FormValues,
    pub can_edit: bool,
    pub error: Option<String>,
}

pub struct FireRow {
    pub issue_id: i64,
    pub title: String,
    pub date: String,
    pub deliveries: Vec<DeliveryRow>,
}

pub struct DeliveryRow {
    pub channel: String,
    pub target: String,
    pub status: String,
    pub attempts: u32,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "alert_rule.html")]
pub struct RulePage {
    pub nav: Nav,
    pub rule: RuleRow,
    pub fires: Vec<FireRow>,
    pub choices: FormChoices,
    pub values: FormValues,
    pub can_edit: bool,
    pub error: Option<String>,
}

/// A rule body from the form: the triggers ticked, the optional
/// frequency triggers, the filters filled in, the environment, the email
/// action, a plugin and the legacy-integrations action, the action
/// interval; then whatever of the rule being edited the form does not show
/// (`kept`).
pub fn rule_body(form: &[(String, String)], kept: &Kept) -> Value {
    let field = |name: &str| form_field(form, name).unwrap_or("");
    let ticked = |name: &str| form.iter().any(|(k, v)| k == name && v == "on");
    // `Team:3` → ("Team", "3").
    let target = |name: &str| field(name).split_once(':').unwrap_or(("", ""));
    let mut conditions = Vec::new();
    for (name, id) in [
        ("first_seen", ids::FIRST_SEEN),
        ("regression", ids::REGRESSION),
        ("reappeared", ids::REAPPEARED),
    ] {
        if ticked(name) {
            conditions.push(json!({"id": id}));
        }
    }
    if !field("events_value").is_empty() {
        conditions.push(json!({"id": ids::EVENT_FREQUENCY, "value": field("events_value"), "interval": field("events_interval")}));
    }
    if !field("users_value").is_empty() {
        conditions.push(json!({"id": ids::UNIQUE_USER_FREQUENCY, "value": field("users_value"), "interval": field("users_interval")}));
    }
    let mut filters = Vec::new();
    if !field("level").is_empty() {
        filters.push(
            json!({"id": ids::LEVEL, "match": field("level_match"), "level": field("level")}),
        );
    }
    if !field("tag_key").is_empty() {
        filters.push(json!({"id": ids::TAGGED_EVENT, "key": field("tag_key"), "match": field("tag_match"), "value": field("tag_value")}));
    }
    if !field("attr_attribute").is_empty() {
        filters.push(json!({"id": ids::EVENT_ATTRIBUTE, "attribute": field("attr_attribute"), "match": field("attr_match"), "value": field("attr_value")}));
    }
    if !field("age_value").is_empty() {
        filters.push(json!({"id": ids::AGE_COMPARISON, "comparison_type": field("age_comparison"), "value": field("age_value"), "time": field("age_unit")}));
    }
    if !field("occurrences").is_empty() {
        filters.push(json!({"id": ids::ISSUE_OCCURRENCES, "value": field("occurrences")}));
    }
    match field("assigned") {
        "" => {}
        "unassigned" => filters.push(json!({"id": ids::ASSIGNED_TO, "targetType": "Unassigned"})),
        _ => {
            let (kind, id) = target("assigned");
            filters
                .push(json!({"id": ids::ASSIGNED_TO, "targetType": kind, "targetIdentifier": id}));
        }
    }
    if ticked("latest_release") {
        filters.push(json!({"id": ids::LATEST_RELEASE}));
    }
    let mut actions = Vec::new();
    if !field("email").is_empty() {
        let mut email = json!({"id": ids::NOTIFY_EMAIL, "targetType": "IssueOwners", "fallthroughType": field("email")});
        if let ("Team" | "Member", id) = target("email_target") {
            email["targetType"] = json!(target("email_target").0);
            email["targetIdentifier"] = json!(id);
        }
        actions.push(email);
    }
    if !field("service").is_empty() {
        actions.push(json!({"id": ids::NOTIFY_SERVICE, "service": field("service")}));
    }
    if ticked("legacy_all") {
        actions.push(json!({"id": ids::NOTIFY_LEGACY}));
    }
    conditions.extend(kept.conditions.iter().cloned());
    filters.extend(kept.filters.iter().cloned());
    actions.extend(kept.actions.iter().cloned());
    let filter_match = match field("filter_match") {
        "" => "all",
        other => other,
    };
    json!({
        "name": field("name"),
        "actionMatch": field("action_match"),
        "filterMatch": filter_match,
        "frequency": field("frequency"),
        "environment": field("environment"),
        "conditions": conditions,
        "filters": filters,
        "actions": actions,
    })
}

async fn rows(
    state: &WebState,
    member: &ops::Member,
    projects: &[Project],
) -> Result<Vec<RuleRow>, ops::OpError> {
    let mut out = Vec::new();
    for project in projects {
        for rule in ops::rules::list(state.alerts.as_ref(), member, project).await? {
            out.push(rule_row(&rule, project));
        }
    }
    Ok(out)
}

async fn list_page(state: &WebState, ctx: Ctx, error: Option<String>) -> PageResult {
    // Checked before anything is read, even with no project to list.
    ctx.member.require(scopes::ALERTS_READ)?;
    let projects = state.meta.projects(ctx.member.org.id).await?;
    let page = AlertsPage {
        rules: rows(state, &ctx.member, &projects).await?,
        choices: choices(state, &ctx.member, &projects).await?,
        values: FormValues::new_rule(),
        can_edit: ctx.member.allows(scopes::ALERTS_WRITE),
        error: error.clone(),
        nav: ctx.nav,
    };
    Ok(render_status(form_status(&error), &page))
}

/// `GET /organizations/{org}/alerts/rules/`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path).await?;
    list_page(&state, ctx, None).await
}

/// `POST /organizations/{org}/alerts/rules/`: create, disable, enable or
/// delete a rule.
pub async fn update_list(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path, &form).await?;
    let (meta, alerts, member) = (state.meta.as_ref(), state.alerts.as_ref(), &ctx.member);
    let project_slug = form_field(&form, "project").unwrap_or("");
    let project = member
        .project(meta, project_slug, scopes::ALERTS_READ)
        .await?;
    let rule = form_field(&form, "rule").unwrap_or("");
    let done = match form_field(&form, "action") {
        Some("create") => ops::rules::create(
            meta,
            alerts,
            member,
            &project,
            &rule_body(&form, &Kept::default()),
        )
        .await
        .map(|rule| Some(rule.id)),
        Some(action @ ("disable" | "enable")) => {
            let status = if action == "enable" {
                "active"
            } else {
                "disabled"
            };
            ops::rules::update(
                meta,
                alerts,
                member,
                &project,
                rule,
                &json!({"status": status}),
            )
            .await
            .map(|_| None)
        }
        Some("delete") => ops::rules::delete(alerts, member, &project, rule)
            .await
            .map(|()| None),
        _ => Ok(None),
    };
    match done.or_show()? {
        Ok(Some(id)) => Ok(redirect(&format!(
            "/organizations/{}/alerts/rules/{}/{id}/details/",
            member.org.slug, project.slug
        ))),
        Ok(None) => Ok(redirect(&format!(
            "/organizations/{}/alerts/rules/",
            member.org.slug
        ))),
        Err(refusal) => list_page(&state, ctx, Some(refusal)).await,
    }
}

async fn rule_page(
    state: &WebState,
    ctx: Ctx,
    project_slug: &str,
    id: &str,
    error: Option<String>,
) -> PageResult {
    let (meta, member) = (state.meta.as_ref(), &ctx.member);
    let project = member
        .project(meta, project_slug, scopes::ALERTS_READ)
        .await?;
    let rule = ops::rules::get(state.alerts.as_ref(), member, &project, id).await?;
    let mut fires = Vec::new();
    for fire in state.alerts.rule_history(rule.id, HISTORY).await? {
        let title = match meta.group(fire.group_id).await? {
            Some(group) => group.title,
            None => "(issue deleted)".to_owned(),
        };
        fires.push(FireRow {
            issue_id: fire.group_id.0,
            title,
            date: iso(fire.date_fired),
            deliveries: fire
                .deliveries
                .iter()
                .map(|d| DeliveryRow {
                    channel: d.channel.clone(),
                    target: d.target.clone(),
                    status: d.status.as_str().to_owned(),
                    attempts: d.attempts,
                    error: d.last_error.clone(),
                })
                .collect(),
        });
    }
    let projects = meta.projects(member.org.id).await?;
    let page = RulePage {
        values: FormValues::of(&rule.data),
        rule: rule_row(&rule, &project),
        fires,
        choices: choices(state, member, &projects).await?,
        can_edit: member.allows(scopes::ALERTS_WRITE),
        error: error.clone(),
        nav: ctx.nav,
    };
    Ok(render_status(form_status(&error), &page))
}

/// `GET /organizations/{org}/alerts/rules/{project}/{id}/details/`
pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = context(&req, &state, &path.0).await?;
    rule_page(&state, ctx, &path.1, &path.2, None).await
}

/// `POST` of the rule's page: the edit form replaces the rule.
pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<WebState>,
) -> PageResult {
    let ctx = form_context(&req, &state, &path.0, &form).await?;
    let (meta, alerts, member) = (state.meta.as_ref(), state.alerts.as_ref(), &ctx.member);
    let project = member.project(meta, &path.1, scopes::ALERTS_READ).await?;
    // What the form does not show of the rule is kept as it is.
    let stored = ops::rules::get(alerts, member, &project, &path.2).await?;
    let kept = FormValues::of(&stored.data).kept;
    let body = rule_body(&form, &kept);
    let done = ops::rules::update(meta, alerts, member, &project, &path.2, &body).await;
    match done.or_show()? {
        Ok(rule) => Ok(redirect(&format!(
            "/organizations/{}/alerts/rules/{}/{}/details/",
            member.org.slug, project.slug, rule.id
        ))),
        Err(refusal) => rule_page(&state, ctx, &path.1, &path.2, Some(refusal)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_rules::RuleSpec;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_form_makes_a_sentry_rule() {
        let body = rule_body(
            &form(&[
                ("name", "Checkout errors"),
                ("first_seen", "on"),
                ("regression", "on"),
                ("events_value", "100"),
                ("events_interval", "1h"),
                ("users_value", ""),
                ("action_match", "any"),
                ("filter_match", "any"),
                ("level_match", "gte"),
                ("level", "40"),
                ("tag_key", ""),
                ("attr_attribute", "exception.type"),
                ("attr_match", "eq"),
                ("attr_value", "KeyError"),
                ("age_comparison", "newer"),
                ("age_value", "2"),
                ("age_unit", "day"),
                ("occurrences", "5"),
                ("assigned", "unassigned"),
                ("latest_release", "on"),
                ("environment", "production"),
                ("email_target", "Team:7"),
                ("email", "ActiveMembers"),
                ("service", "slack"),
                ("legacy_all", "on"),
                ("frequency", "60"),
            ]),
            &Kept::default(),
        );
        let rule = RuleSpec::from_json(&body).unwrap();
        assert_eq!(rule.conditions.len(), 3);
        assert_eq!(rule.filters.len(), 6);
        assert_eq!(rule.actions.len(), 3);
        assert_eq!(rule.frequency_minutes, 60);
        assert_eq!(rule.environment.as_deref(), Some("production"));
        // The edit form shows what the rule holds, and keeps nothing aside.
        let values = FormValues::of(&rule.to_json());
        assert!(values.first_seen && values.regression && !values.reappeared);
        assert_eq!(
            (
                values.events_value.as_str(),
                values.events_interval.as_str()
            ),
            ("100", "1h")
        );
        assert_eq!(
            (values.level_match.as_str(), values.level.as_str()),
            ("gte", "40")
        );
        assert_eq!(
            (values.attr_attribute.as_str(), values.attr_value.as_str()),
            ("exception.type", "KeyError")
        );
        assert_eq!(
            (
                values.age_comparison.as_str(),
                values.age_value.as_str(),
                values.age_unit.as_str()
            ),
            ("newer", "2", "day")
        );
        assert_eq!(
            (values.occurrences.as_str(), values.assigned.as_str()),
            ("5", "unassigned")
        );
        assert!(values.latest_release && values.legacy_all);
        assert_eq!(
            (
                values.email_target.as_str(),
                values.email.as_str(),
                values.service.as_str()
            ),
            ("Team:7", "ActiveMembers", "slack")
        );
        assert_eq!(
            (values.frequency, values.action_match.as_str()),
            (60, "any")
        );
        assert_eq!(values.filter_match, "any");
        assert_eq!(values.environment, "production");
        assert!(values.kept.names().is_empty());
        // Nothing ticked: the rule's own refusal, field by field.
        let empty = RuleSpec::from_json(&rule_body(
            &form(&[("name", "x"), ("action_match", "all")]),
            &Kept::default(),
        ));
        assert!(empty.is_err());
    }

    #[test]
    fn editing_keeps_what_the_form_does_not_show() {
        // Made through the API: two tag filters and two email actions.
        let api = RuleSpec::from_json(&json!({
            "name": "API rule", "actionMatch": "all",
            "conditions": [{"id": ids::FIRST_SEEN}],
            "filters": [
                {"id": ids::TAGGED_EVENT, "key": "browser", "match": "eq", "value": "Chrome"},
                {"id": ids::TAGGED_EVENT, "key": "os", "match": "eq", "value": "Linux"}
            ],
            "actions": [
                {"id": ids::NOTIFY_EMAIL, "targetType": "IssueOwners", "fallthroughType": "NoOne"},
                {"id": ids::NOTIFY_EMAIL, "targetType": "Member", "targetIdentifier": 3}
            ]
        }))
        .unwrap()
        .to_json();
        let values = FormValues::of(&api);
        assert_eq!(values.tag_key, "browser");
        assert_eq!(values.kept.filters.len(), 1);
        assert_eq!(values.kept.actions.len(), 1);
        // Saved from the form as shown: the rule is the same rule.
        let shown = form(&[
            ("name", "API rule"),
            ("action_match", "all"),
            ("first_seen", "on"),
            ("tag_key", "browser"),
            ("tag_match", "eq"),
            ("tag_value", "Chrome"),
            ("email_target", "IssueOwners"),
            ("email", "NoOne"),
            ("frequency", "30"),
        ]);
        let saved = RuleSpec::from_json(&rule_body(&shown, &values.kept)).unwrap();
        assert_eq!(saved, RuleSpec::from_json(&api).unwrap());
    }
}
