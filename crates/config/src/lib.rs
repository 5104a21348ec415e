//! Faultline's configuration: `config.yml` (Sentry's key names where Sentry
//! has the same setting), every key overridable by an environment variable
//! (`system.url-prefix` → `FAULTLINE_SYSTEM_URL_PREFIX`), read into typed
//! sections that mirror the file (`config.mail.port`).
//!
//! Every key is defined once, in [`keys::KEYS`], with its default; the
//! environment variables, the unknown-key check and the table in
//! docs/operations.md all come from that list. A key in config.yml that is
//! not in it stops start-up naming the closest known key; a bad value stops
//! start-up naming its key and where it was set.

use std::fmt;
use std::path::PathBuf;

pub mod keys;
mod limits;
mod mail;
mod net;
mod raw;
mod services;
mod stores;
mod suggest;
mod system;

pub use limits::Limits;
pub use mail::{Mail, MailBackend, Notifications};
pub use net::IpNet;
pub use raw::{RawConfig, UnknownKey, UnknownVariable};
pub use services::{Listener, Query, Retention, Symbolicator};
pub use stores::{ClickHouse, Database, Kafka, Redis, Storage};
pub use system::{Auth, Csrf, System};

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
    #[error("{}", unknown_keys_message(path, keys))]
    UnknownKeys {
        path: PathBuf,
        keys: Vec<UnknownKey>,
    },
    /// `origin` is empty or says where the value was set: ` (from
    /// FAULTLINE_…)`, ` (in /path/config.yml)`.
    #[error("config key `{key}`: {problem}{origin}")]
    Invalid {
        key: String,
        problem: String,
        origin: String,
    },
}

/// One line: "unknown config key `mail.hots` in /etc/faultline/config.yml;
/// did you mean `mail.host`?", or every unknown key of the file in a list.
fn unknown_keys_message(path: &std::path::Path, keys: &[UnknownKey]) -> String {
    let path = path.display();
    match keys {
        [one] => match one.suggestion {
            Some(s) => format!(
                "unknown config key `{}` in {path}; did you mean `{s}`?",
                one.key
            ),
            None => format!(
                "unknown config key `{}` in {path} (docs/operations.md, Configuration, lists the keys)",
                one.key
            ),
        },
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|k| match k.suggestion {
                    Some(s) => format!("`{}` (did you mean `{s}`?)", k.key),
                    None => format!("`{}`", k.key),
                })
                .collect();
            format!("unknown config keys in {path}: {}", list.join(", "))
        }
    }
}

/// A password or key: kept out of `Debug` output, so a logged config does
/// not carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The validated configuration, one field per section of config.yml.
#[derive(Debug, Clone)]
pub struct Config {
    pub system: System,
    pub mail: Mail,
    pub notifications: Notifications,
    pub database: Database,
    pub clickhouse: ClickHouse,
    pub kafka: Kafka,
    pub redis: Redis,
    pub query: Query,
    pub symbolicator: Symbolicator,
    pub storage: Storage,
    pub retention: Retention,
    pub auth: Auth,
    pub csrf: Csrf,
    pub limits: Limits,
    pub relay: Listener,
    pub ingest_consumer: Listener,
    pub web: Listener,
    pub cron: Listener,
    pub notifier: Listener,
}

