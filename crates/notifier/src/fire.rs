//! One batch of `post-process` messages: each event's issue is evaluated
//! against its project's active rules, and each rule that fires is recorded
//! with the deliveries it owes, in one transaction per rule (the store
//! refuses a repeat of the same rule, issue and event, and a second firing
//! for the issue within the rule's interval).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faultline_protocol::{Event, GroupId, PostProcessHeader, PostProcessMessage, ProjectId};
use faultline_rules::{Action, EmailTarget, Fallthrough, Interval, Plugin, RuleSpec};
use faultline_storage::{
    AlertStore, Delivery, FireOutcome, Group, MetaStore, NewDelivery, NewFire, Organization,
    Project, ProjectPlugin, Result, RuleStatus, User, UserId,
};

use crate::evaluate::{Counts, Happened, NO_COUNTS, Subject, passes_filters, triggered, windows};
use crate::message::{Notification, Payload, Summary};
use tracing::Instrument as _;

/// Firings per project and minute past which alerts are held back and
/// one summary a minute is sent instead.
pub const MAX_FIRES_PER_MINUTE: u64 = 30;

/// Sentry's cap on "recently active members" mailed when an issue has no
/// owner.
const MAX_ACTIVE_MEMBERS: usize = 20;

/// A project's active rules, parsed, with what messages need.
struct ProjectRules {
    project: Project,
    org: Organization,
    rules: Vec<(i64, RuleSpec)>,
    members: Vec<User>,
    /// The members of each team an email action names.
    teams: HashMap<i64, Vec<UserId>>,
    plugins: Vec<ProjectPlugin>,
    /// The windows the rules' frequency conditions count over.
    event_windows: Vec<Interval>,
    user_windows: Vec<Interval>,
    /// Whether a rule has the latest-release filter: the project's
    /// releases are then kept as its events name them.
    tracks_releases: bool,
}

/// The `notifier.evaluate` span of one event whose issue triggered rules,
/// continuing the event's trace; none without traces.
fn evaluate_span(delivery: &Delivery, header: &PostProcessHeader) -> tracing::Span {
    faultline_telemetry::event_span!(
        "notifier.evaluate",
        header.project_id.0,
        header.event_id,
        delivery.headers.traceparent()
    )
}

pub struct Batch<'a> {
    pub meta: &'a dyn MetaStore,
    pub alerts: &'a dyn AlertStore,
    pub url_prefix: &'a str,
}

