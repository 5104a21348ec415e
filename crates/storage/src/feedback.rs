//! User feedback (Sentry's user reports): what a person wrote about an
//! error, from the feedback widget and `captureFeedback` (`feedback`
//! items), older SDKs' `user_report` items and the crash-report page. A
//! report names the event it is about; the issue is that event's.

use chrono::{DateTime, Utc};
use faultline_protocol::{EventId, GroupId, ProjectId};

/// Sentry's caps on the fields (longer text is cut, not refused).
pub const MAX_NAME: usize = 128;
pub const MAX_EMAIL: usize = 75;
pub const MAX_COMMENTS: usize = 4096;
pub const MAX_URL: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct NewUserReport {
    pub project_id: ProjectId,
    /// The event the report is about (for feedback without one, the
    /// feedback's own id).
    pub event_id: EventId,
    pub name: String,
    pub email: String,
    pub comments: String,
    /// The page the user was on (feedback items say).
    pub url: Option<String>,
    pub date_created: DateTime<Utc>,
}

impl NewUserReport {
    /// The report with every field within its cap (on a character
    /// boundary) and control characters but newlines and tabs dropped.
    pub fn capped(mut self) -> Self {
        self.name = cap(&self.name, MAX_NAME);
        self.email = cap(&self.email, MAX_EMAIL);
        self.comments = cap(&self.comments, MAX_COMMENTS);
        self.url = self.url.map(|u| cap(&u, MAX_URL));
        self
    }
}

fn cap(text: &str, max: usize) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(max)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserReport {
    pub id: i64,
    pub project_id: ProjectId,
    pub event_id: EventId,
    /// The issue of the event, once the event is grouped.
    pub group_id: Option<GroupId>,
    pub name: String,
    pub email: String,
    pub comments: String,
    pub url: Option<String>,
    pub date_created: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_capped_on_character_boundaries_without_control_characters() {
        let report = NewUserReport {
            project_id: ProjectId(1),
            event_id: EventId::new_random(),
            name: "é".repeat(200),
            email: format!("{}@example.com", "a".repeat(100)),
            comments: "line one\nline\u{0} two\u{1b}[31m".into(),
            url: None,
            date_created: Utc::now(),
        }
        .capped();
        assert_eq!(report.name.chars().count(), MAX_NAME);
        assert_eq!(report.email.len(), MAX_EMAIL);
        assert_eq!(report.comments, "line one\nline two[31m");
    }
}
