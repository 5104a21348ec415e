//! What a notification says, rendered once when a rule fires and stored
//! with each delivery, so a retry an hour later says the same thing.

use faultline_protocol::{Event, short_id};
use faultline_storage::{Group, Organization, Project};
use serde::{Deserialize, Serialize};

/// How many in-app frames a message shows, innermost first.
const MAX_FRAMES: usize = 5;
/// Longest title, culprit or frame line carried (chat services cap
/// message sizes; a title longer than this says nothing more).
const MAX_LINE: usize = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The names of the rules that fired.
    pub rules: Vec<String>,
    pub group_id: i64,
    pub short_id: String,
    pub event_id: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub project_slug: String,
    pub project_name: String,
    pub organization_slug: String,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// The top in-app frames, innermost first: `function (file:line)`.
    pub frames: Vec<String>,
    pub count: i64,
    pub user_count: i64,
    /// The issue on the dashboard, under `system.url-prefix`.
    pub link: String,
    /// The whole event, for the webhooks plugin's payload only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<serde_json::Value>,
}

/// `text` cut to [`MAX_LINE`] characters.
fn line(text: &str) -> String {
    if text.chars().count() <= MAX_LINE {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX_LINE - 1).collect();
        cut.push('…');
        cut
    }
}

impl Notification {
    pub fn new(
        rules: Vec<String>,
        group: &Group,
        event: Option<&Event>,
        project: &Project,
        org: &Organization,
        url_prefix: &str,
    ) -> Self {
        Notification {
            rules,
            group_id: group.id.0,
            short_id: short_id(&project.slug, group.short_id),
            event_id: event.map(|e| e.event_id.to_string()).unwrap_or_default(),
            title: line(&group.title),
            culprit: line(&group.culprit),
            level: event.map_or(group.level, |e| e.level).as_str().to_owned(),
            project_slug: project.slug.clone(),
            project_name: project.name.clone(),
            organization_slug: org.slug.clone(),
            environment: event.and_then(|e| e.environment.as_deref()).map(line),
            release: event.and_then(|e| e.release.as_deref()).map(line),
            frames: event.map(top_frames).unwrap_or_default(),
            count: group.count,
            user_count: group.user_count,
            link: format!(
                "{}/organizations/{}/issues/{}/?referrer=alert",
                url_prefix.trim_end_matches('/'),
                org.slug,
                group.id.0
            ),
            event: None,
        }
    }

    /// What a plugin's "send test" sends: a made-up issue of `project`,
    /// linking to the project's issues.
    pub fn example(project: &Project, org: &Organization, url_prefix: &str) -> Self {
        Notification {
            rules: vec!["Test notification".to_owned()],
            group_id: 0,
            short_id: format!("{}-TEST", project.slug.to_ascii_uppercase()),
            event_id: "00000000000000000000000000000000".to_owned(),
            title: "This is an example notification from Faultline".to_owned(),
            culprit: "faultline.plugins in send_test".to_owned(),
            level: "error".to_owned(),
            project_slug: project.slug.clone(),
            project_name: project.name.clone(),
            organization_slug: org.slug.clone(),
            environment: Some("production".to_owned()),
            release: None,
            frames: vec!["send_test (faultline/plugins.py:1)".to_owned()],
            count: 1,
            user_count: 1,
            link: format!(
                "{}/organizations/{}/issues/?project={}",
                url_prefix.trim_end_matches('/'),
                org.slug,
                project.id.0
            ),
            event: None,
        }
    }
}

/// The in-app frames of the exception raised last, innermost first (all
/// frames when none is marked in-app).
fn top_frames(event: &Event) -> Vec<String> {
    let Some(frames) = event
        .main_exception()
        .and_then(|e| e.stacktrace.as_ref())
        .map(|s| &s.frames)
    else {
        return Vec::new();
    };
    let in_app: Vec<_> = frames.iter().filter(|f| f.in_app == Some(true)).collect();
    let chosen = if in_app.is_empty() {
        frames.iter().collect()
    } else {
        in_app
    };
    chosen
        .into_iter()
        .rev()
        .take(MAX_FRAMES)
        .map(|f| {
            let function = f.function.as_deref().unwrap_or("?");
            let file = f
                .filename
                .as_deref()
                .or(f.module.as_deref())
                .or(f.abs_path.as_deref())
                .unwrap_or("?");
            match f.lineno {
                Some(n) => line(&format!("{function} ({file}:{n})")),
                None => line(&format!("{function} ({file})")),
            }
        })
        .collect()
}

/// What a project's summary says when its alerts are held back: more than
/// `limit` firings within a minute (a bad deploy opening thousands of
/// issues must not send thousands of emails).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub limit: u64,
    pub project_slug: String,
    pub project_name: String,
    /// The project's issues, newest first, on the dashboard.
    pub link: String,
}

impl Summary {
    pub fn new(limit: u64, project: &Project, org: &Organization, url_prefix: &str) -> Self {
        Summary {
            limit,
            project_slug: project.slug.clone(),
            project_name: project.name.clone(),
            link: format!(
                "{}/organizations/{}/issues/?project={}&sort=new",
                url_prefix.trim_end_matches('/'),
                org.slug,
                project.id.0
            ),
        }
    }
}

/// A delivery's payload: a project's summary or one issue's alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Payload {
    Summary { summary: Summary },
    Alert(Box<Notification>),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A notification as the channel and email tests use it, with a title
    /// that tries markup, links and mentions.
    pub fn notification() -> Notification {
        Notification {
            rules: vec!["Send a notification for new issues".into()],
            group_id: 7,
            short_id: "WEB-7".into(),
            event_id: "0123456789abcdef0123456789abcdef".into(),
            title: "TypeError: see [here](https://evil.example) @everyone <b>".into(),
            culprit: "app.views in checkout".into(),
            level: "error".into(),
            project_slug: "web".into(),
            project_name: "Web".into(),
            organization_slug: "acme".into(),
            environment: Some("production".into()),
            release: Some("web@1.2.3".into()),
            frames: vec!["checkout (app/views.py:42)".into()],
            count: 3,
            user_count: 2,
            link: "https://faultline.example.com/organizations/acme/issues/7/?referrer=alert"
                .into(),
            event: None,
        }
    }
}
