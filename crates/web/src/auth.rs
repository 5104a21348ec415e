//! API token authentication. Tokens are 64 hex characters shown once; only
//! their SHA-256 is stored, so a leaked database leaks no usable token.
//! What an authenticated caller may do is decided in `ops::access`.

use actix_web::HttpRequest;
use faultline_storage::MetaStore;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::ops::{Caller, Member};
use crate::scopes::Need;

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A new random token: two v4 UUIDs' worth of randomness.
pub fn generate_token() -> String {
    format!(
        "{}{}",
        faultline_protocol::EventId::new_random(),
        faultline_protocol::EventId::new_random()
    )
}

/// The caller of an API request: the user of its `Authorization: Bearer`
/// token, with the token's scopes.
pub async fn authenticate(req: &HttpRequest, meta: &dyn MetaStore) -> ApiResult<Caller> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthenticated)?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidToken);
    }
    let (token, user) = meta
        .token_by_hash(&hash_token(token))
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if !user.is_active {
        return Err(ApiError::InvalidToken);
    }
    Ok(Caller::with_token(user, token.scopes))
}

/// The authenticated caller as a member of the organization `slug`, if
/// they are one (404) and their token allows `need` (403): the start of
/// every organization-scoped API handler.
pub async fn member_of(
    req: &HttpRequest,
    state: &crate::WebState,
    slug: &str,
    need: Need,
) -> ApiResult<Member> {
    let caller = authenticate(req, state.meta.as_ref()).await?;
    Ok(caller.member_of(state.meta.as_ref(), slug, need).await?)
}
