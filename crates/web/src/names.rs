//! Names and choices that the REST API and the dashboard both accept: one
//! rule each, so neither lets through what the other refuses.

/// Most characters in an organization, team, project or key name, as
/// Sentry's `max_length=64` on those fields (characters, not bytes).
pub const MAX_NAME_CHARS: usize = 64;

/// The platforms a project can have, `(value, label)`: the dashboard's
/// picker offers these and the API accepts these alone, so a project's
/// platform is always one the set-up snippets know.
pub const PLATFORMS: [(&str, &str); 9] = [
    ("python", "Python"),
    ("javascript", "JavaScript (browser)"),
    ("node", "Node.js"),
    ("rust", "Rust"),
    ("go", "Go"),
    ("java", "Java"),
    ("ruby", "Ruby"),
    ("php", "PHP"),
    ("other", "Other"),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// What is being named (`key`, `project`, …).
    #[error("a {0} name must be 1 to {MAX_NAME_CHARS} characters")]
    Length(&'static str),
    #[error("unknown platform {0}: choose one of {list}", list = platform_list())]
    UnknownPlatform(String),
}

fn platform_list() -> String {
    PLATFORMS.map(|(value, _)| value).join(", ")
}

/// `raw` without surrounding whitespace, if that is 1 to
/// [`MAX_NAME_CHARS`] characters; `what` is named in the error.
pub fn name<'a>(what: &'static str, raw: &'a str) -> Result<&'a str, NameError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::Length(what));
    }
    Ok(name)
}

/// A platform from [`PLATFORMS`]; empty means none.
pub fn platform(raw: &str) -> Result<Option<&'static str>, NameError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    PLATFORMS
        .iter()
        .map(|(value, _)| *value)
        .find(|value| *value == raw)
        .map(Some)
        .ok_or_else(|| NameError::UnknownPlatform(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_characters() {
        assert_eq!(name("key", "  Backend  "), Ok("Backend"));
        assert!(name("key", &"é".repeat(64)).is_ok());
        assert_eq!(
            name("key", &"k".repeat(65)).unwrap_err().to_string(),
            "a key name must be 1 to 64 characters"
        );
        assert!(name("project", "   ").is_err());
    }

    #[test]
    fn platforms_come_from_the_list() {
        assert_eq!(platform("python"), Ok(Some("python")));
        assert_eq!(platform(""), Ok(None));
        let err = platform("<img src=x>").unwrap_err().to_string();
        assert!(err.contains("python, javascript, node"), "{err}");
        assert!(platform("Python").is_err());
    }
}
