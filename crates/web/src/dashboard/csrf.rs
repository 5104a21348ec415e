//! Cross-site request forgery protection that survives reverse proxies and
//! unexpected host names — the failure self-hosted Sentry users meet.
//!
//! A state-changing request passes when its `Origin` (or, lacking one, its
//! `Referer`) is the very host the browser talked to (`Host`, or
//! `X-Forwarded-Host` behind a proxy), or is listed in `system.url-prefix`
//! or `csrf.trusted-origins`; and, once signed in, when its form carries the
//! session's token. A refusal names the origin and the setting to change.

use actix_web::HttpRequest;
use actix_web::http::header;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfRejection {
    /// The browser said where the request came from, and it is not allowed.
    UntrustedOrigin { origin: String, host: String },
    /// Neither `Origin` nor `Referer`: browsers send one on form posts.
    MissingOrigin,
    /// The form's token is missing or not this session's.
    BadToken,
}

/// `scheme://host[:port]` → `host:port` with the scheme's default port made
/// explicit, so `https://a` and `a:443` compare equal.
fn authority(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    if host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        && !host.ends_with(']')
    {
        return Some(host);
    }
    let port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    Some(format!("{host}:{port}"))
}

fn host_authority(host: &str, scheme: &str) -> String {
    authority(&format!("{scheme}://{host}")).unwrap_or_default()
}

pub fn check_origin(req: &HttpRequest, trusted: &[String]) -> Result<(), CsrfRejection> {
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .or_else(|| headers.get(header::REFERER).and_then(|v| v.to_str().ok()))
        .ok_or(CsrfRejection::MissingOrigin)?;
    let origin_authority = authority(origin).ok_or(CsrfRejection::MissingOrigin)?;
    let info = req.connection_info();
    // connection_info() already prefers X-Forwarded-Host / Forwarded.
    let host = info.host().to_owned();
    let origin_scheme = origin.split_once("://").map_or("http", |(s, _)| s);
    if origin_authority == host_authority(&host, origin_scheme)
        || origin_authority == host_authority(&host, info.scheme())
    {
        return Ok(());
    }
    if trusted
        .iter()
        .filter_map(|t| authority(t))
        .any(|t| t == origin_authority)
    {
        return Ok(());
    }
    let origin = origin
        .split_once("://")
        .map(|(s, rest)| format!("{s}://{}", rest.split('/').next().unwrap_or("")))
        .unwrap_or_else(|| origin.to_owned());
    Err(CsrfRejection::UntrustedOrigin { origin, host })
}

pub fn check_token(expected: &str, submitted: Option<&str>) -> Result<(), CsrfRejection> {
    match submitted {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(CsrfRejection::BadToken),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn same_host_on_any_name_or_port_passes() {
        let req = TestRequest::post()
            .insert_header(("Host", "10.0.0.5:9000"))
            .insert_header(("Origin", "http://10.0.0.5:9000"))
            .to_http_request();
        assert_eq!(check_origin(&req, &[]), Ok(()));
    }

    #[test]
    fn proxy_terminating_tls_passes() {
        let req = TestRequest::post()
            .insert_header(("Host", "faultline.internal"))
            .insert_header(("X-Forwarded-Host", "errors.example.com"))
            .insert_header(("Origin", "https://errors.example.com"))
            .to_http_request();
        assert_eq!(check_origin(&req, &[]), Ok(()));
    }

    #[test]
    fn foreign_origin_is_refused_unless_trusted() {
        let req = TestRequest::post()
            .insert_header(("Host", "errors.example.com"))
            .insert_header(("Origin", "https://evil.example.net"))
            .to_http_request();
        assert!(matches!(
            check_origin(&req, &[]),
            Err(CsrfRejection::UntrustedOrigin { .. })
        ));
        assert_eq!(
            check_origin(&req, &["https://evil.example.net".into()]),
            Ok(())
        );
        let no_origin = TestRequest::post()
            .insert_header(("Host", "a"))
            .to_http_request();
        assert_eq!(
            check_origin(&no_origin, &[]),
            Err(CsrfRejection::MissingOrigin)
        );
    }

    #[test]
    fn tokens() {
        assert!(check_token("abc", Some("abc")).is_ok());
        assert!(check_token("abc", Some("abd")).is_err());
        assert!(check_token("abc", None).is_err());
    }
}
