//! Organizations, their members and invitations.

use chrono::Utc;
use faultline_protocol::OrgId;

use super::driver::{Pools, Tx};
use super::error::conflict;
use super::rows;
use faultline_storage::{Invite, Organization, OwnerChanges, Role, User, UserId};
use faultline_storage::{Result, StorageError, to_millis};

/// Adds a member unless they already are one, whose role then stays.
const ADD_MEMBER: &str = "INSERT INTO org_members (org_id, user_id, role, date_added) \
                          VALUES (?, ?, ?, ?) ON CONFLICT (org_id, user_id) DO NOTHING";

pub(super) async fn create(pools: &Pools, slug: &str, name: &str) -> Result<Organization> {
    let row = pools
        .write("INSERT INTO organizations (slug, name, date_created) VALUES (?, ?, ?) RETURNING *")
        .bind(slug)
        .bind(name)
        .bind(to_millis(Utc::now()))
        .fetch_one()
        .await
        .map_err(conflict("an organization with this slug"))?;
    rows::organization(&row)
}

pub(super) async fn by_slug(pools: &Pools, slug: &str) -> Result<Option<Organization>> {
    let row = pools
        .read("SELECT * FROM organizations WHERE slug = ?")
        .bind(slug)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::organization).transpose()
}

pub(super) async fn by_id(pools: &Pools, id: OrgId) -> Result<Option<Organization>> {
    let row = pools
        .read("SELECT * FROM organizations WHERE id = ?")
        .bind(id.0)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::organization).transpose()
}

pub(super) async fn for_user(pools: &Pools, user: &User) -> Result<Vec<Organization>> {
    let found = if user.is_superuser {
        pools
            .read("SELECT * FROM organizations ORDER BY slug")
            .fetch_all()
            .await?
    } else {
        pools
            .read(
                "SELECT o.* FROM organizations o JOIN org_members m ON m.org_id = o.id \
                 WHERE m.user_id = ? ORDER BY o.slug",
            )
            .bind(user.id.0)
            .fetch_all()
            .await?
    };
    rows::all(&found, rows::organization)
}

