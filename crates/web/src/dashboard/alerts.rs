//! The Alerts pages: every project's issue alert rules (list, create,
//! disable, enable, delete) and each rule's page (what it does, in Sentry's
//! wording, its history of issues fired for and what each delivery did,
//! and editing it). The forms build Sentry's rule JSON, so the rules of
//! `ops::rules` (and `faultline-rules`) apply exactly as for the API.

use actix_web::{HttpRequest, web};
use askama::Template;
use faultline_rules::{Action, Condition, Filter, Interval, LevelMatch, RuleSpec, SERVICES, ids};
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
/// when editing it (the parts the form can express).
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
    pub level_match: String,
    pub level: String,
    pub tag_key: String,
    pub tag_match: String,
    pub tag_value: String,
    pub environment: String,
    pub email: String,
    pub service: String,
    pub frequency: u32,
}

impl FormValues {
    fn new_rule() -> Self {
        FormValues {
            first_seen: true,
            action_match: "any".into(),
            level_match: "gte".into(),
            email: "ActiveMembers".into(),
            frequency: 30,
            ..FormValues::default()
        }
    }

    fn of(data: &Value) -> Self {
        let Ok(spec) = RuleSpec::from_json(data) else {
            return FormValues::new_rule();
        };
        let mut v = FormValues {
            action_match: spec.action_match.as_str().to_owned(),
            level_match: "gte".into(),
            environment: spec.environment.clone().unwrap_or_default(),
            frequency: spec.frequency_minutes,
            ..FormValues::default()
        };
        for condition in &spec.conditions {
            match condition {
                Condition::FirstSeen => v.first_seen = true,
                Condition::Regression => v.regression = true,
                Condition::Reappeared => v.reappeared = true,
                Condition::EventFrequency { value, interval } => {
                    v.events_value = value.to_string();
                    v.events_interval = interval.as_str().to_owned();
                }
                Condition::UniqueUserFrequency { value, interval } => {
                    v.users_value = value.to_string();
                    v.users_interval = interval.as_str().to_owned();
                }
            }
        }
        for filter in &spec.filters {
            match filter {
                Filter::Level { matcher, level } => {
                    v.level_match = match matcher {
                        LevelMatch::Equal => "eq",
                        LevelMatch::GreaterOrEqual => "gte",
                        LevelMatch::LessOrEqual => "lte",
                    }
                    .to_owned();
                    v.level = level.to_string();
                }
                Filter::TaggedEvent {
                    key,
                    matcher,
                    value,
                } => {
                    v.tag_key = key.clone();
                    v.tag_match = matcher.as_str().to_owned();
                    v.tag_value = value.clone();
                }
                _ => {}
            }
        }
        for action in &spec.actions {
            match action {
                Action::Email { fallthrough, .. } => v.email = fallthrough.as_str().to_owned(),
                Action::Service { service } => v.service = service.clone(),
                Action::AllLegacy => {}
            }
        }
        v
    }
}

/// What the create and edit forms offer, in Sentry's words.
pub struct FormChoices {
    pub projects: Vec<String>,
    pub intervals: Vec<(&'static str, &'static str)>,
    pub services: Vec<String>,
}

fn choices(projects: &[Project]) -> FormChoices {
    FormChoices {
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
    }
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

/// A rule body from the form: the triggers ticked, an optional frequency
/// trigger, an optional level and tag filter, the environment, an email
/// action and an optional plugin, and the action interval.
pub fn rule_body(form: &[(String, String)]) -> Value {
    let field = |name: &str| form_field(form, name).unwrap_or("");
    let ticked = |name: &str| form.iter().any(|(k, v)| k == name && v == "on");
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
    let mut actions = Vec::new();
    if !field("email").is_empty() {
        actions.push(json!({"id": ids::NOTIFY_EMAIL, "targetType": "IssueOwners", "fallthroughType": field("email")}));
    }
    if !field("service").is_empty() {
        actions.push(json!({"id": ids::NOTIFY_SERVICE, "service": field("service")}));
    }
    json!({
        "name": field("name"),
        "actionMatch": field("action_match"),
        "filterMatch": "all",
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
        choices: choices(&projects),
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
        Some("create") => ops::rules::create(meta, alerts, member, &project, &rule_body(&form))
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
        choices: choices(&projects),
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
    let done = ops::rules::update(meta, alerts, member, &project, &path.2, &rule_body(&form)).await;
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
        let body = rule_body(&form(&[
            ("name", "Checkout errors"),
            ("first_seen", "on"),
            ("regression", "on"),
            ("events_value", "100"),
            ("events_interval", "1h"),
            ("users_value", ""),
            ("action_match", "any"),
            ("level_match", "gte"),
            ("level", "40"),
            ("tag_key", ""),
            ("environment", "production"),
            ("email", "ActiveMembers"),
            ("service", "slack"),
            ("frequency", "60"),
        ]));
        let rule = RuleSpec::from_json(&body).unwrap();
        assert_eq!(rule.conditions.len(), 3);
        assert_eq!(rule.filters.len(), 1);
        assert_eq!(rule.actions.len(), 2);
        assert_eq!(rule.frequency_minutes, 60);
        assert_eq!(rule.environment.as_deref(), Some("production"));
        // The edit form shows what the rule holds.
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
            (values.email.as_str(), values.service.as_str()),
            ("ActiveMembers", "slack")
        );
        assert_eq!(
            (values.frequency, values.action_match.as_str()),
            (60, "any")
        );
        assert_eq!(values.environment, "production");
        // Nothing ticked: the rule's own refusal, field by field.
        let empty =
            RuleSpec::from_json(&rule_body(&form(&[("name", "x"), ("action_match", "all")])));
        assert!(empty.is_err());
    }
}
