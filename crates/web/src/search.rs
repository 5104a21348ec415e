//! Sentry's issue search syntax: `is:unresolved level:error release:"1.0 beta"
//! environment:production browser:Chrome !server:web-1 free text`.

use faultline_protocol::Level;
use faultline_storage::{GroupStatus, TagFilter};

use crate::error::ApiError;

#[derive(Debug, Default, PartialEq)]
pub struct SearchQuery {
    pub statuses: Vec<GroupStatus>,
    pub levels: Vec<Level>,
    pub tags: Vec<TagFilter>,
    pub text: Vec<String>,
    pub assigned: Option<bool>,
    /// `firstRelease:` (or `first-release:`): issues first seen in it.
    pub first_release: Option<String>,
}

/// Longest search accepted, in characters: Sentry's search bar stops at
/// 400 (its `MAX_QUERY_LENGTH`), so no real search is longer.
pub const MAX_QUERY_CHARS: usize = 400;

/// Most terms in one search. Each becomes a condition of the SQL query, and
/// a thousand of them were more than SQLite accepts; 50 is more than anyone
/// types.
pub const MAX_TERMS: usize = 50;

pub fn parse_search(query: &str) -> Result<SearchQuery, ApiError> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::BadRequest(format!(
            "the search is too long: at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let tokens = tokenize(query);
    if tokens.len() > MAX_TERMS {
        return Err(ApiError::BadRequest(format!(
            "the search has {} terms: at most {MAX_TERMS} terms",
            tokens.len()
        )));
    }
    let mut out = SearchQuery::default();
    for token in tokens {
        let (negated, body) = match token.strip_prefix('!') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, token.clone()),
        };
        let Some((key, value)) = body
            .split_once(':')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty() && !k.contains('"'))
        else {
            out.text.push(unquote(&token));
            continue;
        };
        let value = unquote(value);
        match key {
            "firstRelease" | "first-release" | "first_release" if !negated => {
                out.first_release = Some(value);
            }
            "is" => match value.as_str() {
                "unresolved" => out.statuses.push(GroupStatus::Unresolved),
                "resolved" => out.statuses.push(GroupStatus::Resolved),
                "ignored" | "archived" | "muted" => out.statuses.push(GroupStatus::Ignored),
                "assigned" => out.assigned = Some(true),
                "unassigned" => out.assigned = Some(false),
                // Bookmarks and the like are not tracked; an unknown `is:`
                // must not silently match everything.
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unsupported search term is:{other}"
                    )));
                }
            },
            "level" if !negated => {
                for v in value.split(',') {
                    out.levels.push(
                        Level::parse(v)
                            .ok_or_else(|| ApiError::BadRequest(format!("invalid level {v}")))?,
                    );
                }
            }
            _ => out.tags.push(TagFilter {
                key: key.to_owned(),
                value,
                negated,
            }),
        }
    }
    Ok(out)
}

/// Splits on whitespace outside double quotes.
fn tokenize(query: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .replace('"', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_query() {
        let q = parse_search(r#"is:unresolved level:error release:"app 1.0" environment:prod !server:web-1 division zero"#).unwrap();
        assert_eq!(q.statuses, vec![GroupStatus::Unresolved]);
        assert_eq!(q.levels, vec![Level::Error]);
        assert_eq!(q.tags.len(), 3);
        assert_eq!(
            q.tags[0],
            TagFilter {
                key: "release".into(),
                value: "app 1.0".into(),
                negated: false
            }
        );
        assert!(q.tags[2].negated);
        assert_eq!(q.text, vec!["division", "zero"]);
    }

    #[test]
    fn text_with_colon_in_quotes_and_bad_terms() {
        let q = parse_search(r#""TypeError: x""#).unwrap();
        assert_eq!(q.text, vec!["TypeError: x"]);
        assert!(parse_search("is:bookmarked").is_err());
        assert!(parse_search("level:loud").is_err());
        assert_eq!(parse_search("").unwrap(), SearchQuery::default());
    }

    #[test]
    fn length_and_terms_are_capped_with_the_limit_named() {
        let err = |q: &str| parse_search(q).unwrap_err().to_string();
        assert!(err(&"a ".repeat(1000)).contains("at most 400 characters"));
        assert!(err(&"x".repeat(401)).contains("400 characters"));
        assert!(parse_search(&"x".repeat(400)).is_ok());
        // Characters, not bytes.
        assert!(parse_search(&"é".repeat(400)).is_ok());
        assert!(err(&"a ".repeat(51)).contains("at most 50 terms"));
        assert_eq!(parse_search(&"a ".repeat(50)).unwrap().text.len(), 50);
        // A quoted phrase is one term however many words it has.
        let phrase = format!("\"{}\"", "w ".repeat(60));
        assert_eq!(parse_search(&phrase).unwrap().text.len(), 1);
    }
}
