//! Members, roles and invitations. Admins and owners invite, change roles
//! and remove members; only owners make, change or remove owners. That only
//! owners touch an owner (`StorageError::OwnerOnly`) and that an
//! organization keeps an owner (`StorageError::LastOwner`) are decided by
//! the store, in the same statement as the change: nothing here reads the
//! target's role or counts owners first, so an admin's change racing an
//! owner's promotion of the same person cannot land on the new owner, and
//! two owners demoting each other at once cannot both succeed.
//!
//! An invitation is a link whose token only the inviter sees. Whoever holds
//! it may create the invited account if none exists; an existing account
//! must be signed in to accept, so a link can never add a membership to, or
//! change, an account that is not the inviter's own.

use chrono::Utc;
use faultline_storage::{Invite, MetaStore, Organization, OwnerChanges, Role, User, UserId};

use super::{Member, OpError, OpResult, users};
use crate::auth::{generate_token, hash_token};
use crate::names;

/// How long an invitation link works.
pub const INVITE_DAYS: i64 = 7;

const OWNERS_MAKE_OWNERS: &str = "only owners can make someone an owner";
/// Also the message of the store's `OwnerOnly` (see [`super::OpError`]).
pub(super) const OWNERS_CHANGE_OWNERS: &str = "only owners can change or remove an owner";

/// A role as a form or body names it.
pub fn parse_role(raw: Option<&str>) -> OpResult<Role> {
    raw.and_then(Role::parse)
        .ok_or_else(|| OpError::invalid("role", "choose a role"))
}

/// Only owners hand out ownership.
fn check_grant(member: &Member, role: Role) -> OpResult<()> {
    if role == Role::Owner && !member.is_owner() {
        return Err(OpError::OwnersOnly(OWNERS_MAKE_OWNERS));
    }
    Ok(())
}

/// Whether `member` may change or remove an owner, for the store to decide
/// in the same statement as the change.
fn owner_changes(member: &Member) -> OwnerChanges {
    if member.is_owner() {
        OwnerChanges::Allowed
    } else {
        OwnerChanges::Refused
    }
}

/// A new invitation: the link's token, which is shown once and stored only
/// as its hash, and the address as invited.
#[derive(Debug)]
pub struct Invited {
    pub token: String,
    pub email: String,
}

/// Invites `email` with `role`.
pub async fn invite(
    meta: &dyn MetaStore,
    member: &Member,
    email: &str,
    role: Role,
) -> OpResult<Invited> {
    member.require_member_admin()?;
    check_grant(member, role)?;
    let email = names::email(email)?;
    let token = generate_token();
    let invite = Invite {
        org_id: member.org.id,
        email,
        role,
        invited_by: member.user.id,
        expires: Utc::now() + chrono::Duration::days(INVITE_DAYS),
    };
    meta.create_invite(&invite, &hash_token(&token)).await?;
    Ok(Invited {
        token,
        email: invite.email,
    })
}

/// Gives `user` the role `role`.
pub async fn set_role(
    meta: &dyn MetaStore,
    member: &Member,
    user: UserId,
    role: Role,
) -> OpResult<()> {
    member.require_member_admin()?;
    check_grant(member, role)?;
    Ok(meta
        .set_member_role(member.org.id, user, role, owner_changes(member))
        .await?)
}

/// Removes `user` from the organization.
pub async fn remove(meta: &dyn MetaStore, member: &Member, user: UserId) -> OpResult<()> {
    member.require_member_admin()?;
    Ok(meta
        .remove_member(member.org.id, user, owner_changes(member))
        .await?)
}

/// An invitation and the organization it is for.
pub struct Invitation {
    pub invite: Invite,
    pub org: Organization,
}

/// The invitation whose link carries `token` (404 if used up or unknown).
pub async fn invitation(meta: &dyn MetaStore, token: &str) -> OpResult<Invitation> {
    let invite = meta
        .invite(&hash_token(token))
        .await?
        .ok_or(OpError::NotFound)?;
    let org = meta
        .organization_by_id(invite.org_id)
        .await?
        .ok_or(OpError::NotFound)?;
    Ok(Invitation { invite, org })
}

/// Who is looking at an invitation, which decides what accepting takes.
#[derive(Debug)]
pub enum Acceptor {
    /// No account has the invited address: whoever holds the link chooses
    /// its password (the link is the credential, as a reset link is).
    NewAccount,
    /// The invited account, signed in: accepting joins.
    SignedIn(User),
    /// The account exists and is signed out: it must sign in first, so a
    /// link that reached someone else (an admin of another organization,
    /// say) cannot add memberships to, or change, an account not theirs.
    MustSignIn,
    /// Signed in as someone other than the invited address (the email).
    OtherAccount(String),
}

pub async fn acceptor(
    meta: &dyn MetaStore,
    invite: &Invite,
    signed_in: Option<&User>,
) -> OpResult<Acceptor> {
    let existing = meta.user_by_email(&invite.email).await?;
    Ok(match (existing, signed_in) {
        (None, None) => Acceptor::NewAccount,
        (Some(invited), Some(user)) if user.id == invited.id => Acceptor::SignedIn(user.clone()),
        (_, Some(user)) => Acceptor::OtherAccount(user.email.clone()),
        (Some(_), None) => Acceptor::MustSignIn,
    })
}

/// What accepting did.
#[derive(Debug)]
pub enum Accepted {
    /// The account was created with the chosen password; it signs in next.
    NewAccount,
    /// The signed-in account joined (or already was a member: joining
    /// never changes the role of a member).
    Joined,
}

/// Accepts the invitation of `token`, as whoever is looking
/// ([`acceptor`]): a new account with `password`, or the signed-in invited
/// account. Anyone else is refused (`NotInvited`); an account created
/// meanwhile by someone else is a `Conflict` (it must sign in). The
/// invitation is used up in the same transaction as the membership is
/// added, so a link works once, even opened twice at the same moment.
pub async fn accept(
    meta: &dyn MetaStore,
    token: &str,
    signed_in: Option<&User>,
    password: Option<&str>,
) -> OpResult<Accepted> {
    let Invitation { invite, .. } = invitation(meta, token).await?;
    let (user, accepted) = match acceptor(meta, &invite, signed_in).await? {
        Acceptor::NewAccount => {
            let account = users::NewAccount::new(&invite.email, Some(password.unwrap_or("")))?;
            (users::create(meta, account).await?, Accepted::NewAccount)
        }
        Acceptor::SignedIn(user) => (user, Accepted::Joined),
        Acceptor::MustSignIn | Acceptor::OtherAccount(_) => return Err(OpError::NotInvited),
    };
    meta.accept_invite(&hash_token(token), user.id)
        .await?
        .ok_or(OpError::NotFound)?;
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_named() {
        assert_eq!(parse_role(Some("admin")).unwrap(), Role::Admin);
        for raw in [None, Some(""), Some("Owner"), Some("root")] {
            assert!(
                matches!(parse_role(raw), Err(OpError::Invalid { field: "role", .. })),
                "{raw:?}"
            );
        }
    }
}
