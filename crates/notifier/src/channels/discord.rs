//! Discord webhooks: one embed in the level's color. Mentions are turned
//! off (`allowed_mentions`), so an event cannot ping `@everyone`, and text
//! from the event is markdown-escaped.

use serde_json::{Value, json};

use super::{Brief, markdown_escape};

/// Discord's limits on an embed's title and description.
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    // A cut must not leave a dangling escape.
    if out.ends_with('\\') {
        out.pop();
    }
    out.push('…');
    out
}

pub fn body(brief: &Brief) -> Value {
    let mut description = markdown_escape(&brief.culprit);
    if !brief.frames.is_empty() {
        description.push_str("\n\n");
        let frames: Vec<String> = brief
            .frames
            .iter()
            .map(|f| format!("• {}", markdown_escape(f)))
            .collect();
        description.push_str(&frames.join("\n"));
    }
    let fields: Vec<Value> = brief
        .facts()
        .into_iter()
        .map(|(label, value)| json!({"name": label, "value": markdown_escape(&value), "inline": true}))
        .collect();
    let footer = if brief.rules.is_empty() {
        "Faultline".to_owned()
    } else {
        format!("Faultline · {}", brief.rules.join(", "))
    };
    json!({
        "username": "Faultline",
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": cut(&brief.title, MAX_TITLE),
            "url": brief.link,
            "description": cut(&description, MAX_DESCRIPTION),
            "color": brief.color(),
            "fields": fields,
            "footer": {"text": cut(&footer, 2048)},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn an_embed_that_mentions_nobody() {
        let body = body(&Brief::of_alert(&notification()));
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        let embed = &body["embeds"][0];
        assert_eq!(embed["url"], notification().link);
        assert_eq!(embed["color"], 0xE03E2F);
        assert_eq!(embed["fields"][1]["value"], "error");
        assert!(
            embed["description"]
                .as_str()
                .unwrap()
                .contains("checkout \\(app/views.py:42\\)")
        );
    }
}
