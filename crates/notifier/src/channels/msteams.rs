//! Microsoft Teams through a Workflows webhook ("When a Teams webhook
//! request is received"): a message whose one attachment is an adaptive
//! card with the title, culprit, facts and a button to the issue.

use serde_json::{Value, json};

use super::{Brief, markdown_escape};

pub fn body(brief: &Brief) -> Value {
    let facts: Vec<Value> = brief
        .facts()
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": markdown_escape(&value)}))
        .collect();
    let mut card_body = vec![
        json!({"type": "TextBlock", "text": markdown_escape(&brief.title), "weight": "Bolder", "size": "Medium", "wrap": true}),
    ];
    if !brief.culprit.is_empty() {
        card_body.push(json!({"type": "TextBlock", "text": markdown_escape(&brief.culprit), "isSubtle": true, "wrap": true}));
    }
    card_body.push(json!({"type": "FactSet", "facts": facts}));
    if !brief.frames.is_empty() {
        let frames: Vec<String> = brief.frames.iter().map(|f| markdown_escape(f)).collect();
        card_body.push(json!({"type": "TextBlock", "text": frames.join("\n\n"), "fontType": "Monospace", "wrap": true, "size": "Small"}));
    }
    if !brief.rules.is_empty() {
        card_body.push(json!({"type": "TextBlock", "text": format!("Alert rule: {}", markdown_escape(&brief.rules.join(", "))), "isSubtle": true, "wrap": true, "size": "Small"}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": card_body,
                "actions": [{"type": "Action.OpenUrl", "title": "View on Faultline", "url": brief.link}],
                "msteams": {"width": "Full"},
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn an_adaptive_card_with_a_button_to_the_issue() {
        let body = body(&Brief::of_alert(&notification()));
        assert_eq!(body["type"], "message");
        let a = &body["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &a["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["actions"][0]["url"], notification().link);
        assert_eq!(card["body"][2]["facts"][0]["title"], "Project");
    }
}
