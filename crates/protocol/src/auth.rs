//! How an SDK names its project key: the `X-Sentry-Auth` header, the
//! `sentry_key` query parameter, or the DSN in an envelope header.

use crate::ids::ProjectId;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing authentication information")]
    Missing,
    #[error("invalid X-Sentry-Auth header: {0}")]
    InvalidHeader(&'static str),
    #[error("invalid DSN: {0}")]
    InvalidDsn(&'static str),
}

/// The parts of Sentry's auth scheme Faultline uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryAuth {
    pub public_key: String,
    pub client: Option<String>,
}

impl SentryAuth {
    /// Parses `Sentry sentry_key=…, sentry_version=7, sentry_client=…`.
    pub fn from_header(value: &str) -> Result<Self, AuthError> {
        let rest = value.trim();
        let rest = match rest.split_once(char::is_whitespace) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sentry") => rest,
            _ => return Err(AuthError::InvalidHeader("expected the Sentry scheme")),
        };
        let mut public_key = None;
        let mut client = None;
        for pair in rest.split(',') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim() {
                "sentry_key" => public_key = Some(value.to_owned()),
                "sentry_client" => client = Some(value.to_owned()),
                _ => {}
            }
        }
        let public_key = public_key
            .filter(|k| is_plausible_key(k))
            .ok_or(AuthError::InvalidHeader("missing or malformed sentry_key"))?;
        Ok(SentryAuth { public_key, client })
    }

    /// Reads `sentry_key` (and `sentry_client`) from a URL query string.
    pub fn from_query(query: &str) -> Option<Self> {
        let mut public_key = None;
        let mut client = None;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sentry_key" => public_key = Some(percent_decode(value)),
                "sentry_client" => client = Some(percent_decode(value)),
                _ => {}
            }
        }
        let public_key = public_key.filter(|k| is_plausible_key(k))?;
        Some(SentryAuth { public_key, client })
    }
}

/// A parsed DSN: `scheme://public_key[:secret]@host[:port][/path]/project_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub public_key: String,
    pub project_id: ProjectId,
}

impl Dsn {
    pub fn parse(dsn: &str) -> Result<Self, AuthError> {
        let (_, rest) = dsn
            .split_once("://")
            .ok_or(AuthError::InvalidDsn("missing scheme"))?;
        let (userinfo, hostpath) = rest
            .split_once('@')
            .ok_or(AuthError::InvalidDsn("missing public key"))?;
        let public_key = userinfo.split(':').next().unwrap_or_default();
        if !is_plausible_key(public_key) {
            return Err(AuthError::InvalidDsn("malformed public key"));
        }
        let project = hostpath
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .ok_or(AuthError::InvalidDsn("missing project id"))?;
        let project_id = project
            .parse()
            .map_err(|_| AuthError::InvalidDsn("project id is not a number"))?;
        Ok(Dsn {
            public_key: public_key.to_owned(),
            project_id,
        })
    }
}

/// Keys are hex strings in practice; anything short and alphanumeric is let
/// through to the key lookup, which decides.
fn is_plausible_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_as_python_sends_it() {
        let auth = SentryAuth::from_header(
            "Sentry sentry_key=publickey, sentry_version=7, sentry_client=sentry.python/2.75.0",
        )
        .unwrap();
        assert_eq!(auth.public_key, "publickey");
        assert_eq!(auth.client.as_deref(), Some("sentry.python/2.75.0"));
    }

    #[test]
    fn header_without_key_is_rejected() {
        assert!(SentryAuth::from_header("Sentry sentry_version=7").is_err());
        assert!(SentryAuth::from_header("Bearer abc").is_err());
    }

    #[test]
    fn query_as_node_sends_it() {
        let auth = SentryAuth::from_query(
            "sentry_version=7&sentry_key=publickey&sentry_client=sentry.javascript.node%2F11.12.0",
        )
        .unwrap();
        assert_eq!(auth.public_key, "publickey");
        assert_eq!(
            auth.client.as_deref(),
            Some("sentry.javascript.node/11.12.0")
        );
        assert!(SentryAuth::from_query("sentry_version=7").is_none());
        assert!(SentryAuth::from_query("sentry_key=%").is_none());
    }

    #[test]
    fn dsn_forms() {
        let dsn = Dsn::parse("http://publickey@127.0.0.1:9876/42").unwrap();
        assert_eq!(dsn.public_key, "publickey");
        assert_eq!(dsn.project_id, ProjectId(42));
        let dsn = Dsn::parse("https://abc:secret@host/prefix/7/").unwrap();
        assert_eq!(
            (dsn.public_key.as_str(), dsn.project_id),
            ("abc", ProjectId(7))
        );
        assert!(Dsn::parse("nonsense").is_err());
        assert!(Dsn::parse("http://key@host/notanumber").is_err());
    }
}
