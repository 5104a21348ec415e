//! The flat `dotted.key → value` view of config.yml plus `FAULTLINE_*`
//! variables, remembering where each value came from, and the typed reads
//! the sections make (each falls back to the key's default in
//! [`KEYS`](crate::keys::KEYS)).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::ConfigError;
use crate::keys::{self, KeyDefault};

/// config.yml and the environment, before the sections read them.
#[derive(Debug, Default)]
pub struct RawConfig {
    values: BTreeMap<String, Setting>,
    pub(crate) read: Reads,
}

/// The keys the sections asked for, recorded in tests only, so a test can
/// check that every key in KEYS is read.
#[derive(Debug, Default)]
pub(crate) struct Reads(
    #[cfg(test)] pub(crate) std::cell::RefCell<std::collections::BTreeSet<&'static str>>,
);

impl Reads {
    fn record(&self, _key: &'static str) {
        #[cfg(test)]
        self.0.borrow_mut().insert(_key);
    }
}

#[derive(Debug, Clone)]
struct Setting {
    value: String,
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Env(String),
}

/// A `FAULTLINE_*` variable that names no key: ignored, with a warning.
/// Not an error, as a misspelt key in config.yml is: the environment is
/// shared with other programs (compose hands every container all of .env).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub name: String,
    /// The key it most likely meant.
    pub suggestion: Option<&'static str>,
}

impl fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environment variable {} is not a config key", self.name)?;
        match self.suggestion {
            Some(key) => write!(
                f,
                " and is ignored; did you mean {} (`{key}`)?",
                keys::env_name(key)
            ),
            None => write!(f, " and is ignored"),
        }
    }
}

/// A key in config.yml that Faultline does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    pub key: String,
    pub suggestion: Option<&'static str>,
}