impl Batch<'_> {
    /// Evaluates and records; returns how many firings were recorded.
    pub async fn run(&self, deliveries: &[Delivery]) -> Result<usize> {
        let now = Utc::now();
        let mut projects: HashMap<ProjectId, Option<ProjectRules>> = HashMap::new();
        // First every header (most messages trigger no rule, and their
        // event is never read), counting the events and users of projects
        // with frequency conditions, so the counts include this batch.
        // Each message's header, and the whole message where it was read.
        let mut messages: Vec<(PostProcessHeader, &Delivery, Option<PostProcessMessage>)> =
            Vec::with_capacity(deliveries.len());
        let mut events: HashMap<GroupId, u64> = HashMap::new();
        let mut users: Vec<(GroupId, String)> = Vec::new();
        let mut releases: Vec<(ProjectId, String)> = Vec::new();
        for delivery in deliveries {
            let header: PostProcessHeader = match serde_json::from_slice(&delivery.payload) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "dropping an unreadable post-process message");
                    continue;
                }
            };
            let rules = match projects.entry(header.project_id) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(new) => {
                    new.insert(self.load(header.project_id).await?)
                }
            };
            let Some(rules) = rules else {
                continue;
            };
            if !rules.event_windows.is_empty() {
                *events.entry(header.group_id).or_default() += 1;
            }
            // The event is read now only for projects whose rules count
            // users or compare releases; it is kept for the evaluation.
            let mut message = None;
            if (!rules.user_windows.is_empty() || rules.tracks_releases)
                && let Ok(read) = serde_json::from_slice::<PostProcessMessage>(&delivery.payload)
            {
                if let Some(event) = &read.event {
                    if let Some(user) = user_key(event).filter(|_| !rules.user_windows.is_empty()) {
                        users.push((header.group_id, user));
                    }
                    if let Some(release) = event.release.clone().filter(|_| rules.tracks_releases) {
                        releases.push((header.project_id, release));
                    }
                }
                message = Some(read);
            }
            messages.push((header, delivery, message));
        }
        let events: Vec<(GroupId, u64)> = events.into_iter().collect();
        self.alerts.add_event_counts(&events, now).await?;
        self.alerts.add_issue_users(&users, now).await?;
        self.alerts.add_releases(&releases, now).await?;
        let mut latest: HashMap<ProjectId, Option<String>> = HashMap::new();
        for (id, rules) in &projects {
            if let Some(rules) = rules
                && rules.tracks_releases
            {
                latest.insert(*id, self.alerts.latest_release(*id).await?);
            }
        }

        let mut counts: HashMap<GroupId, Counts> = HashMap::new();
        let mut recorded = 0;
        for (header, delivery, read) in messages {
            let Some(Some(rules)) = projects.get(&header.project_id) else {
                continue;
            };
            let counts = if rules.event_windows.is_empty() && rules.user_windows.is_empty() {
                &NO_COUNTS
            } else {
                match counts.entry(header.group_id) {
                    std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                    std::collections::hash_map::Entry::Vacant(new) => {
                        new.insert(self.counts(rules, header.group_id, now).await?)
                    }
                }
            };
            let happened = Happened {
                is_new: header.is_new,
                is_regression: header.is_regression,
                is_reappeared: header.is_reappeared,
                counts,
            };
            let triggered: Vec<&(i64, RuleSpec)> = rules
                .rules
                .iter()
                .filter(|(_, spec)| triggered(spec, happened))
                .collect();
            if triggered.is_empty() {
                continue;
            }
            let message: PostProcessMessage = match read {
                Some(m) => m,
                None => match serde_json::from_slice(&delivery.payload) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "dropping an unreadable post-process message");
                        continue;
                    }
                },
            };
            let Some(group) = self.meta.group(header.group_id).await? else {
                continue;
            };
            let latest = latest.get(&header.project_id).cloned().flatten();
            let span = evaluate_span(delivery, &header);
            let traceparent = faultline_telemetry::traces::traceparent(&span);
            recorded += self
                .evaluate(
                    rules,
                    &triggered,
                    &group,
                    &message,
                    latest.as_deref(),
                    traceparent,
                )
                .instrument(span)
                .await?;
        }
        Ok(recorded)
    }

    /// The issue's counts in the windows the project's rules ask about.
    async fn counts(
        &self,
        rules: &ProjectRules,
        group: GroupId,
        now: DateTime<Utc>,
    ) -> Result<Counts> {
        let minutes = |windows: &[Interval]| -> Vec<u32> {
            windows
                .iter()
                .map(|i| u32::try_from(i.seconds() / 60).unwrap_or(u32::MAX))
                .collect()
        };
        let mut counts = Counts::default();
        if !rules.event_windows.is_empty() {
            let found = self
                .alerts
                .events_within(group, &minutes(&rules.event_windows), now)
                .await?;
            counts.events = rules.event_windows.iter().copied().zip(found).collect();
        }
        if !rules.user_windows.is_empty() {
            let found = self
                .alerts
                .users_within(group, &minutes(&rules.user_windows), now)
                .await?;
            counts.users = rules.user_windows.iter().copied().zip(found).collect();
        }
        Ok(counts)
    }

    async fn load(&self, project_id: ProjectId) -> Result<Option<ProjectRules>> {
        let Some(project) = self.meta.project_by_id(project_id).await? else {
            return Ok(None);
        };
        let Some(org) = self.meta.organization_by_id(project.org_id).await? else {
            return Ok(None);
        };
        let mut rules = Vec::new();
        for rule in self.alerts.rules(project_id).await? {
            if rule.status != RuleStatus::Active {
                continue;
            }
            match RuleSpec::from_json(&rule.data) {
                Ok(spec) => rules.push((rule.id, spec)),
                Err(e) => {
                    tracing::warn!(rule = rule.id, error = %e, "skipping a stored rule that does not read")
                }
            }
        }
        // Who may be emailed: active members who did not turn this
        // project's alert emails off.
        let mut teams = HashMap::new();
        for (_, spec) in &rules {
            for action in &spec.actions {
                if let Action::Email {
                    target: EmailTarget::Team(team),
                    ..
                } = action
                    && !teams.contains_key(team)
                {
                    teams.insert(*team, self.meta.team_members(*team).await?);
                }
            }
        }
        let (members, plugins) = if rules.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let opted_out = self.alerts.alert_email_opt_outs(project_id).await?;
            let members = self
                .meta
                .members(org.id)
                .await?
                .into_iter()
                .map(|(user, _)| user)
                .filter(|u| u.is_active && !opted_out.contains(&u.id))
                .collect();
            (members, self.alerts.plugins(project_id).await?)
        };
        let (event_windows, user_windows) = windows(rules.iter().map(|(_, spec)| spec));
        let tracks_releases = rules.iter().any(|(_, spec)| {
            spec.filters
                .contains(&faultline_rules::Filter::LatestRelease)
        });
        Ok(Some(ProjectRules {
            project,
            org,
            rules,
            members,
            teams,
            plugins,
            event_windows,
            user_windows,
            tracks_releases,
        }))
    }

    /// Records the firings of the `triggered` rules whose filters pass.
    async fn evaluate(
        &self,
        rules: &ProjectRules,
        triggered: &[&(i64, RuleSpec)],
        group: &Group,
        message: &PostProcessMessage,
        latest_release: Option<&str>,
        traceparent: Option<String>,
    ) -> Result<usize> {
        let now = Utc::now();
        let header = &message.header;
        let subject = Subject {
            group,
            event: message.event.as_ref(),
            now,
            latest_release,
        };
        let mut recorded = 0;
        for (rule_id, spec) in triggered.iter().copied() {
            if !passes_filters(spec, &subject) {
                continue;
            }
            let notification = Notification::new(
                vec![spec.name.clone()],
                group,
                message.event.as_ref(),
                &rules.project,
                &rules.org,
                self.url_prefix,
            );
            let mut deliveries =
                deliveries_for(spec, group, rules, &notification, message.event.as_ref());
            // A burst (a bad deploy opening thousands of issues) is told
            // in one summary a minute, not one message per issue: past the
            // limit, firings are recorded without deliveries of their own.
            let window = now - chrono::Duration::minutes(1);
            let burst =
                self.alerts.fires_since(rules.project.id, window).await? >= MAX_FIRES_PER_MINUTE;
            let summary = burst.then(|| {
                let summary = Summary::new(
                    MAX_FIRES_PER_MINUTE,
                    &rules.project,
                    &rules.org,
                    self.url_prefix,
                );
                let payload = serde_json::to_value(Payload::Summary { summary })
                    .expect("plain data serialises");
                std::mem::take(&mut deliveries)
                    .into_iter()
                    .map(|d| NewDelivery {
                        payload: payload.clone(),
                        ..d
                    })
                    .collect::<Vec<_>>()
            });
            let fire = NewFire {
                rule_id: *rule_id,
                project_id: rules.project.id,
                group_id: group.id,
                event_id: header.event_id,
                now,
                interval_minutes: spec.frequency_minutes,
                deliveries,
                traceparent: traceparent.clone(),
            };
            match self.alerts.record_fire(&fire).await? {
                FireOutcome::Recorded(id) => {
                    crate::metrics::fired();
                    if let Some(summary) = &summary
                        && self
                            .alerts
                            .queue_summary(rules.project.id, window, now, summary)
                            .await?
                    {
                        tracing::warn!(
                            project = rules.project.id.0,
                            "more than {MAX_FIRES_PER_MINUTE} alerts in a minute: holding the rest back"
                        );
                    }
                    tracing::info!(
                        rule = rule_id,
                        fire = id,
                        group = group.id.0,
                        "alert rule fired"
                    );
                    recorded += 1;
                }
                FireOutcome::Repeat | FireOutcome::TooSoon => {}
            }
        }
        Ok(recorded)
    }
}