pub(super) async fn add_member(
    pools: &Pools,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<bool> {
    let added = pools
        .write(ADD_MEMBER)
        .bind(org.0)
        .bind(user.0)
        .bind(role.as_str())
        .bind(to_millis(Utc::now()))
        .execute()
        .await?;
    Ok(added == 1)
}

pub(super) async fn member_role(pools: &Pools, org: OrgId, user: UserId) -> Result<Option<Role>> {
    let role: Option<String> = pools
        .read("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?")
        .bind(org.0)
        .bind(user.0)
        .fetch_scalar()
        .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

pub(super) async fn members(pools: &Pools, org: OrgId) -> Result<Vec<(User, Role)>> {
    let found = pools
        .read(
            "SELECT u.*, m.role AS member_role FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ? ORDER BY u.email",
        )
        .bind(org.0)
        .fetch_all()
        .await?;
    rows::all(&found, |row| {
        Ok((
            rows::user(row)?,
            rows::role(&row.get::<String>("member_role")?),
        ))
    })
}

/// Starts a membership change of `org`: the transaction that decides on the
/// owner rules and makes the change, with the organization locked where the
/// database needs it (see [`super::dialect::Dialect::lock_organization`]).
async fn begin_membership_change(pools: &Pools, org: OrgId) -> Result<Tx> {
    let mut tx = pools.begin().await?;
    if let Some(lock) = tx.dialect().lock_organization() {
        tx.query(lock).bind(org.0).fetch_optional().await?;
    }
    Ok(tx)
}

/// Ends a guarded membership change that changed `changed` rows. The
/// UPDATE or DELETE touches an owner only when the actor may change owners
/// (`? OR role <> 'owner'`, bound to [`OwnerChanges::allowed`]) and never
/// leaves the organization without an owner; both hold in the one
/// statement, so no role read beforehand can go stale. No row changed means
/// `user` is not a member, or is an owner and `owners` refuses that, or is
/// the last owner; which one is read in the same transaction, under the same
/// lock, so it is the state the guard saw.
async fn membership_change(
    mut tx: Tx,
    org: OrgId,
    user: UserId,
    owners: OwnerChanges,
    changed: u64,
) -> Result<()> {
    if changed > 0 {
        return tx.commit().await;
    }
    let role: Option<String> = tx
        .query("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?")
        .bind(org.0)
        .bind(user.0)
        .fetch_scalar()
        .await?;
    tx.commit().await?;
    match role.as_deref().and_then(Role::parse) {
        None => Err(StorageError::NotFound),
        Some(Role::Owner) if !owners.allowed() => Err(StorageError::OwnerOnly),
        Some(_) => Err(StorageError::LastOwner),
    }
}

pub(super) async fn set_member_role(
    pools: &Pools,
    org: OrgId,
    user: UserId,
    role: Role,
    owners: OwnerChanges,
) -> Result<()> {
    let mut tx = begin_membership_change(pools, org).await?;
    let changed = tx
        .query(
            "UPDATE org_members SET role = ? WHERE org_id = ? AND user_id = ? \
             AND (? OR role <> 'owner') \
             AND (role <> 'owner' OR ? = 'owner' \
                  OR (SELECT COUNT(*) FROM org_members WHERE org_id = ? AND role = 'owner') > 1)",
        )
        .bind(role.as_str())
        .bind(org.0)
        .bind(user.0)
        .bind(owners.allowed())
        .bind(role.as_str())
        .bind(org.0)
        .execute()
        .await?;
    membership_change(tx, org, user, owners, changed).await
}

pub(super) async fn remove_member(
    pools: &Pools,
    org: OrgId,
    user: UserId,
    owners: OwnerChanges,
) -> Result<()> {
    let mut tx = begin_membership_change(pools, org).await?;
    let removed = tx
        .query(
            "DELETE FROM org_members WHERE org_id = ? AND user_id = ? \
             AND (? OR role <> 'owner') \
             AND (role <> 'owner' \
                  OR (SELECT COUNT(*) FROM org_members WHERE org_id = ? AND role = 'owner') > 1)",
        )
        .bind(org.0)
        .bind(user.0)
        .bind(owners.allowed())
        .bind(org.0)
        .execute()
        .await?;
    membership_change(tx, org, user, owners, removed).await
}

pub(super) async fn create_invite(pools: &Pools, invite: &Invite, token_hash: &str) -> Result<()> {
    pools
        .write(
            "INSERT INTO invites (token_hash, org_id, email, role, invited_by, created, expires) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(invite.org_id.0)
        .bind(invite.email.as_str())
        .bind(invite.role.as_str())
        .bind(invite.invited_by.0)
        .bind(to_millis(Utc::now()))
        .bind(to_millis(invite.expires))
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn invite(pools: &Pools, token_hash: &str) -> Result<Option<Invite>> {
    let row = pools
        .read("SELECT * FROM invites WHERE token_hash = ? AND expires > ?")
        .bind(token_hash)
        .bind(to_millis(Utc::now()))
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::invite).transpose()
}

pub(super) async fn accept_invite(
    pools: &Pools,
    token_hash: &str,
    user: UserId,
) -> Result<Option<Invite>> {
    let mut tx = pools.begin().await?;
    // Deleting is what uses the invitation up: of two concurrent accepts,
    // only one gets the row back, and it adds the membership in the same
    // transaction.
    let row = tx
        .query("DELETE FROM invites WHERE token_hash = ? AND expires > ? RETURNING *")
        .bind(token_hash)
        .bind(to_millis(Utc::now()))
        .fetch_optional()
        .await?;
    let Some(invite) = row.as_ref().map(rows::invite).transpose()? else {
        return Ok(None);
    };
    tx.query(ADD_MEMBER)
        .bind(invite.org_id.0)
        .bind(user.0)
        .bind(invite.role.as_str())
        .bind(to_millis(Utc::now()))
        .execute()
        .await?;
    tx.commit().await?;
    Ok(Some(invite))
}

pub(super) async fn delete_invite(pools: &Pools, token_hash: &str) -> Result<()> {
    pools
        .write("DELETE FROM invites WHERE token_hash = ?")
        .bind(token_hash)
        .execute()
        .await?;
    Ok(())
}