impl Config {
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Config {
            system: System::from_raw(raw)?,
            mail: Mail::from_raw(raw)?,
            notifications: Notifications::from_raw(raw)?,
            database: Database::from_raw(raw)?,
            clickhouse: ClickHouse::from_raw(raw)?,
            kafka: Kafka::from_raw(raw)?,
            redis: Redis::from_raw(raw)?,
            query: Query::from_raw(raw)?,
            symbolicator: Symbolicator::from_raw(raw)?,
            storage: Storage::from_raw(raw)?,
            retention: Retention::from_raw(raw)?,
            auth: Auth::from_raw(raw)?,
            csrf: Csrf::from_raw(raw)?,
            limits: Limits::from_raw(raw)?,
            relay: Listener::from_raw(raw, "relay.bind")?,
            ingest_consumer: Listener::from_raw(raw, "ingest-consumer.bind")?,
            web: Listener::from_raw(raw, "web.bind")?,
            cron: Listener::from_raw(raw, "cron.bind")?,
            notifier: Listener::from_raw(raw, "notifier.bind")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::keys::{KEYS, KeyDefault, env_name};
    use super::*;

    fn yaml(text: &str) -> RawConfig {
        RawConfig::from_yaml(text, Path::new("config.yml")).unwrap()
    }

    fn var(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn an_empty_config_is_the_defaults() {
        let cfg = Config::from_raw(&RawConfig::default()).unwrap();
        assert_eq!(cfg.system.url_prefix, None);
        assert!(cfg.system.trusted_proxies.is_empty(), "no proxy is trusted");
        assert_eq!((cfg.mail.host.as_deref(), cfg.mail.port), (None, 25));
        assert!(!cfg.mail.use_tls && !cfg.mail.use_ssl);
        assert_eq!(cfg.database.url, None);
        assert_eq!(cfg.kafka.brokers, None);
        assert_eq!(cfg.kafka.topic_partitions, 4);
        assert_eq!(cfg.kafka.topic_replication_factor, 1);
        assert_eq!(cfg.kafka.topic_retention, Duration::from_secs(24 * 3600));
        assert!(cfg.kafka.idempotence);
        assert_eq!(cfg.query.url, "http://127.0.0.1:1218");
        assert_eq!(cfg.query.grpc_bind, "127.0.0.1:1218");
        assert_eq!(cfg.query.bind, "127.0.0.1:1219");
        assert_eq!(cfg.retention.days, 90);
        assert_eq!(cfg.retention.interval, Duration::from_secs(3600));
        assert!(!cfg.auth.allow_registration);
        assert!(cfg.csrf.trusted_origins.is_empty());
        assert_eq!(cfg.limits.max_event_size, 1024 * 1024);
        assert_eq!(cfg.limits.max_decompressed_size, 40 * 1024 * 1024);
        assert_eq!(cfg.relay.bind, "127.0.0.1:3000");
        assert_eq!(cfg.ingest_consumer.bind, "127.0.0.1:3002");
        assert_eq!(cfg.web.bind, "127.0.0.1:9000");
        assert_eq!(cfg.cron.bind, "127.0.0.1:3003");
    }

    /// So that no key is defined but never read, and (with `text`'s
    /// `expect`) none is read without being defined.
    #[test]
    fn every_key_is_read() {
        let raw = RawConfig::default();
        Config::from_raw(&raw).unwrap();
        let read = raw.read.0.borrow();
        let unread: Vec<&str> = KEYS
            .iter()
            .map(|k| k.name)
            .filter(|k| !read.contains(k))
            .collect();
        assert!(unread.is_empty(), "defined but never read: {unread:?}");
    }

    #[test]
    fn file_values_and_environment_overrides() {
        let mut raw = yaml(
            "system:\n  url-prefix: http://errors.example.com/\nretention.days: 30\n\
             csrf.trusted-origins: [\"https://a\", \"https://b\"]\nmail: {host: smtp.example.com, use-tls: yes}\n",
        );
        let unknown = raw.apply_env([
            var("FAULTLINE_RETENTION_DAYS", "7"),
            var("FAULTLINE_WEB_BIND", "0.0.0.0:9100"),
            var("FAULTLINE_KAFKA_TOPIC_RETENTION_HOURS", "2"),
        ]);
        assert!(unknown.is_empty());
        let cfg = Config::from_raw(&raw).unwrap();
        assert_eq!(
            cfg.system.url_prefix.as_deref(),
            Some("http://errors.example.com")
        );
        assert_eq!(cfg.retention.days, 7, "the variable wins over the file");
        assert_eq!(cfg.web.bind, "0.0.0.0:9100");
        assert_eq!(cfg.kafka.topic_retention, Duration::from_secs(7200));
        assert_eq!(cfg.csrf.trusted_origins, vec!["https://a", "https://b"]);
        assert_eq!(cfg.mail.host.as_deref(), Some("smtp.example.com"));
        assert!(cfg.mail.use_tls);
    }

    #[test]
    fn trusted_proxies_from_yaml_list_and_env() {
        let raw = yaml("system:\n  trusted-proxies: [127.0.0.1, \"10.0.0.0/8\"]\n");
        let cfg = Config::from_raw(&raw).unwrap();
        assert_eq!(
            cfg.system.trusted_proxies,
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
        );
        let mut raw = RawConfig::default();
        raw.apply_env([var(
            "FAULTLINE_SYSTEM_TRUSTED_PROXIES",
            "172.16.0.0/12, ::1",
        )]);
        let proxies = Config::from_raw(&raw).unwrap().system.trusted_proxies;
        assert!(proxies[0].contains("172.20.0.3".parse().unwrap()));
        assert!(proxies[1].contains("::1".parse().unwrap()));
    }

    #[test]
    fn the_internal_dsn_must_be_a_dsn() {
        let dsn = "https://0123456789abcdef0123456789abcdef@errors.example.com/2";
        let cfg = Config::from_raw(&yaml(&format!("system.internal-dsn: {dsn}\n"))).unwrap();
        assert_eq!(cfg.system.internal_dsn.as_deref(), Some(dsn));
        for bad in [
            "ftp://k@host/2",
            "https://errors.example.com/2",
            "https://k@host/x",
        ] {
            let err = Config::from_raw(&yaml(&format!("system.internal-dsn: {bad}\n")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("system.internal-dsn"), "{bad}: {err}");
        }
    }

    /// One bad value of every kind of key, each named in the error.
    #[test]
    fn bad_values_name_their_key() {
        for (yaml_text, key) in [
            // numbers, and their ranges
            ("retention.days: soon", "retention.days"),
            ("retention.days: 0", "retention.days"),
            ("retention.days: 40000", "retention.days"),
            (
                "retention.interval-minutes: 0",
                "retention.interval-minutes",
            ),
            ("kafka.topic-partitions: 0", "kafka.topic-partitions"),
            (
                "kafka.topic-replication-factor: 0",
                "kafka.topic-replication-factor",
            ),
            (
                "kafka.topic-retention-hours: 0",
                "kafka.topic-retention-hours",
            ),
            ("mail.port: 0", "mail.port"),
            ("mail.port: 70000", "mail.port"),
            ("limits.max-event-size: -5", "limits.max-event-size"),
            (
                "limits.max-api-payload-size: 0",
                "limits.max-api-payload-size",
            ),
            // flags
            ("auth.allow-registration: maybe", "auth.allow-registration"),
            ("kafka.idempotence: 2", "kafka.idempotence"),
            ("mail.use-tls: sometimes", "mail.use-tls"),
            ("mail.backend: sendmail", "mail.backend"),
            ("mail: {use-tls: true, use-ssl: true}", "mail.use-ssl"),
            // URLs and addresses
            ("system.url-prefix: errors.example.com", "system.url-prefix"),
            ("database.url: mysql://x", "database.url"),
            ("clickhouse.url: clickhouse:8123", "clickhouse.url"),
            ("redis.url: localhost", "redis.url"),
            ("query.url: https://query:1218", "query.url"),
            ("kafka.brokers: kafka", "kafka.brokers"),
            ("web.bind: 9000", "web.bind"),
            ("query.grpc-bind: 'query:grpc'", "query.grpc-bind"),
            ("relay.bind: ':3000'", "relay.bind"),
            ("mail.host: smtp://smtp.example.com", "mail.host"),
            ("mail.from: faultline", "mail.from"),
            // text with a rule
            ("system.secret-key: short", "system.secret-key"),
            // lists
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
            let err = Config::from_raw(&yaml(yaml_text)).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("config key `{key}`: ")),
                "{yaml_text}: {message}"
            );
            assert_eq!(message.lines().count(), 1, "{message}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let raw = yaml(
            "system.secret-key: abcdefghijklmnopqrstuvwxyz0123456789\nmail.password: hunter2hunter2\n",
        );
        let cfg = Config::from_raw(&raw).unwrap();
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("abcdefghij") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(cfg.mail.password.unwrap().expose(), "hunter2hunter2");
    }

    fn repository_file(path: &str) -> String {
        let full = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }

    /// The `default` column of docs/operations.md for a key.
    fn documented_default(default: KeyDefault) -> String {
        match default {
            KeyDefault::Unset => "none".to_owned(),
            KeyDefault::Value("") => "empty".to_owned(),
            KeyDefault::Value(v) => format!("`{v}`"),
            KeyDefault::Derived(how) => how.to_owned(),
        }
    }

    /// docs/operations.md lists exactly the keys of KEYS, in its order, each
    /// with its default; the failure message is the key and default columns
    /// to paste.
    #[test]
    fn operations_doc_lists_every_key_with_its_default() {
        const START: &str = "<!-- config keys: checked against crates/config/src/keys.rs -->";
        let doc = repository_file("docs/operations.md");
        let table = doc
            .split_once(START)
            .and_then(|(_, rest)| rest.split_once("<!-- end of config keys -->"))
            .map(|(table, _)| table)
            .expect("docs/operations.md marks the table of config keys");
        let documented: Vec<(String, String)> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|row| {
                let cells: Vec<&str> = row.split(" | ").collect();
                let key = cells[0].trim_start_matches("| ").trim_matches('`');
                (key.to_owned(), cells.get(1).unwrap_or(&"").to_string())
            })
            .collect();
        let expected: Vec<(String, String)> = KEYS
            .iter()
            .map(|k| (k.name.to_owned(), documented_default(k.default)))
            .collect();
        if documented != expected {
            let rows: Vec<String> = expected
                .iter()
                .map(|(key, default)| format!("| `{key}` | {default} | … |"))
                .collect();
            panic!(
                "docs/operations.md's config keys differ from KEYS; they should be:\n{}",
                rows.join("\n")
            );
        }
    }

    /// The compose topology's config.yml is valid, unknown keys included.
    #[test]
    fn deploy_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config.yml");
        let cfg = Config::from_raw(&RawConfig::from_file(&path).unwrap()).unwrap();
        assert_eq!(cfg.kafka.brokers.as_deref(), Some("kafka:9092"));
        assert_eq!(cfg.query.url, "http://query:1218");
    }

    /// .env.example shows the variable of every key, and no variable that
    /// names no key.
    #[test]
    fn env_example_lists_every_variable() {
        let text = repository_file(".env.example");
        let listed: std::collections::BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# FAULTLINE_"))
            .filter_map(|l| l.split_once('='))
            .map(|(name, _)| format!("FAULTLINE_{name}"))
            .collect();
        for key in KEYS {
            assert!(
                listed.contains(&env_name(key.name)),
                "{} is missing",
                key.name
            );
        }
        for var in &listed {
            assert!(
                keys::is_other_variable(var) || KEYS.iter().any(|k| &env_name(k.name) == var),
                "{var} in .env.example names no key"
            );
        }
    }
}
