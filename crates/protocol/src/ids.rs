//! One newtype per identifier so a project id is never passed where a group id
//! is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

int_id!(
    /// A project; the number in a DSN's path.
    ProjectId
);
int_id!(
    /// An issue (Sentry calls it a group).
    GroupId
);
int_id!(
    /// An organization.
    OrgId
);

/// An event id: a UUID, written as 32 lowercase hex digits as Sentry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub uuid::Uuid);

impl EventId {
    pub fn new_random() -> Self {
        EventId(uuid::Uuid::new_v4())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl FromStr for EventId {
    type Err = uuid::Error;
    /// Accepts both the hyphenated and the simple form (sentry-cli sends the
    /// hyphenated one in envelope headers).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s.trim()).map(EventId)
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Sentry's short id alphabet (base 32 without I, O, U and L look-alikes).
const SHORT_ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// An issue's short id as Sentry shows it: the project slug in capitals
/// and the number in the project (`WEB-APP-1A`).
pub fn short_id(project_slug: &str, n: i64) -> String {
    let mut digits = Vec::new();
    let base = SHORT_ID_ALPHABET.len() as i64;
    let mut n = n.max(0);
    loop {
        digits.push(SHORT_ID_ALPHABET[(n % base) as usize] as char);
        n /= base;
        if n == 0 {
            break;
        }
    }
    let suffix: String = digits.into_iter().rev().collect();
    format!("{}-{suffix}", project_slug.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_use_sentry_alphabet() {
        assert_eq!(short_id("web-app", 1), "WEB-APP-1");
        assert_eq!(short_id("x", 34), "X-10");
        assert_eq!(short_id("x", 18), "X-J");
    }

    #[test]
    fn event_id_accepts_both_forms_and_prints_simple() {
        let a: EventId = "0aa54400-4e11-4ca5-931d-ebda134527f4".parse().unwrap();
        let b: EventId = "0aa544004e114ca5931debda134527f4".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "0aa544004e114ca5931debda134527f4");
        assert!("not-an-id".parse::<EventId>().is_err());
    }
}
