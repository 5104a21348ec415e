//! Issue alert rules: listing, creating, changing, disabling and deleting a
//! project's rules, and the rule every new project starts with. A rule body
//! is Sentry's JSON, checked by `faultline-rules`; what is stored is its
//! canonical form, so a stored rule always reads back.

use faultline_rules::{Action, EmailTarget, RuleSpec, default_rule};
use faultline_storage::{AlertRule, AlertStore, MetaStore, Project, RuleRecord, RuleStatus};
use serde_json::Value;

use faultline_protocol::ProjectId;

use super::{Caller, Member, OpError, OpResult};
use crate::scopes;

/// Most rules one project may have: every post-process message evaluates
/// all of them, so the number is bounded.
pub const MAX_RULES: usize = 100;

/// The rules of `project`, newest first.
pub async fn list(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
) -> OpResult<Vec<AlertRule>> {
    member.require(scopes::ALERTS_READ)?;
    member.check_project(project)?;
    Ok(alerts.rules(project.id).await?)
}

/// The rule `id` (as the URL gives it) of `project`.
pub async fn get(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    id: &str,
) -> OpResult<AlertRule> {
    member.require(scopes::ALERTS_READ)?;
    member.check_project(project)?;
    find(alerts, project, id).await
}

async fn find(alerts: &dyn AlertStore, project: &Project, id: &str) -> OpResult<AlertRule> {
    let id: i64 = id.parse().map_err(|_| OpError::NotFound)?;
    alerts.rule(project.id, id).await?.ok_or(OpError::NotFound)
}

/// Creates a rule from Sentry's body.
pub async fn create(
    meta: &dyn MetaStore,
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    body: &Value,
) -> OpResult<AlertRule> {
    member.require(scopes::ALERTS_WRITE)?;
    member.check_project(project)?;
    let spec = RuleSpec::from_json(body).map_err(OpError::Fields)?;
    check_targets(meta, member, &spec).await?;
    if alerts.rules(project.id).await?.len() >= MAX_RULES {
        return Err(OpError::invalid(
            "name",
            format!("a project has at most {MAX_RULES} alert rules"),
        ));
    }
    let data = spec.to_json();
    let record = RuleRecord {
        name: &spec.name,
        status: status_of(body)?.unwrap_or(RuleStatus::Active),
        data: &data,
    };
    Ok(alerts
        .create_rule(project.id, &record, Some(member.user.id))
        .await?)
}

/// Replaces a rule with Sentry's body; a body with only `status`
/// (`active` or `disabled`) turns the rule on or off and changes nothing
/// else.
pub async fn update(
    meta: &dyn MetaStore,
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    id: &str,
    body: &Value,
) -> OpResult<AlertRule> {
    member.require(scopes::ALERTS_WRITE)?;
    member.check_project(project)?;
    let rule = find(alerts, project, id).await?;
    let status = status_of(body)?;
    let only_status = body
        .as_object()
        .is_some_and(|b| b.keys().all(|k| k == "status"));
    let (spec_data, name) = match (only_status, status) {
        (true, Some(_)) => (rule.data.clone(), rule.name.clone()),
        _ => {
            let spec = RuleSpec::from_json(body).map_err(OpError::Fields)?;
            check_targets(meta, member, &spec).await?;
            (spec.to_json(), spec.name)
        }
    };
    let record = RuleRecord {
        name: &name,
        status: status.unwrap_or(rule.status),
        data: &spec_data,
    };
    Ok(alerts.update_rule(project.id, rule.id, &record).await?)
}

pub async fn delete(
    alerts: &dyn AlertStore,
    member: &Member,
    project: &Project,
    id: &str,
) -> OpResult<()> {
    member.require(scopes::ALERTS_WRITE)?;
    member.check_project(project)?;
    let rule = find(alerts, project, id).await?;
    Ok(alerts.delete_rule(project.id, rule.id).await?)
}

/// Gives a new project Sentry's default rule (email the issue owners, or
/// the active members, when a new issue is created).
pub async fn create_default(alerts: &dyn AlertStore, project: &Project) -> OpResult<AlertRule> {
    let spec = default_rule();
    let data = spec.to_json();
    let record = RuleRecord {
        name: &spec.name,
        status: RuleStatus::Active,
        data: &data,
    };
    Ok(alerts.create_rule(project.id, &record, None).await?)
}

/// Turns the caller's alert emails for the project `project_id` on or
/// off; a project of an organization they are not in is not found.
pub async fn set_alert_emails(
    meta: &dyn MetaStore,
    alerts: &dyn AlertStore,
    caller: &Caller,
    project_id: &str,
    on: bool,
) -> OpResult<()> {
    let id: i64 = project_id.parse().map_err(|_| OpError::NotFound)?;
    let project = meta
        .project_by_id(ProjectId(id))
        .await?
        .ok_or(OpError::NotFound)?;
    let org = meta
        .organization_by_id(project.org_id)
        .await?
        .ok_or(OpError::NotFound)?;
    let member = caller.member(meta, org, scopes::PROJECT_READ).await?;
    Ok(alerts
        .set_alert_emails(member.user.id, project.id, on)
        .await?)
}

/// The `status` field, if the body has one.
fn status_of(body: &Value) -> OpResult<Option<RuleStatus>> {
    match body.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(RuleStatus::parse)
            .map(Some)
            .ok_or_else(|| OpError::invalid("status", "status is active or disabled")),
    }
}

/// Email actions name members and teams of this organization only: a rule
/// cannot mail someone outside it.
async fn check_targets(meta: &dyn MetaStore, member: &Member, spec: &RuleSpec) -> OpResult<()> {
    let mut members = None;
    let mut teams = None;
    for action in &spec.actions {
        let Action::Email { target, .. } = action else {
            continue;
        };
        let known = match target {
            EmailTarget::IssueOwners => true,
            EmailTarget::Member(id) => {
                if members.is_none() {
                    members = Some(meta.members(member.org.id).await?);
                }
                members.iter().flatten().any(|(user, _)| user.id.0 == *id)
            }
            EmailTarget::Team(id) => {
                if teams.is_none() {
                    teams = Some(meta.teams(member.org.id).await?);
                }
                teams.iter().flatten().any(|team| team.id == *id)
            }
        };
        if !known {
            return Err(OpError::invalid(
                "actions",
                "the email action names a member or team that is not in this organization",
            ));
        }
    }
    Ok(())
}
