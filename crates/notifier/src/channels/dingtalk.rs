//! DingTalk custom robots: a markdown message, posted to the webhook URL
//! with `timestamp` (milliseconds) and `sign` added when the robot signs:
//! `sign` is the URL-encoded base64 of HMAC-SHA256, keyed by the secret,
//! of `"{timestamp}\n{secret}"`, as DingTalk documents it. DingTalk
//! answers 200 with `errcode` 0, or the reason it refused.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Brief, errcode_check, markdown_lines};
use crate::deliver::SendError;
use crate::http::Answer;

/// "send too fast" (more than 20 messages a minute to one robot).
const RATE_LIMITED: &[i64] = &[130101];

pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The webhook URL with `timestamp` and `sign` when there is a secret.
pub fn signed_url(
    webhook: &str,
    secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    let Some(secret) = secret else {
        return Ok(webhook.to_owned());
    };
    let mut url = url::Url::parse(webhook)
        .map_err(|e| SendError::Permanent(format!("not a valid webhook URL: {e}")))?;
    let timestamp = now.timestamp_millis();
    // `append_pair` form-encodes, which is what DingTalk's own example
    // (`urllib.parse.quote_plus`) does to the base64.
    url.query_pairs_mut()
        .append_pair("timestamp", &timestamp.to_string())
        .append_pair("sign", &sign(secret, timestamp));
    Ok(url.into())
}

pub fn body(brief: &Brief) -> Value {
    // DingTalk's markdown needs a blank line between paragraphs.
    let text = markdown_lines(brief).join("\n\n");
    let title: String = brief.title.chars().take(100).collect();
    json!({
        "msgtype": "markdown",
        "markdown": {"title": title, "text": text},
    })
}

pub fn check(answer: &Answer) -> Result<(), SendError> {
    errcode_check("DingTalk", answer, RATE_LIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_and_secret() {
        // Worked out independently: printf '1700000000000\nSECtest' |
        // openssl dgst -sha256 -hmac SECtest -binary | base64
        assert_eq!(
            sign("SECtest", 1_700_000_000_000),
            "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
        );
        let now = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let url = signed_url(
            "https://oapi.dingtalk.com/robot/send?access_token=abc",
            Some("SECtest"),
            now,
        )
        .unwrap();
        assert_eq!(
            url,
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000\
             &sign=aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"
        );
        assert_eq!(
            signed_url(
                "https://oapi.dingtalk.com/robot/send?access_token=abc",
                None,
                now
            )
            .unwrap(),
            "https://oapi.dingtalk.com/robot/send?access_token=abc"
        );
    }

    #[test]
    fn a_markdown_message_and_errcode_answers() {
        let body = body(&Brief::of_alert(&notification()));
        assert_eq!(body["msgtype"], "markdown");
        assert!(
            body["markdown"]["text"]
                .as_str()
                .unwrap()
                .contains("**Level:** error")
        );
        let answer = |body: &str| Answer {
            status: 200,
            body: body.into(),
        };
        assert_eq!(check(&answer(r#"{"errcode":0,"errmsg":"ok"}"#)), Ok(()));
        assert!(matches!(
            check(&answer(r#"{"errcode":310000,"errmsg":"sign not match"}"#)),
            Err(SendError::Permanent(m)) if m.contains("310000") && m.contains("sign not match")
        ));
        assert!(matches!(
            check(&answer(r#"{"errcode":130101,"errmsg":"send too fast"}"#)),
            Err(SendError::Transient(_))
        ));
    }
}
