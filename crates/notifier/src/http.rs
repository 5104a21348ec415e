//! Outbound HTTP for webhook and chat deliveries, treating each target URL
//! as hostile: requests time out, answers are read only so far, redirects
//! are followed only on the same host, and a name that resolves to this
//! machine or a link-local address (cloud metadata endpoints) is refused
//! unless `notifications.allow-private-targets` says otherwise. The check
//! is made on the addresses the connection then uses (the resolver is
//! ours), so a name cannot resolve one way for the check and another for
//! the request.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;

use crate::deliver::SendError;

/// The whole request, connection to last byte read.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most of an answer read: chat services answer in a few hundred bytes.
pub const MAX_ANSWER: usize = 64 * 1024;
/// How much of an answer an error message quotes.
const QUOTED: usize = 256;
const MAX_REDIRECTS: usize = 3;

/// Why an address may not be posted to.
fn forbidden(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() || v4.octets()[0] == 0 => {
            Some("a loopback address (this machine)")
        }
        IpAddr::V4(v4) if v4.is_link_local() => {
            Some("a link-local address (such as a cloud metadata endpoint)")
        }
        IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() => {
            Some("a loopback address (this machine)")
        }
        IpAddr::V6(v6) if v6.is_unicast_link_local() => {
            Some("a link-local address (such as a cloud metadata endpoint)")
        }
        _ => None,
    }
}

fn refusal(host: &str, ip: IpAddr, why: &str) -> String {
    format!("{host} is {ip}, {why}: refused (set notifications.allow-private-targets to allow it)")
}

/// The resolver's refusal of a name, told apart from lookup failures by
/// its type (it travels inside reqwest's connect error).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

/// Resolves names as the system does, keeping only addresses that may be
/// posted to.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| forbidden(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let error: Box<dyn StdError + Send + Sync> = match found.first() {
                    Some(addr) => Box::new(Refused(refusal(
                        &host,
                        addr.ip(),
                        forbidden(addr.ip()).unwrap_or("not allowed"),
                    ))),
                    None => format!("{host} has no address").into(),
                };
                return Err(error);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// What a target answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// At most [`MAX_ANSWER`] bytes of the body, as text.
    pub body: String,
}

impl Answer {
    /// The start of the body, for error messages.
    pub fn quoted(&self) -> String {
        let mut end = self.body.len().min(QUOTED);
        while !self.body.is_char_boundary(end) {
            end -= 1;
        }
        self.body[..end].trim().to_owned()
    }

    /// The answer read as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// The client deliveries and "send test" post through.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpClient {
    pub fn new(allow_private: bool) -> Result<Self, String> {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let first = &attempt.previous()[0];
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if attempt.url().host_str() == first.host_str()
                && attempt.url().port_or_known_default() == first.port_or_known_default()
            {
                attempt.follow()
            } else {
                // The 3xx itself is the answer, reported as a failure.
                attempt.stop()
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Faultline-Notifier/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(policy)
            // A proxy would resolve the name itself, past the check.
            .no_proxy();
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(HttpClient {
            client,
            allow_private,
        })
    }

    /// Posts `body` as JSON to `url` and reads the answer: any 2xx is an
    /// answer to look into; anything else is an error, transient when
    /// asking again may help (a timeout, a refused connection, 408, 429,
    /// 5xx).
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Answer, SendError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| SendError::Permanent(format!("not a valid URL ({e}): {url}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SendError::Permanent(format!("not an http(s) URL: {url}")));
        }
        // An address in the URL is never resolved, so it is checked here.
        if !self.allow_private {
            let ip = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = ip
                && let Some(why) = forbidden(ip)
            {
                return Err(SendError::Permanent(refusal(&ip.to_string(), ip, why)));
            }
        }
        let mut response = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| request_error(&e))?;
        let status = response.status();
        let mut read = Vec::new();
        while read.len() < MAX_ANSWER {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_ANSWER - read.len();
                    read.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                // A body cut short after a success status is still the
                // target's answer.
                Err(e) if status.is_success() => {
                    tracing::debug!(error = %e, "answer cut short");
                    break;
                }
                Err(e) => return Err(request_error(&e)),
            }
        }
        let answer = Answer {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&read).into_owned(),
        };
        if status.is_success() {
            return Ok(answer);
        }
        let reason = status.canonical_reason().unwrap_or("");
        let mut message = format!("HTTP {} {reason}", status.as_u16());
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("?");
            message.push_str(&format!(
                ": redirected to {to}, another host, which is not followed"
            ));
            return Err(SendError::Permanent(message));
        }
        let quoted = answer.quoted();
        if !quoted.is_empty() {
            message.push_str(": ");
            message.push_str(&quoted);
        }
        if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
            Err(SendError::Transient(message))
        } else {
            Err(SendError::Permanent(message))
        }
    }
}

/// A failed request as a user can act on it: the innermost cause (the
/// refused connection, the refused address) rather than reqwest's wrapper.
fn request_error(e: &reqwest::Error) -> SendError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return SendError::Permanent(refused.0.clone());
        }
        message = cause.to_string();
        source = cause.source();
    }
    if e.is_timeout() {
        return SendError::Transient(format!("no answer within {} seconds", TIMEOUT.as_secs()));
    }
    if e.is_redirect() {
        return SendError::Permanent(format!("redirects: {message}"));
    }
    SendError::Transient(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_are_forbidden_and_the_lan_is_not() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "169.254.169.254",
            "::1",
            "::",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.20",
            "100.64.0.1",
            "fd00::5",
            "93.184.216.34",
            "2606:4700::1111",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_loopback_target_is_refused_before_any_connection() {
        let client = HttpClient::new(false).unwrap();
        for url in [
            "http://127.0.0.1:9/hook",
            "http://[::1]:9/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:9/hook",
        ] {
            match client.post_json(url, &serde_json::json!({})).await {
                Err(SendError::Permanent(message)) => {
                    assert!(
                        message.contains("notifications.allow-private-targets"),
                        "{url}: {message}"
                    )
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
