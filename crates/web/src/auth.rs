//! API token authentication. Tokens are 64 hex characters shown once; only
//! their SHA-256 is stored, so a leaked database leaks no usable token.

use actix_web::HttpRequest;
use faultline_protocol::OrgId;
use faultline_storage::{MetaStore, Organization, Role, User};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::scopes::{self, Need};

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

/// Who is calling the API: the token's user and the scopes the token was
/// created with.
pub struct Caller {
    pub user: User,
    pub token_scopes: Vec<String>,
}

impl Caller {
    /// `role`, or a 403 unless this token (capped by `role`) allows `need`.
    pub fn require(&self, role: Role, need: Need) -> ApiResult<Role> {
        if scopes::allowed(&self.token_scopes, role, need) {
            Ok(role)
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// The caller's role in `org` (404 for non-members, so organizations
    /// cannot be probed), if it and the token allow `need` (else 403).
    pub async fn role_in(&self, meta: &dyn MetaStore, org: OrgId, need: Need) -> ApiResult<Role> {
        let role = require_member(meta, &self.user, org)
            .await?
            .unwrap_or(Role::Member);
        self.require(role, need)
    }

    /// The organization `slug`, as [`Self::role_in`] allows.
    pub async fn organization(
        &self,
        meta: &dyn MetaStore,
        slug: &str,
        need: Need,
    ) -> ApiResult<Organization> {
        let org = meta
            .organization_by_slug(slug)
            .await?
            .ok_or(ApiError::NotFound)?;
        self.role_in(meta, org.id, need).await?;
        Ok(org)
    }
}

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
    Ok(Caller {
        user,
        token_scopes: token.scopes,
    })
}

/// The user's role in `org`: `Some(Owner)` for a superuser, 404 for a
/// non-member, so unknown and forbidden organizations look the same.
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

/// The authenticated caller and the organization `slug`, if they are a
/// member and their token allows `need`: the start of every
/// organization-scoped API handler.
pub async fn member_of(
    req: &HttpRequest,
    state: &crate::WebState,
    slug: &str,
    need: Need,
) -> ApiResult<(Caller, Organization)> {
    let caller = authenticate(req, state.meta.as_ref()).await?;
    let org = caller.organization(state.meta.as_ref(), slug, need).await?;
    Ok((caller, org))
}
