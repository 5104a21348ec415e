//! The operations layer: every change the REST API, the dashboard and the
//! admin commands make to organizations, projects, teams, keys, members,
//! issues, accounts and tokens is written once here, with its rules (who
//! may do it, which names, emails and passwords are accepted) and one typed
//! error, [`OpError`]. Handlers only translate HTTP (or a command line) to
//! an operation and its error to an answer: `api::error` maps it to JSON,
//! `dashboard::error` to a page, the binary to a message.
//!
//! Permissions are checked here too: an operation takes the [`Member`] (or
//! [`Caller`]) acting and checks the scope or role it needs itself, so no
//! handler can forget it. Lookups that only read take the [`Need`] they
//! answer for.
//!
//! [`Need`]: crate::scopes::Need

pub mod access;
pub mod issues;
pub mod keys;
pub mod members;
pub mod organizations;
pub mod plugins;
pub mod projects;
pub mod releases;
pub mod rules;
pub mod teams;
pub mod tokens;
pub mod uploads;
pub mod users;

pub use access::{Caller, Member};

use faultline_storage::StorageError;

use crate::names::NameError;
use crate::password::PasswordError;
use crate::scopes::Need;

/// Why an operation did not happen. `Display` is a lowercase phrase without
/// a final period, as Rust errors and the API's `detail` are; the dashboard
/// shows it as a sentence.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Missing, or not visible to the caller: the two look the same, so
    /// nobody can probe which organizations or issues exist.
    #[error("the requested resource does not exist")]
    NotFound,
    /// A member whose role (or token) does not allow what was asked.
    #[error("you do not have permission to perform this action")]
    Forbidden { need: Need },
    /// Input the rules refuse; `reason` says what to change.
    #[error("{reason}")]
    Invalid { field: &'static str, reason: String },
    /// Something with that name or address exists already.
    #[error("{0}")]
    Conflict(String),
    /// An invitation used by someone other than its account: signed out
    /// while the account exists, or signed in as another account.
    #[error("this invitation is for another account")]
    NotInvited,
    /// Only owners hand out, change or remove ownership.
    #[error("{0}")]
    OwnersOnly(&'static str),
    /// The change would leave the organization without an owner (decided by
    /// the store in the same transaction as the change).
    #[error("an organization keeps at least one owner")]
    LastOwner,
    /// An alert rule body refused field by field, as Sentry answers it.
    #[error("{0}")]
    Fields(faultline_rules::FieldErrors),
    /// A plugin's settings refused field by field, as Sentry answers it.
    #[error("{0}")]
    PluginConfig(faultline_rules::ConfigErrors),
    #[error("storage failed: {0}")]
    Storage(StorageError),
}

pub type OpResult<T> = Result<T, OpError>;

impl OpError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        OpError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Whether this is a refusal the person asking can act on (change the
    /// input, ask an owner), rather than a missing thing or a failure.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            OpError::Invalid { .. }
                | OpError::Fields(_)
                | OpError::PluginConfig(_)
                | OpError::Conflict(_)
                | OpError::OwnersOnly(_)
                | OpError::LastOwner
        )
    }
}

impl From<StorageError> for OpError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => OpError::NotFound,
            StorageError::LastOwner => OpError::LastOwner,
            StorageError::OwnerOnly => OpError::OwnersOnly(members::OWNERS_CHANGE_OWNERS),
            other => OpError::Storage(other),
        }
    }
}

/// A name or platform the rules in `names` refuse (the field is `name`
/// unless the platform was wrong).
impl From<NameError> for OpError {
    fn from(e: NameError) -> Self {
        let field = match e {
            NameError::Length(_) => "name",
            NameError::UnknownPlatform(_) => "platform",
            NameError::Email => "email",
        };
        OpError::invalid(field, e.to_string())
    }
}

impl From<PasswordError> for OpError {
    fn from(e: PasswordError) -> Self {
        OpError::invalid("password", e.to_string())
    }
}

/// A store `Conflict` as the operation's own message (`what` exists
/// already); other storage errors as they are.
fn conflict(e: StorageError, message: impl FnOnce() -> String) -> OpError {
    match e {
        StorageError::Conflict(_) => OpError::Conflict(message()),
        other => other.into(),
    }
}

/// The slug of a new `what`: `given`, or else made from `name`, as Sentry
/// makes them; refused when nothing of it is a letter or digit.
fn slug_of(what: &str, name: &str, given: Option<&str>) -> OpResult<String> {
    let given = given.map(str::trim).filter(|s| !s.is_empty());
    let slug = crate::slug::slugify(given.unwrap_or(name));
    if !slug.is_empty() {
        return Ok(slug);
    }
    Err(match given {
        Some(_) => OpError::invalid("slug", "the slug needs letters or digits"),
        None => OpError::invalid("name", format!("a {what} name needs letters or digits")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_the_name_unless_given() {
        assert_eq!(
            slug_of("project", "Checkout API", None).unwrap(),
            "checkout-api"
        );
        assert_eq!(slug_of("project", "x", Some(" Web ")).unwrap(), "web");
        assert_eq!(slug_of("project", "Web", Some("")).unwrap(), "web");
        assert_eq!(
            slug_of("team", "!!!", None).unwrap_err().to_string(),
            "a team name needs letters or digits"
        );
        assert!(matches!(
            slug_of("project", "Web", Some("***")),
            Err(OpError::Invalid { field: "slug", .. })
        ));
    }

    #[test]
    fn store_errors_keep_their_meaning() {
        assert!(matches!(
            OpError::from(StorageError::NotFound),
            OpError::NotFound
        ));
        assert!(matches!(
            OpError::from(StorageError::LastOwner),
            OpError::LastOwner
        ));
        assert!(matches!(
            OpError::from(StorageError::OwnerOnly),
            OpError::OwnersOnly(m) if m == members::OWNERS_CHANGE_OWNERS
        ));
        assert!(matches!(
            conflict(StorageError::Conflict("slug".into()), || "taken".into()),
            OpError::Conflict(m) if m == "taken"
        ));
        assert!(matches!(
            conflict(StorageError::Closed, || "taken".into()),
            OpError::Storage(StorageError::Closed)
        ));
    }

    #[test]
    fn refusals_are_what_the_person_can_fix() {
        assert!(OpError::from(NameError::Email).is_refusal());
        assert!(OpError::LastOwner.is_refusal());
        assert!(!OpError::NotFound.is_refusal());
        assert!(
            !OpError::Forbidden {
                need: crate::scopes::ORG_READ
            }
            .is_refusal()
        );
        assert!(!OpError::Storage(StorageError::Closed).is_refusal());
    }
}
