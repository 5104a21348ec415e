//! Faultline's configuration: `config.yml` (Sentry's key names where they
//! exist), every key overridable by an environment variable
//! (`system.url-prefix` → `FAULTLINE_SYSTEM_URL_PREFIX`), with defaults and
//! validation in one place. A bad value stops start-up with one line naming
//! the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod limits;
mod net;

pub use limits::Limits;
pub use net::IpNet;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid YAML: {source}")]
    Yaml {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("config key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
}

impl ConfigError {
    fn invalid(key: &str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Flat `dotted.key → value` view of config.yml plus environment overrides.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    values: BTreeMap<String, String>,
}

impl RawConfig {
    /// Reads a YAML file; nested mappings become dotted keys, so both
    /// `system: {url-prefix: …}` and `system.url-prefix: …` work as in Sentry.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|source| ConfigError::Yaml {
            path: path.to_owned(),
            source,
        })
    }

    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        let value: serde_yaml::Value = serde_yaml::from_str(text)?;
        let mut values = BTreeMap::new();
        flatten("", &value, &mut values);
        Ok(RawConfig { values })
    }

    /// Applies `FAULTLINE_*` variables: `FAULTLINE_SYSTEM_URL_PREFIX`
    /// overrides `system.url-prefix`.
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        for key in KNOWN_KEYS {
            if let Some(v) = vars.get(&env_name(key)) {
                self.values.insert((*key).to_owned(), v.clone());
            }
        }
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_owned(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| ConfigError::invalid(key, format!("`{v}` is not valid: {e}"))),
        }
    }

    fn parse_bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::invalid(
                key,
                format!("`{v}` is not true or false"),
            )),
        }
    }
}

