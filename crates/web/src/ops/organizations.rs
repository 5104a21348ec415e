//! Organizations: listing the caller's, and creating one.

use faultline_storage::{MetaStore, Organization, Role};

use super::{Caller, OpError, OpResult, conflict, slug_of};
use crate::names;
use crate::scopes;

/// The organizations the caller belongs to (all of them for a superuser).
pub async fn list(meta: &dyn MetaStore, caller: &Caller) -> OpResult<Vec<Organization>> {
    caller.require_credential(scopes::ORG_READ)?;
    Ok(meta.organizations_for_user(&caller.user).await?)
}

/// A new organization named `name` (slug from `slug` or the name), with
/// the caller as its owner. As in a self-hosted Sentry with one
/// organization by default, only superusers create more.
pub async fn create(
    meta: &dyn MetaStore,
    caller: &Caller,
    name: &str,
    slug: Option<&str>,
) -> OpResult<Organization> {
    if !caller.user.is_superuser {
        return Err(OpError::Forbidden {
            need: scopes::ORG_WRITE,
        });
    }
    caller.require_credential(scopes::ORG_WRITE)?;
    let name = names::name("organization", name)?;
    let slug = slug_of("organization", name, slug)?;
    let org = meta
        .create_organization(&slug, name)
        .await
        .map_err(|e| conflict(e, || "an organization with this slug already exists".into()))?;
    meta.add_member(org.id, caller.user.id, Role::Owner).await?;
    Ok(org)
}
