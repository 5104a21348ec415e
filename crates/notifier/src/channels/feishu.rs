//! Feishu (Lark) custom bots: a rich-text `post` message, whose elements
//! are plain text and links (nothing from the event is read as markup).
//! When the bot verifies signatures the body carries `timestamp`
//! (seconds, as a string) and `sign`: the base64 of HMAC-SHA256 keyed by
//! `"{timestamp}\n{secret}"` over no data, as Feishu documents it. Feishu
//! answers 200 with `code` 0 (older bots: `StatusCode` 0), or the reason.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Brief, code_error};
use crate::deliver::SendError;
use crate::http::Answer;

/// "frequency limited" and "too many requests".
const RATE_LIMITED: &[i64] = &[11232, 9499];

pub fn sign(secret: &str, timestamp: i64) -> String {
    let key = format!("{timestamp}\n{secret}");
    let mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn text(text: &str) -> Value {
    json!({"tag": "text", "text": text})
}

pub fn body(brief: &Brief, secret: Option<&str>, now: DateTime<Utc>) -> Value {
    let mut lines: Vec<Vec<Value>> = Vec::new();
    if !brief.culprit.is_empty() {
        lines.push(vec![text(&brief.culprit)]);
    }
    for (label, value) in brief.facts() {
        lines.push(vec![text(&format!("{label}: {value}"))]);
    }
    for frame in &brief.frames {
        lines.push(vec![text(&format!("  {frame}"))]);
    }
    if !brief.rules.is_empty() {
        lines.push(vec![text(&format!(
            "Alert rule: {}",
            brief.rules.join(", ")
        ))]);
    }
    lines.push(vec![
        json!({"tag": "a", "text": "View on Faultline", "href": brief.link}),
    ]);
    let mut body = json!({
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": brief.title, "content": lines}}},
    });
    if let Some(secret) = secret {
        let timestamp = now.timestamp();
        body["timestamp"] = json!(timestamp.to_string());
        body["sign"] = json!(sign(secret, timestamp));
    }
    body
}

pub fn check(answer: &Answer) -> Result<(), SendError> {
    let Some(json) = answer.json() else {
        return Ok(());
    };
    let code = json["code"]
        .as_i64()
        .or_else(|| json["StatusCode"].as_i64());
    match code {
        None | Some(0) => Ok(()),
        Some(code) => {
            let message = json["msg"]
                .as_str()
                .or_else(|| json["StatusMessage"].as_str())
                .unwrap_or("");
            Err(code_error("Feishu", code, message, RATE_LIMITED))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn the_signature_is_hmac_sha256_keyed_by_timestamp_and_secret() {
        // printf '' | openssl dgst -sha256 -mac HMAC -macopt
        // key:"$(printf '1700000000\ntest')" -binary | base64
        assert_eq!(
            sign("test", 1_700_000_000),
            "eSJQnOl8XqPTMPHWz9e5IzeHS/tqoc68g2967ekIPmg="
        );
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let body = body(&Brief::of_alert(&notification()), Some("test"), now);
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], "eSJQnOl8XqPTMPHWz9e5IzeHS/tqoc68g2967ekIPmg=");
        assert_eq!(body["msg_type"], "post");
        let post = &body["content"]["post"]["zh_cn"];
        assert!(post["title"].as_str().unwrap().starts_with("WEB-7 - "));
        let last = post["content"].as_array().unwrap().last().unwrap();
        assert_eq!(last[0]["href"], notification().link);
    }

    #[test]
    fn unsigned_without_a_secret_and_code_answers() {
        let body = body(&Brief::of_alert(&notification()), None, Utc::now());
        assert!(body.get("sign").is_none());
        let answer = |body: &str| Answer {
            status: 200,
            body: body.into(),
        };
        assert_eq!(
            check(&answer(r#"{"code":0,"msg":"success","data":{}}"#)),
            Ok(())
        );
        assert_eq!(
            check(&answer(r#"{"StatusCode":0,"StatusMessage":"success"}"#)),
            Ok(())
        );
        assert!(matches!(
            check(&answer(r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#)),
            Err(SendError::Permanent(m)) if m.contains("19021")
        ));
    }
}
