//! Chat and webhook channels (Sentry's legacy project plugins): what each
//! posts, where, signed how, and which answers mean it arrived.
//!
//! Everything a message says comes from a [`Brief`], made once from the
//! delivery's stored payload; each channel lays it out in its service's
//! documented shape and escapes what came from the event for it (Slack's
//! `&<>`, CommonMark backslashes, or plain-text elements), so an event
//! title cannot add links or mentions to a message.

mod dingtalk;
mod discord;
mod feishu;
mod msteams;
mod slack;
mod webhooks;
mod wecom;

use chrono::{DateTime, Utc};
use faultline_rules::Plugin;
use serde_json::{Map, Value};

use crate::deliver::SendError;
use crate::http::{Answer, HttpClient};
use crate::message::{Notification, Payload, Summary};

/// What a chat message says, whichever the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    /// `WEB-7 - TypeError: …`, or what a summary is about.
    pub title: String,
    pub culprit: String,
    pub level: String,
    /// `Web (web)`.
    pub project: String,
    /// The events and users; none for a summary.
    pub count: Option<(i64, i64)>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub frames: Vec<String>,
    pub link: String,
    /// Why it was sent: the rules that fired.
    pub rules: Vec<String>,
}

impl Brief {
    pub fn of_alert(n: &Notification) -> Self {
        Brief {
            title: format!("{} - {}", n.short_id, n.title),
            culprit: n.culprit.clone(),
            level: n.level.clone(),
            project: format!("{} ({})", n.project_name, n.project_slug),
            count: Some((n.count, n.user_count)),
            environment: n.environment.clone(),
            release: n.release.clone(),
            frames: n.frames.clone(),
            link: n.link.clone(),
            rules: n.rules.clone(),
        }
    }

    pub fn of_summary(s: &Summary) -> Self {
        Brief {
            title: format!("More than {} alerts in one minute", s.limit),
            culprit: "The rest are held back until it calms down: one message like this a \
                      minute instead of one per issue."
                .to_owned(),
            level: "warning".to_owned(),
            project: format!("{} ({})", s.project_name, s.project_slug),
            count: None,
            environment: None,
            release: None,
            frames: Vec::new(),
            link: s.link.clone(),
            rules: Vec::new(),
        }
    }

    /// The facts every layout lists, as (label, value).
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = vec![
            ("Project", self.project.clone()),
            ("Level", self.level.clone()),
        ];
        if let Some((events, users)) = self.count {
            facts.push(("Events", events.to_string()));
            facts.push(("Users", users.to_string()));
        }
        if let Some(env) = &self.environment {
            facts.push(("Environment", env.clone()));
        }
        if let Some(release) = &self.release {
            facts.push(("Release", release.clone()));
        }
        facts
    }

    /// The service's color for the level (Sentry's palette).
    pub fn color(&self) -> u32 {
        match self.level.as_str() {
            "fatal" => 0xD1_05_6B,
            "error" => 0xE0_3E_2F,
            "warning" => 0xF5_B0_00,
            "info" => 0x27_88_CE,
            _ => 0x6C_5F_C7,
        }
    }
}

/// One request to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub body: Value,
}

/// The request that delivers `payload` through `plugin` to `target` (a
/// webhook URL from the plugin's settings), at `now` (the signed channels
/// sign the time of sending).
pub fn outgoing(
    plugin: Plugin,
    config: &Map<String, Value>,
    target: &str,
    payload: &Payload,
    now: DateTime<Utc>,
) -> Result<Outgoing, SendError> {
    let secret = config
        .get("secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let brief = match payload {
        Payload::Alert(n) => Brief::of_alert(n),
        Payload::Summary { summary } => Brief::of_summary(summary),
    };
    let (url, body) = match plugin {
        Plugin::Webhooks => (target.to_owned(), webhooks::body(payload)),
        Plugin::Slack => (target.to_owned(), slack::body(&brief)),
        Plugin::Discord => (target.to_owned(), discord::body(&brief)),
        Plugin::MsTeams => (target.to_owned(), msteams::body(&brief)),
        Plugin::DingTalk => (
            dingtalk::signed_url(target, secret, now)?,
            dingtalk::body(&brief),
        ),
        Plugin::Feishu => (target.to_owned(), feishu::body(&brief, secret, now)),
        Plugin::WeCom => (target.to_owned(), wecom::body(&brief)),
    };
    Ok(Outgoing { url, body })
}