/// One delivery per email recipient, per chat plugin and per webhook URL
/// the rule's actions name. A plugin named but not enabled still gets its
/// delivery, which fails saying so: the rule's history shows why nothing
/// arrived.
fn deliveries_for(
    spec: &RuleSpec,
    group: &Group,
    rules: &ProjectRules,
    notification: &Notification,
    event: Option<&Event>,
) -> Vec<NewDelivery> {
    let mut emails: Vec<String> = Vec::new();
    let mut plugins: Vec<Plugin> = Vec::new();
    let mut add_emails = |found: Vec<String>| {
        for email in found {
            if !emails.contains(&email) {
                emails.push(email);
            }
        }
    };
    for action in &spec.actions {
        match action {
            Action::Email {
                target,
                fallthrough,
            } => add_emails(email_recipients(target, *fallthrough, group, rules)),
            // Sentry's legacy mail plugin mails the project's members.
            Action::Service { service } if service == "mail" => add_emails(email_recipients(
                &EmailTarget::IssueOwners,
                Fallthrough::ActiveMembers,
                group,
                rules,
            )),
            Action::Service { service } => {
                if let Some(plugin) = Plugin::parse(service)
                    && !plugins.contains(&plugin)
                {
                    plugins.push(plugin);
                }
            }
            // Every enabled plugin with settings.
            Action::AllLegacy => {
                for settings in &rules.plugins {
                    if let Some(plugin) = Plugin::parse(&settings.slug)
                        && settings.enabled
                        && settings
                            .config
                            .as_object()
                            .is_some_and(|c| plugin.is_configured(c))
                        && !plugins.contains(&plugin)
                    {
                        plugins.push(plugin);
                    }
                }
            }
        }
    }
    let payload = serde_json::to_value(notification).expect("plain data serialises");
    let mut out: Vec<NewDelivery> = emails
        .into_iter()
        .map(|email| NewDelivery {
            channel: "email".into(),
            target: email,
            payload: payload.clone(),
        })
        .collect();
    for plugin in plugins {
        let config = rules
            .plugins
            .iter()
            .find(|p| p.slug == plugin.slug())
            .and_then(|p| p.config.as_object());
        let channel = plugin.slug().to_owned();
        match plugin {
            Plugin::Webhooks => {
                let urls = config.map(|c| plugin.targets(c)).unwrap_or_default();
                // Sentry's webhook carries the event: only these
                // deliveries store it.
                let mut with_event = notification.clone();
                with_event.event = event.and_then(|e| serde_json::to_value(e).ok());
                let payload = serde_json::to_value(&with_event).expect("plain data serialises");
                if urls.is_empty() {
                    out.push(NewDelivery {
                        channel: channel.clone(),
                        target: String::new(),
                        payload: payload.clone(),
                    });
                }
                out.extend(urls.into_iter().map(|url| NewDelivery {
                    channel: channel.clone(),
                    target: url,
                    payload: payload.clone(),
                }));
            }
            _ => out.push(NewDelivery {
                channel,
                target: String::new(),
                payload: payload.clone(),
            }),
        }
    }
    out
}

