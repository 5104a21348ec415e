//! Names, email addresses and choices that the REST API, the dashboard and
//! the admin commands all accept: one rule each (applied in `ops`), so none
//! lets through what another refuses.

/// Most characters in an organization, team, project or key name, as
/// Sentry's `max_length=64` on those fields (characters, not bytes).
pub const MAX_NAME_CHARS: usize = 64;

/// Longest email address, as SMTP allows (RFC 5321's 254-octet path).
pub const MAX_EMAIL_BYTES: usize = 254;

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
    #[error("enter a valid email address")]
    Email,
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

/// An email address as accounts and invitations keep it: without
/// surrounding whitespace and in lowercase (sign-in lowercases what is
/// typed, so a stored capital would lock the account out), with something
/// on both sides of an `@`, at most [`MAX_EMAIL_BYTES`].
pub fn email(raw: &str) -> Result<String, NameError> {
    let email = raw.trim().to_ascii_lowercase();
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && email.len() <= MAX_EMAIL_BYTES =>
        {
            Ok(email)
        }
        _ => Err(NameError::Email),
    }
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
    fn emails_are_trimmed_lowercased_and_bounded() {
        assert_eq!(email("  Dev@Example.COM "), Ok("dev@example.com".into()));
        for bad in ["", "dev", "@example.com", "dev@", "   "] {
            assert_eq!(email(bad), Err(NameError::Email), "{bad:?}");
        }
        let local = "a".repeat(MAX_EMAIL_BYTES - "@x.io".len());
        assert!(email(&format!("{local}@x.io")).is_ok());
        assert!(email(&format!("{local}a@x.io")).is_err());
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