/// Sends `payload` through `plugin` to `target` and checks the answer.
pub async fn send(
    http: &HttpClient,
    plugin: Plugin,
    config: &Map<String, Value>,
    target: &str,
    payload: &Payload,
) -> Result<(), SendError> {
    let out = outgoing(plugin, config, target, payload, Utc::now())?;
    let answer = http.post_json(&out.url, &out.body).await?;
    check_answer(plugin, &answer)
}

/// Whether a 2xx answer means the message arrived: the Chinese services
/// answer 200 with an error code in the body.
pub fn check_answer(plugin: Plugin, answer: &Answer) -> Result<(), SendError> {
    match plugin {
        Plugin::DingTalk => dingtalk::check(answer),
        Plugin::Feishu => feishu::check(answer),
        Plugin::WeCom => wecom::check(answer),
        Plugin::Webhooks | Plugin::Slack | Plugin::Discord | Plugin::MsTeams => Ok(()),
    }
}

/// A service's error code in a 200 answer: transient for the codes that
/// say "too often", else permanent.
fn code_error(service: &str, code: i64, message: &str, rate_limited: &[i64]) -> SendError {
    let text = format!("{service} answered error {code}: {message}");
    if rate_limited.contains(&code) {
        SendError::Transient(text)
    } else {
        SendError::Permanent(text)
    }
}

/// The answer of the services that say `{"errcode": 0, "errmsg": "ok"}`
/// (DingTalk, WeCom): any other code is the reason it was refused.
fn errcode_check(service: &str, answer: &Answer, rate_limited: &[i64]) -> Result<(), SendError> {
    let Some(json) = answer.json() else {
        return Ok(());
    };
    match json["errcode"].as_i64() {
        None | Some(0) => Ok(()),
        Some(code) => Err(code_error(
            service,
            code,
            json["errmsg"].as_str().unwrap_or(""),
            rate_limited,
        )),
    }
}

/// `text` with CommonMark's punctuation escaped, so it shows as written.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push(' ');
            continue;
        }
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '~' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markdown lines every markdown channel shares: the linked title, the
/// culprit, the facts, the frames and why it was sent.
fn markdown_lines(brief: &Brief) -> Vec<String> {
    let e = markdown_escape;
    let mut lines = vec![format!("**[{}]({})**", e(&brief.title), brief.link)];
    if !brief.culprit.is_empty() {
        lines.push(e(&brief.culprit));
    }
    for (label, value) in brief.facts() {
        lines.push(format!("**{label}:** {}", e(&value)));
    }
    for frame in &brief.frames {
        lines.push(format!("- {}", e(frame)));
    }
    if !brief.rules.is_empty() {
        lines.push(format!("Alert rule: {}", e(&brief.rules.join(", "))));
    }
    lines.push(format!("[View on Faultline]({})", brief.link));
    lines
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub use crate::message::tests::notification;

    #[test]
    fn markdown_from_the_event_cannot_make_links() {
        let escaped = markdown_escape("see [here](https://evil.example)");
        assert_eq!(escaped, "see \\[here\\]\\(https://evil.example\\)");
        let lines = markdown_lines(&Brief::of_alert(&notification()));
        assert!(lines[0].starts_with("**[WEB-7 - TypeError: see \\[here\\]"));
        assert!(lines.iter().any(|l| l == "**Events:** 3"));
    }
}
