//! API token authentication. Tokens are 64 hex characters shown once; only
//! their SHA-256 is stored, so a leaked database leaks no usable token.

use actix_web::HttpRequest;
use faultline_protocol::OrgId;
use faultline_storage::{MetaStore, Organization, Role, User};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

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

pub async fn authenticate(req: &HttpRequest, meta: &dyn MetaStore) -> ApiResult<User> {
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
    let (_, user) = meta
        .token_by_hash(&hash_token(token))
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if !user.is_active {
        return Err(ApiError::InvalidToken);
    }
    Ok(user)
}

/// The organization by slug, if the user may see it. Unknown and forbidden
/// look the same (404) so slugs cannot be probed.
pub async fn organization(
    meta: &dyn MetaStore,
    user: &User,
    slug: &str,
) -> ApiResult<Organization> {
    let org = meta
        .organization_by_slug(slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    require_member(meta, user, org.id).await?;
    Ok(org)
}

pub async fn require_member(
    meta: &dyn MetaStore,
    user: &User,
    org: OrgId,
) -> ApiResult<Option<Role>> {
    if user.is_superuser {
        return Ok(Some(Role::Owner));
    }
    match meta.member_role(org, user.id).await? {
        Some(role) => Ok(Some(role)),
        None => Err(ApiError::NotFound),
    }
}

/// Owners and admins manage projects, teams and keys; members read and triage.
pub async fn require_admin(meta: &dyn MetaStore, user: &User, org: OrgId) -> ApiResult<()> {
    match require_member(meta, user, org).await? {
        Some(Role::Owner | Role::Admin) => Ok(()),
        _ => Err(ApiError::Forbidden),
    }
}

/// The authenticated user and the organization `slug` they belong to: the
/// start of every organization-scoped API handler.
pub async fn member_of(
    req: &HttpRequest,
    state: &crate::WebState,
    slug: &str,
) -> ApiResult<(User, Organization)> {
    let user = authenticate(req, state.meta.as_ref()).await?;
    let org = organization(state.meta.as_ref(), &user, slug).await?;
    Ok((user, org))
}