/// Sentry's target types: the issue's owners (its assignee, as Faultline
/// has no ownership rules yet) or, when it has none, the fallthrough; a
/// team's members; or one member. Only active members who did not turn
/// the project's alert emails off are ever mailed.
fn email_recipients(
    target: &EmailTarget,
    fallthrough: Fallthrough,
    group: &Group,
    rules: &ProjectRules,
) -> Vec<String> {
    let members = &rules.members;
    let all = || members.iter().map(|u| u.email.clone());
    match target {
        EmailTarget::Member(id) => members
            .iter()
            .filter(|u| u.id.0 == *id)
            .map(|u| u.email.clone())
            .collect(),
        EmailTarget::Team(team) => {
            let on_team = rules.teams.get(team).map(Vec::as_slice).unwrap_or(&[]);
            members
                .iter()
                .filter(|u| on_team.contains(&u.id))
                .map(|u| u.email.clone())
                .collect()
        }
        EmailTarget::IssueOwners => {
            let owners: Vec<String> = members
                .iter()
                .filter(|u| Some(u.id) == group.assignee)
                .map(|u| u.email.clone())
                .collect();
            if !owners.is_empty() {
                return owners;
            }
            match fallthrough {
                Fallthrough::ActiveMembers => all().take(MAX_ACTIVE_MEMBERS).collect(),
                Fallthrough::AllMembers => all().collect(),
                Fallthrough::NoOne => Vec::new(),
            }
        }
    }
}

/// Longest user key kept (an id or email longer than this is cut).
const MAX_USER_KEY: usize = 200;

/// Who the event's user is, as Sentry's `sentry:user` tag names them: the
/// first of id, email, username and IP address.
fn user_key(event: &Event) -> Option<String> {
    let user = event.user.as_ref()?;
    ["id", "email", "username", "ip_address"]
        .into_iter()
        .find_map(|field| {
            let value = match user.get(field)? {
                serde_json::Value::String(s) if !s.is_empty() => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            let key = if field == "ip_address" { "ip" } else { field };
            Some(format!(
                "{key}:{}",
                value.chars().take(MAX_USER_KEY).collect::<String>()
            ))
        })
}
