//! Sentry's cursor pagination: `?cursor=0:<offset>:0` and a `Link` header
//! with `rel="previous"` and `rel="next"` and `results="true|false"`, which
//! sentry-cli and scripts follow.

use actix_web::HttpRequest;

use crate::error::{ApiError, ApiResult};

/// Furthest offset a cursor may ask for. Far beyond any page a person or
/// script reads, it keeps `offset + limit` from wrapping and every offset a
/// valid (non-negative) SQL `OFFSET`.
pub const MAX_OFFSET: usize = 1_000_000;

pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

/// An offset from a query parameter (`what` names it in the error): a
/// whole number up to [`MAX_OFFSET`].
pub fn parse_offset(what: &str, value: &str) -> ApiResult<usize> {
    value
        .parse::<u64>()
        .ok()
        .and_then(|o| usize::try_from(o).ok())
        .filter(|o| *o <= MAX_OFFSET)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid {what} {value}: the offset must be a whole number up to {MAX_OFFSET}"
            ))
        })
}

/// The offset in Sentry's cursor, `<value>:<offset>:<is_prev>`.
fn cursor_offset(cursor: &str) -> ApiResult<usize> {
    match cursor.split(':').nth(1) {
        Some(offset) => parse_offset("cursor", offset).map_err(|_| {
            ApiError::BadRequest(format!(
                "invalid cursor {cursor}: expected 0:<offset>:0 with an offset up to {MAX_OFFSET}"
            ))
        }),
        None => Err(ApiError::BadRequest(format!(
            "invalid cursor {cursor}: expected 0:<offset>:0"
        ))),
    }
}

pub fn page(req: &HttpRequest, default_limit: usize, max_limit: usize) -> ApiResult<Page> {
    let mut offset = 0;
    let mut limit = default_limit;
    for (key, value) in query_pairs(req.query_string()) {
        match key.as_str() {
            // sentry-cli sends an empty cursor for the first page.
            "cursor" if value.is_empty() => {}
            "cursor" => offset = cursor_offset(&value)?,
            "limit" | "per_page" => {
                limit = value
                    .parse::<usize>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid {key}")))?
                    .clamp(1, max_limit);
            }
            _ => {}
        }
    }
    Ok(Page { offset, limit })
}

/// The `Link` header for a page; `has_next` when a further page exists.
pub fn link_header(req: &HttpRequest, page: &Page, has_next: bool) -> String {
    let base = format!(
        "{}://{}{}",
        req.connection_info().scheme(),
        req.connection_info().host(),
        req.path()
    );
    let kept: Vec<String> = query_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| format!("{}={}", encode(&k), encode(&v)))
        .collect();
    let url = |cursor: &str| {
        let mut q = kept.clone();
        q.push(format!("cursor={}", encode(cursor)));
        format!("{base}?{}", q.join("&"))
    };
    let prev_offset = page.offset.saturating_sub(page.limit);
    let prev = format!("0:{prev_offset}:1");
    // Bounded by MAX_OFFSET and max_limit; saturating all the same.
    let next = format!("0:{}:0", page.offset.saturating_add(page.limit));
    format!(
        "<{}>; rel=\"previous\"; results=\"{}\"; cursor=\"{prev}\", <{}>; rel=\"next\"; results=\"{}\"; cursor=\"{next}\"",
        url(&prev),
        page.offset > 0,
        url(&next),
        has_next
    )
}

pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_values() {
        let pairs = query_pairs("query=is%3Aunresolved+level%3Aerror&cursor=0:100:0&x=%");
        assert_eq!(
            pairs[0],
            ("query".into(), "is:unresolved level:error".into())
        );
        assert_eq!(pairs[1].1, "0:100:0");
        assert_eq!(pairs[2].1, "%");
    }

    #[test]
    fn cursor_offsets_are_bounded() {
        assert_eq!(cursor_offset("0:100:0").unwrap(), 100);
        assert_eq!(cursor_offset("0:1000000:0").unwrap(), MAX_OFFSET);
        for bad in [
            "0:1000001:0",
            "0:18446744073709551615:0",
            "0:18446744073709551616:0",
            "0:9223372036854775808:0",
            "0:-1:0",
            "0::0",
            "garbage",
        ] {
            let err = cursor_offset(bad).unwrap_err().to_string();
            assert!(err.contains("invalid cursor"), "{bad}: {err}");
        }
        assert!(
            parse_offset("cursor", "18446744073709551615")
                .unwrap_err()
                .to_string()
                .contains("1000000")
        );
    }
}
