//! WeCom (WeChat Work) group robots: a markdown message of at most 4,096
//! bytes, as WeCom documents; when everything does not fit, the stack
//! trace goes first, then the other lines from the end, never the title or
//! the link. WeCom answers 200 with `errcode` 0, or the reason.

use serde_json::{Value, json};

use super::{Brief, errcode_check, markdown_lines};
use crate::deliver::SendError;
use crate::http::Answer;

/// WeCom's limit on a markdown message's `content`, in bytes of UTF-8.
pub const MAX_CONTENT: usize = 4096;
/// "api freq out of limit" (20 messages a minute per robot).
const RATE_LIMITED: &[i64] = &[45009];

/// `lines` joined by newlines, dropping lines from the second-to-last
/// backwards until it fits in `max` bytes; the first and last lines (the
/// title and the link) stay, cut if they alone are too long.
pub fn fit(mut lines: Vec<String>, max: usize) -> String {
    while lines.len() > 2 && lines.join("\n").len() > max {
        lines.remove(lines.len() - 2);
    }
    let mut content = lines.join("\n");
    if content.len() > max {
        let mut end = max;
        while !content.is_char_boundary(end) {
            end -= 1;
        }
        content.truncate(end);
    }
    content
}

pub fn body(brief: &Brief) -> Value {
    json!({
        "msgtype": "markdown",
        "markdown": {"content": fit(markdown_lines(brief), MAX_CONTENT)},
    })
}

pub fn check(answer: &Answer) -> Result<(), SendError> {
    errcode_check("WeCom", answer, RATE_LIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::tests::notification;

    #[test]
    fn a_long_message_is_cut_to_4096_bytes_keeping_title_and_link() {
        let mut n = notification();
        // Three-byte characters, 300 of them a line: far over the limit.
        n.frames = (0..20)
            .map(|i| format!("{i}{}", "错".repeat(299)))
            .collect();
        n.culprit = "文".repeat(300);
        let body = body(&Brief::of_alert(&n));
        let content = body["markdown"]["content"].as_str().unwrap();
        assert!(content.len() <= MAX_CONTENT, "{}", content.len());
        assert!(content.starts_with("**[WEB-7 - "));
        assert!(content.ends_with(&format!("[View on Faultline]({})", n.link)));
        assert!(content.contains("**Project:** Web \\(web\\)"));
        let short = super::body(&Brief::of_alert(&notification()));
        assert!(
            short["markdown"]["content"]
                .as_str()
                .unwrap()
                .contains("checkout")
        );
    }
}