fn flatten(prefix: &str, value: &serde_yaml::Value, out: &mut BTreeMap<String, String>) {
    use serde_yaml::Value as Y;
    match value {
        Y::Mapping(map) => {
            for (k, v) in map {
                let k = match k {
                    Y::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Y::Sequence(items) => {
            let joined: Vec<String> = items
                .iter()
                .filter_map(|i| match i {
                    Y::String(s) => Some(s.clone()),
                    Y::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            out.insert(prefix.to_owned(), joined.join(","));
        }
        Y::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        Y::Number(n) => {
            out.insert(prefix.to_owned(), n.to_string());
        }
        Y::Bool(b) => {
            out.insert(prefix.to_owned(), b.to_string());
        }
        Y::Null | Y::Tagged(_) => {}
    }
}

/// `system.url-prefix` → `FAULTLINE_SYSTEM_URL_PREFIX`.
pub fn env_name(key: &str) -> String {
    let mut name = String::from("FAULTLINE_");
    name.extend(key.chars().map(|c| match c {
        '.' | '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    name
}

/// Every key Faultline reads; environment overrides are looked up for these.
pub const KNOWN_KEYS: &[&str] = &[
    "system.url-prefix",
    "system.secret-key",
    "system.trusted-proxies",
    "mail.host",
    "mail.port",
    "mail.username",
    "mail.password",
    "mail.use-tls",
    "mail.use-ssl",
    "mail.from",
    "mail.subject-prefix",
    "database.url",
    "clickhouse.url",
    "kafka.brokers",
    "kafka.idempotence",
    "kafka.topic-partitions",
    "kafka.topic-retention-hours",
    "query.url",
    "redis.url",
    "storage.dir",
    "retention.days",
    "auth.allow-registration",
    "csrf.trusted-origins",
    "limits.max-event-size",
    "limits.max-envelope-size",
    "limits.max-attachment-size",
    "limits.max-decompressed-size",
    "limits.max-api-payload-size",
];

/// The validated configuration every service receives.
#[derive(Debug, Clone)]
pub struct Config {
    pub url_prefix: Option<String>,
    pub secret_key: Option<String>,
    pub database_url: Option<String>,
    /// The production backends; each unset one means the embedded store.
    pub backends: BackendUrls,
    pub storage_dir: Option<PathBuf>,
    pub retention_days: u32,
    pub allow_registration: bool,
    pub csrf_trusted_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` names the client
    /// (`system.trusted-proxies`); empty: the peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    pub limits: Limits,
}

impl Config {
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let url_prefix = raw
            .get("system.url-prefix")
            .map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &url_prefix
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::invalid(
                "system.url-prefix",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
        let secret_key = raw.get("system.secret-key").map(str::to_owned);
        if let Some(key) = &secret_key
            && key.len() < 32
        {
            return Err(ConfigError::invalid(
                "system.secret-key",
                "must be at least 32 characters (run `faultline config generate-secret-key`)",
            ));
        }
        let database_url = raw.get("database.url").map(str::to_owned);
        if let Some(url) = &database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                format!("`{url}` must be a sqlite: or postgres:// URL"),
            ));
        }
        let backends = BackendUrls::from_raw(raw)?;
        let retention_days = raw.parse("retention.days", 90u32)?;
        if retention_days == 0 {
            return Err(ConfigError::invalid("retention.days", "must be at least 1"));
        }
        Ok(Config {
            url_prefix,
            secret_key,
            database_url,
            backends,
            storage_dir: raw.get("storage.dir").map(PathBuf::from),
            retention_days,
            allow_registration: raw.parse_bool("auth.allow-registration", false)?,
            csrf_trusted_origins: trusted_origins(raw)?,
            trusted_proxies: trusted_proxies(raw)?,
            limits: Limits::from_raw(raw)?,
        })
    }
}

/// Where the production topology's servers are (DESIGN §2's own keys).
#[derive(Debug, Clone)]
pub struct BackendUrls {
    /// `kafka.brokers`: `host:port[,host:port…]`.
    pub kafka_brokers: Option<String>,
    /// Idempotent producers (default on; off only for brokers that
    /// mishandle them).
    pub kafka_idempotence: bool,
    /// Partitions of each topic `faultline upgrade` creates.
    pub kafka_topic_partitions: i32,
    /// How long the brokers keep messages of the topics upgrade creates.
    pub kafka_topic_retention_hours: u32,
    /// `clickhouse.url`: `http://[user[:password]@]host:8123[/database]`.
    pub clickhouse_url: Option<String>,
    /// `redis.url`: `redis://host:6379[/db]`.
    pub redis_url: Option<String>,
    /// `query.url`: the query service's gRPC address, for web.
    pub query_url: String,
}

impl BackendUrls {
    fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let url_with_scheme =
            |key: &str, schemes: &[&str]| -> Result<Option<String>, ConfigError> {
                match raw.get(key) {
                    None => Ok(None),
                    Some(url) if schemes.iter().any(|s| url.starts_with(&format!("{s}://"))) => {
                        Ok(Some(url.trim_end_matches('/').to_owned()))
                    }
                    Some(url) => Err(ConfigError::invalid(
                        key,
                        format!("`{url}` must start with {}://", schemes.join(":// or ")),
                    )),
                }
            };
        let kafka_brokers = raw.get("kafka.brokers").map(str::to_owned);
        if let Some(brokers) = &kafka_brokers
            && !brokers.split(',').all(|b| {
                b.trim()
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            })
        {
            return Err(ConfigError::invalid(
                "kafka.brokers",
                format!("`{brokers}` is not a list of host:port"),
            ));
        }
        let kafka_topic_partitions = raw.parse("kafka.topic-partitions", 4i32)?;
        if !(1..=1024).contains(&kafka_topic_partitions) {
            return Err(ConfigError::invalid(
                "kafka.topic-partitions",
                "must be between 1 and 1024",
            ));
        }
        let kafka_topic_retention_hours = raw.parse("kafka.topic-retention-hours", 24u32)?;
        if kafka_topic_retention_hours == 0 {
            return Err(ConfigError::invalid(
                "kafka.topic-retention-hours",
                "must be at least 1",
            ));
        }
        Ok(BackendUrls {
            kafka_brokers,
            kafka_idempotence: raw.parse_bool("kafka.idempotence", true)?,
            kafka_topic_partitions,
            kafka_topic_retention_hours,
            clickhouse_url: url_with_scheme("clickhouse.url", &["http", "https"])?,
            redis_url: url_with_scheme("redis.url", &["redis", "rediss"])?,
            query_url: url_with_scheme("query.url", &["http"])?
                .unwrap_or_else(|| "http://127.0.0.1:1218".to_owned()),
        })
    }
}

/// A comma-separated list (a YAML sequence arrives joined with commas),
/// each entry checked by `parse`; empty or unset is an empty list.
fn list<T>(
    raw: &RawConfig,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    raw.get(key)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| parse(entry).map_err(|problem| ConfigError::invalid(key, problem)))
        .collect()
}

/// `csrf.trusted-origins`: `scheme://host[:port]` values.
fn trusted_origins(raw: &RawConfig) -> Result<Vec<String>, ConfigError> {
    list(raw, "csrf.trusted-origins", |origin| {
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
    })
}

/// `system.trusted-proxies`: addresses or CIDR blocks.
fn trusted_proxies(raw: &RawConfig) -> Result<Vec<IpNet>, ConfigError> {
    list(raw, "system.trusted-proxies", |entry| {
        entry.parse().map_err(|e: net::BadIpNet| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_dotted_keys_and_env_override() {
        let mut raw = RawConfig::from_yaml(
            "system:\n  url-prefix: http://errors.example.com/\nretention.days: 30\ncsrf.trusted-origins: [\"https://a\", \"https://b\"]\n",
        )
        .unwrap();
        raw.apply_env([("FAULTLINE_RETENTION_DAYS".to_owned(), "7".to_owned())]);
        let cfg = Config::from_raw(&raw).unwrap();
        assert_eq!(cfg.url_prefix.as_deref(), Some("http://errors.example.com"));
        assert_eq!(cfg.retention_days, 7);
        assert_eq!(cfg.csrf_trusted_origins, vec!["https://a", "https://b"]);
        assert!(!cfg.allow_registration);
        assert!(
            cfg.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
    }

    #[test]
    fn trusted_proxies_from_yaml_list_and_env() {
        let raw = RawConfig::from_yaml("system:\n  trusted-proxies: [127.0.0.1, \"10.0.0.0/8\"]\n")
            .unwrap();
        let cfg = Config::from_raw(&raw).unwrap();
        assert_eq!(
            cfg.trusted_proxies,
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
        );
        let mut raw = RawConfig::default();
        raw.apply_env([(
            "FAULTLINE_SYSTEM_TRUSTED_PROXIES".to_owned(),
            "172.16.0.0/12, ::1".to_owned(),
        )]);
        let proxies = Config::from_raw(&raw).unwrap().trusted_proxies;
        assert!(proxies[0].contains("172.20.0.3".parse().unwrap()));
        assert!(proxies[1].contains("::1".parse().unwrap()));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (yaml, key) in [
            ("retention.days: soon", "retention.days"),
            ("auth.allow-registration: maybe", "auth.allow-registration"),
            ("system.url-prefix: errors.example.com", "system.url-prefix"),
            ("database.url: mysql://x", "database.url"),
            ("kafka.brokers: kafka", "kafka.brokers"),
            ("kafka.topic-partitions: 0", "kafka.topic-partitions"),
            ("clickhouse.url: clickhouse:8123", "clickhouse.url"),
            ("redis.url: localhost", "redis.url"),
            ("limits.max-event-size: -5", "limits.max-event-size"),
            ("system.trusted-proxies: nginx", "system.trusted-proxies"),
            (
                "system.trusted-proxies: 10.0.0.0/40",
                "system.trusted-proxies",
            ),
            (
                "csrf.trusted-origins: errors.example.com",
                "csrf.trusted-origins",
            ),
        ] {
            let err = Config::from_raw(&RawConfig::from_yaml(yaml).unwrap()).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("system.url-prefix"), "FAULTLINE_SYSTEM_URL_PREFIX");
    }
}
