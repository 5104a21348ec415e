//! API tokens: made for one's own account (the dashboard) or by an operator
//! for any account (`faultline token create`), with known scopes only.
//! The token is returned once; only its SHA-256 is stored.

use faultline_storage::{MetaStore, User};

use super::{OpError, OpResult};
use crate::auth::{generate_token, hash_token};
use crate::names;
use crate::scopes;

/// The scopes of a new token: each known and named once, in the order
/// given, at least one. Made only by [`TokenScopes::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScopes(Vec<String>);

impl TokenScopes {
    pub fn parse<'a>(chosen: impl IntoIterator<Item = &'a str>) -> OpResult<Self> {
        parse(chosen).map(TokenScopes)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

fn parse<'a>(chosen: impl IntoIterator<Item = &'a str>) -> OpResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in chosen {
        let scope = scopes::known(raw.trim()).ok_or_else(|| {
            OpError::invalid(
                "scope",
                format!(
                    "unknown scope {raw}; known scopes: {}",
                    scopes::ALL.join(", ")
                ),
            )
        })?;
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_owned());
        }
    }
    if out.is_empty() {
        return Err(OpError::invalid("scope", "choose at least one scope"));
    }
    Ok(out)
}

/// A new token for `user` named `name` (the name rule) with `scopes`;
/// returns the token itself.
pub async fn create(
    meta: &dyn MetaStore,
    user: &User,
    name: &str,
    scopes: &TokenScopes,
) -> OpResult<String> {
    let name = names::name("token", name)?;
    let token = generate_token();
    meta.create_api_token(user.id, &hash_token(&token), &scopes.0, Some(name))
        .await?;
    Ok(token)
}

/// Deletes one of `user`'s own tokens (another user's id changes nothing).
pub async fn delete(meta: &dyn MetaStore, user: &User, token_id: i64) -> OpResult<()> {
    Ok(meta.delete_api_token(user.id, token_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_known_deduplicated_and_not_empty() {
        let chosen = TokenScopes::parse(["event:read", "project:releases", "event:read"]).unwrap();
        assert_eq!(chosen.as_slice(), ["event:read", "project:releases"]);
        let unknown = TokenScopes::parse(["event:read", "everything"])
            .unwrap_err()
            .to_string();
        assert!(
            unknown.starts_with("unknown scope everything; known scopes: org:read"),
            "{unknown}"
        );
        assert!(matches!(
            TokenScopes::parse([]),
            Err(OpError::Invalid { field: "scope", .. })
        ));
        // The defaults are known scopes.
        assert!(TokenScopes::parse(scopes::DEFAULT_TOKEN.iter().copied()).is_ok());
        assert!(TokenScopes::parse(scopes::CLI_DEFAULT_TOKEN.iter().copied()).is_ok());
    }
}