impl RawConfig {
    /// Reads a YAML file; see [`RawConfig::from_yaml`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Parses config.yml's text (`path` names it in messages). Nested
    /// mappings become dotted keys, so `system: {url-prefix: …}` and
    /// `system.url-prefix: …` mean the same, as in Sentry. A key that is not
    /// in KEYS is an error naming the closest one: Sentry ignores it, and a
    /// misspelt `mail.hots` would silently be no setting at all.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|source| ConfigError::Yaml {
                path: path.to_owned(),
                source,
            })?;
        let mut flat = BTreeMap::new();
        flatten("", &value, &mut flat);
        let unknown: Vec<UnknownKey> = flat
            .iter()
            .filter(|(key, value)| {
                keys::find(key).is_none() && !(value.is_empty() && is_section(key))
            })
            .map(|(key, _)| UnknownKey {
                key: key.clone(),
                suggestion: keys::suggest_key(key),
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ConfigError::UnknownKeys {
                path: path.to_owned(),
                keys: unknown,
            });
        }
        let values = flat
            .into_iter()
            .map(|(key, value)| {
                let origin = Origin::File(path.to_owned());
                (key, Setting { value, origin })
            })
            .collect();
        Ok(RawConfig {
            values,
            read: Reads::default(),
        })
    }

    /// Applies `FAULTLINE_*` variables: `FAULTLINE_SYSTEM_URL_PREFIX`
    /// overrides `system.url-prefix`. Returns the variables that name no
    /// key (other than [`keys::NOT_KEYS`]), for the caller to warn about.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<UnknownVariable> {
        let by_variable: BTreeMap<String, &'static str> = keys::KEYS
            .iter()
            .map(|k| (keys::env_name(k.name), k.name))
            .collect();
        let mut unknown = Vec::new();
        for (name, value) in vars {
            if !name.starts_with("FAULTLINE_") || keys::is_other_variable(&name) {
                continue;
            }
            match by_variable.get(&name) {
                Some(key) => {
                    let origin = Origin::Env(name);
                    self.values
                        .insert((*key).to_owned(), Setting { value, origin });
                }
                None => unknown.push(UnknownVariable {
                    suggestion: keys::suggest_variable(&name),
                    name,
                }),
            }
        }
        unknown.sort_by(|a, b| a.name.cmp(&b.name));
        unknown
    }

    /// The value of `key` as set, else its default; `None` when neither
    /// gives one. An empty value counts as unset.
    pub(crate) fn text(&self, key: &'static str) -> Option<&str> {
        let definition = keys::find(key).expect("every key Faultline reads is in KEYS");
        self.read.record(key);
        let set = self
            .values
            .get(key)
            .map(|s| s.value.as_str())
            .filter(|v| !v.is_empty());
        match (set, definition.default) {
            (Some(v), _) => Some(v),
            (None, KeyDefault::Value(v)) if !v.is_empty() => Some(v),
            (None, _) => None,
        }
    }

    /// `key` parsed as a `T` (a number, an address), if it has a value.
    pub(crate) fn parse<T: FromStr>(&self, key: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        self.text(key)
            .map(|v| {
                v.parse()
                    .map_err(|e| self.invalid(key, format!("`{v}` is not valid: {e}")))
            })
            .transpose()
    }

    /// `key` parsed as a `T`; for keys with a default.
    pub(crate) fn required<T: FromStr>(&self, key: &'static str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        Ok(self
            .parse(key)?
            .expect("a key read as required has a default value in KEYS"))
    }

    /// A number that must lie in `range`.
    pub(crate) fn number_in<T>(
        &self,
        key: &'static str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let n: T = self.required(key)?;
        if range.contains(&n) {
            Ok(n)
        } else {
            Err(self.invalid(
                key,
                format!(
                    "`{n}` must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    /// A number of at least `min`.
    pub(crate) fn at_least<T>(&self, key: &'static str, min: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let n: T = self.required(key)?;
        if n >= min {
            Ok(n)
        } else {
            Err(self.invalid(key, format!("`{n}` must be at least {min}")))
        }
    }

    /// `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
    pub(crate) fn flag(&self, key: &'static str) -> Result<bool, ConfigError> {
        let v = self.text(key).expect("a flag has a default value in KEYS");
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(self.invalid(key, format!("`{v}` is not true or false"))),
        }
    }

    /// A comma-separated list (a YAML sequence arrives joined with commas),
    /// each entry checked by `parse`; empty or unset is an empty list.
    pub(crate) fn list<T>(
        &self,
        key: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, ConfigError> {
        self.text(key)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| parse(entry).map_err(|problem| self.invalid(key, problem)))
            .collect()
    }

    /// A URL that must start with one of `schemes` (`http` for
    /// `http://`); a trailing `/` is dropped.
    pub(crate) fn url(
        &self,
        key: &'static str,
        schemes: &[&str],
    ) -> Result<Option<String>, ConfigError> {
        match self.text(key) {
            None => Ok(None),
            Some(url) if schemes.iter().any(|s| url.starts_with(&format!("{s}://"))) => {
                Ok(Some(url.trim_end_matches('/').to_owned()))
            }
            Some(url) => Err(self.invalid(
                key,
                format!("`{url}` must start with {}://", schemes.join(":// or ")),
            )),
        }
    }

    /// A listening address, `host:port` (`[::]:9000` for IPv6); for keys
    /// with a default.
    pub(crate) fn address(&self, key: &'static str) -> Result<String, ConfigError> {
        let v = self
            .text(key)
            .expect("an address key has a default value in KEYS");
        if is_host_port(v) {
            Ok(v.to_owned())
        } else {
            Err(self.invalid(key, format!("`{v}` is not an address like 127.0.0.1:9000")))
        }
    }

    /// The error for a bad value of `key`, saying where the value came from.
    pub(crate) fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        let origin = match self.values.get(key).map(|s| &s.origin) {
            Some(Origin::Env(var)) => format!(" (from {var})"),
            Some(Origin::File(path)) => format!(" (in {})", path.display()),
            None => String::new(),
        };
        ConfigError::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
            origin,
        }
    }
}

/// `host:port` with a port number; the host is checked when it is bound or
/// connected to.
pub(crate) fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// Whether `name` is a section (`mail`), which may stand empty in the
/// file with all its keys commented out.
fn is_section(name: &str) -> bool {
    keys::KEYS.iter().any(|k| {
        k.name
            .strip_prefix(name)
            .is_some_and(|r| r.starts_with('.'))
    })
}

fn flatten(prefix: &str, value: &serde_yaml::Value, out: &mut BTreeMap<String, String>) {
    use serde_yaml::Value as Y;
    let scalar = |v: &Y| match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Y::Mapping(map) => {
            for (k, v) in map {
                let k = scalar(k).unwrap_or_else(|| {
                    serde_yaml::to_string(k)
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                });
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Y::Sequence(items) => {
            let joined: Vec<String> = items.iter().filter_map(scalar).collect();
            out.insert(prefix.to_owned(), joined.join(","));
        }
        Y::Tagged(tagged) => flatten(prefix, &tagged.value, out),
        // Kept as unset, so that a misspelt key without a value is still
        // reported.
        Y::Null => {
            out.insert(prefix.to_owned(), String::new());
        }
        other => {
            out.insert(prefix.to_owned(), scalar(other).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<RawConfig, ConfigError> {
        RawConfig::from_yaml(text, Path::new("/etc/faultline/config.yml"))
    }

    #[test]
    fn nested_and_dotted_keys_mean_the_same() {
        let nested = yaml("system:\n  url-prefix: http://a\nmail: {port: 2525}\n").unwrap();
        let dotted = yaml("system.url-prefix: http://a\nmail.port: 2525\n").unwrap();
        for raw in [nested, dotted] {
            assert_eq!(raw.text("system.url-prefix"), Some("http://a"));
            assert_eq!(raw.text("mail.port"), Some("2525"));
        }
    }

    #[test]
    fn unknown_keys_are_named_with_the_closest_known_key() {
        let err = yaml("mail.hots: smtp.example.com\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown config key `mail.hots` in /etc/faultline/config.yml; did you mean `mail.host`?"
        );
        let err = yaml("mail:\n  hots: x\nfilestore.options: s3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown config keys in /etc/faultline/config.yml: `filestore.options`, `mail.hots` (did you mean `mail.host`?)"
        );
        // Without a value, and as a misplaced section.
        assert!(yaml("mail.hots:\n").is_err());
        assert!(yaml("limits: 5\n").is_err());
        // A section with every key commented out is fine.
        assert!(yaml("mail:\n#  host: x\n").is_ok());
    }

    #[test]
    fn environment_overrides_and_unknown_variables() {
        let mut raw = yaml("retention.days: 30\n").unwrap();
        let unknown = raw.apply_env([
            ("FAULTLINE_RETENTION_DAYS".to_owned(), "7".to_owned()),
            ("FAULTLINE_MAIL_HOTS".to_owned(), "x".to_owned()),
            ("FAULTLINE_CONFIG".to_owned(), "/etc/f.yml".to_owned()),
            ("FAULTLINE_TEST_POSTGRES_URL".to_owned(), "x".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ]);
        assert_eq!(raw.text("retention.days"), Some("7"));
        assert_eq!(
            unknown,
            [UnknownVariable {
                name: "FAULTLINE_MAIL_HOTS".to_owned(),
                suggestion: Some("mail.host"),
            }]
        );
        assert_eq!(
            unknown[0].to_string(),
            "environment variable FAULTLINE_MAIL_HOTS is not a config key and is ignored; did you mean FAULTLINE_MAIL_HOST (`mail.host`)?"
        );
    }

    #[test]
    fn empty_is_unset_and_falls_back_to_the_default() {
        let mut raw = yaml("retention.days: ''\n").unwrap();
        assert_eq!(raw.text("retention.days"), Some("90"));
        raw.apply_env([("FAULTLINE_MAIL_HOST".to_owned(), String::new())]);
        assert_eq!(raw.text("mail.host"), None);
    }

    #[test]
    fn bad_values_say_where_they_came_from() {
        let mut raw = yaml("retention.days: soon\nmail.port: x\n").unwrap();
        raw.apply_env([("FAULTLINE_MAIL_PORT".to_owned(), "y".to_owned())]);
        let from_file = raw.required::<u32>("retention.days").unwrap_err();
        assert_eq!(
            from_file.to_string(),
            "config key `retention.days`: `soon` is not valid: invalid digit found in string (in /etc/faultline/config.yml)"
        );
        let from_env = raw.required::<u16>("mail.port").unwrap_err();
        assert!(
            from_env.to_string().ends_with("(from FAULTLINE_MAIL_PORT)"),
            "{from_env}"
        );
    }
}
