//! `system.*`, `auth.*` and `csrf.*`: the site's address and secret, and
//! who is trusted to say where a request comes from.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::net::{BadIpNet, IpNet};
use crate::{ConfigError, RawConfig, Secret};

#[derive(Debug, Clone)]
pub struct System {
    /// `system.url-prefix` without a trailing `/`; unset, each process
    /// uses [`System::url_prefix_for`] its listening address.
    pub url_prefix: Option<String>,
    /// `system.secret-key`: at least 32 characters.
    pub secret_key: Option<Secret>,
    /// `system.trusted-proxies`: peers whose `X-Forwarded-For` names the
    /// client; empty, the peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// `system.internal-dsn`: where Faultline reports its own panics and
    /// errors (a Sentry-compatible DSN); unset, nowhere.
    pub internal_dsn: Option<String>,
}

impl System {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let url_prefix = raw.url("system.url-prefix", &["http", "https"])?;
        let secret_key = raw.text("system.secret-key").map(str::to_owned);
        if secret_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(raw.invalid(
                "system.secret-key",
                "must be at least 32 characters (run `faultline config generate-secret-key`)",
            ));
        }
        let trusted_proxies = raw.list("system.trusted-proxies", |entry| {
            entry.parse().map_err(|e: BadIpNet| e.to_string())
        })?;
        let internal_dsn = raw.url("system.internal-dsn", &["http", "https"])?;
        if let Some(dsn) = &internal_dsn {
            let key = dsn
                .split_once("://")
                .and_then(|(_, rest)| rest.split_once('@'))
                .map(|(key, _)| key);
            let project = dsn.rsplit('/').next().unwrap_or_default();
            if key.is_none_or(str::is_empty) || project.parse::<u64>().is_err() {
                return Err(raw.invalid(
                    "system.internal-dsn",
                    "must be a DSN, http(s)://<public key>@<host>/<project id>",
                ));
            }
        }
        Ok(System {
            url_prefix,
            secret_key: secret_key.map(Secret),
            trusted_proxies,
            internal_dsn,
        })
    }

    /// The base URL of DSNs and links for a process listening on `addr`:
    /// `system.url-prefix`, or else `addr` as a browser on the same machine
    /// reaches it (an unspecified address such as 0.0.0.0 means this
    /// machine, so 127.0.0.1). The devserver and `faultline run web` both
    /// use this, so they cannot disagree.
    pub fn url_prefix_for(&self, addr: SocketAddr) -> String {
        if let Some(prefix) = &self.url_prefix {
            return prefix.clone();
        }
        let ip = if addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            addr.ip()
        };
        // SocketAddr's Display puts an IPv6 address in brackets.
        format!("http://{}", SocketAddr::new(ip, addr.port()))
    }
}

#[derive(Debug, Clone)]
pub struct Auth {
    /// `auth.allow-registration`: whether anyone may create an account.
    pub allow_registration: bool,
}

impl Auth {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Auth {
            allow_registration: raw.flag("auth.allow-registration")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Csrf {
    /// `csrf.trusted-origins`: `scheme://host[:port]` values whose form
    /// posts the dashboard accepts besides its own.
    pub trusted_origins: Vec<String>,
}

impl Csrf {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let trusted_origins = raw.list("csrf.trusted-origins", |origin| {
            let ok = origin.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
            });
            if ok {
                Ok(origin.to_owned())
            } else {
                Err(format!(
                    "`{origin}` is not an origin like https://errors.example.com:8443"
                ))
            }
        })?;
        Ok(Csrf { trusted_origins })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(url_prefix: Option<&str>) -> System {
        System {
            url_prefix: url_prefix.map(str::to_owned),
            secret_key: None,
            trusted_proxies: Vec::new(),
            internal_dsn: None,
        }
    }

    #[test]
    fn url_prefix_default_is_the_listening_address_as_reached_from_here() {
        let unset = system(None);
        let at = |s: &str| unset.url_prefix_for(s.parse().unwrap());
        assert_eq!(at("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(at("0.0.0.0:9000"), "http://127.0.0.1:9000");
        assert_eq!(at("10.0.0.5:3000"), "http://10.0.0.5:3000");
        assert_eq!(at("[::]:9000"), "http://127.0.0.1:9000");
        assert_eq!(at("[::1]:9000"), "http://[::1]:9000");
        let set = system(Some("https://errors.example.com"));
        assert_eq!(
            set.url_prefix_for("0.0.0.0:9000".parse().unwrap()),
            "https://errors.example.com"
        );
    }
}
