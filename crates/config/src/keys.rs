//! The one list of configuration keys. Everything else is derived from it:
//! the environment variable of each key, the defaults the typed sections
//! fall back to, the unknown-key check and its suggestions, and the table
//! in docs/operations.md (a test compares the two).

use crate::suggest::closest;

/// What a key is when config.yml and the environment leave it unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDefault {
    /// Unset: the feature is off, or the embedded store is used.
    Unset,
    /// This value, parsed like one a user wrote.
    Value(&'static str),
    /// Worked out at start-up; the text says how (for the docs).
    Derived(&'static str),
}

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Dotted, as in config.yml: `system.url-prefix`.
    pub name: &'static str,
    pub default: KeyDefault,
}

const fn key(name: &'static str, default: KeyDefault) -> Key {
    Key { name, default }
}

use KeyDefault::{Derived, Unset, Value};

/// Every key Faultline reads, in the order docs/operations.md lists them.
/// Sentry's names where Sentry has the same setting.
pub const KEYS: &[Key] = &[
    key("system.url-prefix", Derived("`http://<bind address>`")),
    key(
        "system.secret-key",
        Derived("generated into a new data directory's config.yml"),
    ),
    key("system.trusted-proxies", Value("")),
    key("system.internal-dsn", Unset),
    key("mail.backend", Value("smtp")),
    key("mail.host", Unset),
    key("mail.port", Value("25")),
    key("mail.username", Unset),
    key("mail.password", Unset),
    key("mail.use-tls", Value("false")),
    key("mail.use-ssl", Value("false")),
    key("mail.from", Value("faultline@localhost")),
    key("mail.subject-prefix", Value("[Faultline]")),
    key("notifications.allow-private-targets", Value("false")),
    key("database.url", Unset),
    key("clickhouse.url", Unset),
    key("kafka.brokers", Unset),
    key("kafka.topic-partitions", Value("4")),
    key("kafka.topic-replication-factor", Value("1")),
    key("kafka.topic-retention-hours", Value("24")),
    key("kafka.idempotence", Value("true")),
    key("redis.url", Unset),
    key("query.url", Value("http://127.0.0.1:1218")),
    key("symbolicator.url", Unset),
    key("symbolicator.cache-size", Value("268435456")),
    key("storage.dir", Unset),
    key("storage.min-free", Value("1073741824")),
    key("storage.queue-replay-messages", Value("1000")),
    key("storage.queue-replay-bytes", Value("4194304")),
    key("retention.days", Value("90")),
    key("retention.interval-minutes", Value("60")),
    key("auth.allow-registration", Value("false")),
    key("csrf.trusted-origins", Value("")),
    key("limits.max-event-size", Value("1048576")),
    key("limits.max-envelope-size", Value("20971520")),
    key("limits.max-attachment-size", Value("20971520")),
    key("limits.max-attachments-size", Value("20971520")),
    key("limits.max-decompressed-size", Value("41943040")),
    key("limits.max-api-payload-size", Value("20971520")),
    key("limits.max-upload-file-size", Value("268435456")),
    key("limits.upload-quota", Value("5368709120")),
    key("limits.max-sourcemap-size", Value("33554432")),
    key("relay.bind", Value("127.0.0.1:3000")),
    key("ingest-consumer.bind", Value("127.0.0.1:3002")),
    key("query.bind", Value("127.0.0.1:1219")),
    key("query.grpc-bind", Value("127.0.0.1:1218")),
    key("symbolicator.bind", Value("127.0.0.1:3022")),
    key("symbolicator.grpc-bind", Value("127.0.0.1:3021")),
    key("web.bind", Value("127.0.0.1:9000")),
    key("cron.bind", Value("127.0.0.1:3003")),
    key("notifier.bind", Value("127.0.0.1:3004")),
];

/// `FAULTLINE_*` variables that are not configuration keys, so an
/// unknown-variable warning must not name them: the config file's path
/// (read by the command line), compose's published port, install.sh's
/// probes and the test suites' server addresses. A name ending in `_` is a
/// prefix.
pub const NOT_KEYS: &[&str] = &[
    "FAULTLINE_CONFIG",
    "FAULTLINE_PORT",
    "FAULTLINE_INSTALL_",
    "FAULTLINE_TEST_",
];

/// The definition of `name`, if it is a key.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
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

/// Whether `var` is a `FAULTLINE_*` variable that is meant for something
/// other than a key (see [`NOT_KEYS`]).
pub fn is_other_variable(var: &str) -> bool {
    NOT_KEYS.iter().any(|n| match n.strip_suffix('_') {
        Some(_) => var.starts_with(n),
        None => var == *n,
    })
}

/// The known key an unknown one was most likely meant to be.
pub fn suggest_key(unknown: &str) -> Option<&'static str> {
    closest(unknown, KEYS.iter().map(|k| k.name))
}

/// The known key whose variable an unknown `FAULTLINE_*` variable was most
/// likely meant to be.
pub fn suggest_variable(unknown: &str) -> Option<&'static str> {
    let names: Vec<(String, &'static str)> =
        KEYS.iter().map(|k| (env_name(k.name), k.name)).collect();
    let best = closest(unknown, names.iter().map(|(var, _)| var.as_str()))?;
    names
        .iter()
        .find(|(var, _)| var == best)
        .map(|(_, key)| *key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(env_name("system.url-prefix"), "FAULTLINE_SYSTEM_URL_PREFIX");
        assert_eq!(
            env_name("ingest-consumer.bind"),
            "FAULTLINE_INGEST_CONSUMER_BIND"
        );
    }

    #[test]
    fn every_key_is_defined_once_and_has_its_own_variable() {
        let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYS.len(), "a key is defined twice");
        let mut vars: Vec<String> = KEYS.iter().map(|k| env_name(k.name)).collect();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(vars.len(), KEYS.len(), "two keys share a variable");
        for k in KEYS {
            let (section, rest) = k.name.split_once('.').expect("section.name");
            assert!(!section.is_empty() && !rest.is_empty(), "{}", k.name);
            assert!(
                k.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c)),
                "{}",
                k.name
            );
            assert!(!is_other_variable(&env_name(k.name)), "{}", k.name);
        }
    }

    #[test]
    fn other_variables_are_not_keys() {
        for var in [
            "FAULTLINE_CONFIG",
            "FAULTLINE_PORT",
            "FAULTLINE_INSTALL_MEM_MB",
            "FAULTLINE_TEST_POSTGRES_URL",
        ] {
            assert!(is_other_variable(var), "{var}");
        }
        for var in [
            "FAULTLINE_CONFIGS",
            "FAULTLINE_MAIL_HOTS",
            "FAULTLINE_PORTS",
        ] {
            assert!(!is_other_variable(var), "{var}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest_key("mail.hots"), Some("mail.host"));
        assert_eq!(suggest_key("mial.host"), Some("mail.host"));
        assert_eq!(suggest_key("system.url_prefix"), Some("system.url-prefix"));
        assert_eq!(suggest_key("retention.day"), Some("retention.days"));
        // Right name, wrong section.
        assert_eq!(suggest_key("web.url-prefix"), Some("system.url-prefix"));
        assert_eq!(suggest_key("filestore.options"), None);
        assert_eq!(suggest_variable("FAULTLINE_MAIL_HOTS"), Some("mail.host"));
        assert_eq!(
            suggest_variable("FAULTLINE_RETENTION_DAY"),
            Some("retention.days")
        );
        assert_eq!(suggest_variable("FAULTLINE_SOMETHING_ELSE"), None);
    }
}
