//! Slack incoming webhooks: a message with one attachment in the level's
//! color, as Sentry's Slack plugin posted. Attachment fields are not
//! markdown, so only Slack's control characters `&`, `<`, `>` are escaped.

use serde_json::{Value, json};

use super::Brief;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn body(brief: &Brief) -> Value {
    let mut fields: Vec<Value> = brief
        .facts()
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": escape(&value), "short": true}))
        .collect();
    if !brief.frames.is_empty() {
        fields.push(json!({
            "title": "Stack trace",
            "value": escape(&brief.frames.join("\n")),
            "short": false,
        }));
    }
    let fallback = escape(&format!("[{}] {}", brief.project, brief.title));
    let footer = if brief.rules.is_empty() {
        "Faultline".to_owned()
    } else {
        escape(&format!("Faultline · {}", brief.rules.join(", ")))
    };
    json!({
        "text": fallback,
        "attachments": [{
            "fallback": fallback,
            "color": format!("#{:06X}", brief.color()),
            "title": escape(&brief.title),
            "title_link": brief.link,
            "text": escape(&brief.culprit),
            "fields": fields,
            "footer": footer,
            "mrkdwn_in": [],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn an_attachment_with_the_link_and_escaped_text() {
        let body = body(&Brief::of_alert(&notification()));
        let a = &body["attachments"][0];
        assert_eq!(a["color"], "#E03E2F");
        assert!(
            a["title"]
                .as_str()
                .unwrap()
                .ends_with("@everyone &lt;b&gt;")
        );
        assert_eq!(a["title_link"], notification().link);
        assert_eq!(a["fields"][0]["value"], "Web (web)");
        assert_eq!(a["fields"][2]["title"], "Events");
    }
}
