//! Accounts: creating one (registration, an accepted invitation,
//! `faultline createuser`) and changing its password, each held to the one
//! email rule (`names::email`) and password rule (`password::check_new`).

use faultline_storage::{MetaStore, Role, User};

use super::{OpError, OpResult, conflict};
use crate::names;
use crate::password;

/// An account that passed the rules, not yet stored. Made only by
/// [`NewAccount::new`], so nothing unchecked reaches [`create`].
#[derive(Debug)]
pub struct NewAccount {
    email: String,
    /// `None`: no password, so the account cannot sign in (an operator's
    /// `createuser --no-input`).
    password: Option<String>,
    superuser: bool,
}

impl NewAccount {
    pub fn new(email: &str, password: Option<&str>) -> OpResult<Self> {
        let email = names::email(email)?;
        if let Some(password) = password {
            password::check_new(password)?;
        }
        Ok(NewAccount {
            email,
            password: password.map(str::to_owned),
            superuser: false,
        })
    }

    /// Only the admin commands make superusers.
    pub fn superuser(self) -> Self {
        NewAccount {
            superuser: true,
            ..self
        }
    }

    pub fn email(&self) -> &str {
        &self.email
    }
}

pub async fn create(meta: &dyn MetaStore, account: NewAccount) -> OpResult<User> {
    let hash = match account.password {
        Some(password) => Some(password::hash(password).await),
        None => None,
    };
    meta.create_user(&account.email, hash.as_deref(), account.superuser)
        .await
        .map_err(|e| conflict(e, || "an account with this email already exists".into()))
}

/// A single-organization install: an account made by `createuser` joins
/// every organization, as an owner if it is a superuser, else as a member
/// (joining never changes the role of someone already a member).
pub async fn join_every_organization(meta: &dyn MetaStore, user: &User) -> OpResult<()> {
    let role = if user.is_superuser {
        Role::Owner
    } else {
        Role::Member
    };
    let everyone = User {
        is_superuser: true,
        ..user.clone()
    };
    for org in meta.organizations_for_user(&everyone).await? {
        meta.add_member(org.id, user.id, role).await?;
    }
    Ok(())
}

/// Sets `user`'s password to `new` (typed twice, as `confirm`) and signs out
/// every other session, keeping the one whose token hash is `keep_session`:
/// a password change is how people lock out whoever else got in. The
/// current password is checked by the caller (the dashboard counts those
/// checks against guessing).
pub async fn change_password(
    meta: &dyn MetaStore,
    user: &User,
    new: &str,
    confirm: &str,
    keep_session: &str,
) -> OpResult<()> {
    password::check_new(new)?;
    if new != confirm {
        return Err(OpError::invalid("confirm", "the two new passwords differ"));
    }
    let hash = password::hash(new.to_owned()).await;
    meta.set_password(user.id, &hash).await?;
    Ok(meta.delete_other_sessions(user.id, keep_session).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_accounts_follow_the_email_and_password_rules() {
        let account = NewAccount::new(" Dev@Example.com ", Some("long enough")).unwrap();
        assert_eq!(account.email(), "dev@example.com");
        assert!(!account.superuser);
        assert!(account.superuser().superuser);
        assert!(NewAccount::new("dev@example.com", None).is_ok());
        let short = NewAccount::new("dev@example.com", Some("x")).unwrap_err();
        assert!(matches!(
            short,
            OpError::Invalid {
                field: "password",
                ..
            }
        ));
        assert_eq!(
            short.to_string(),
            "choose a password of 8 characters or more"
        );
        assert!(matches!(
            NewAccount::new("dev", Some("long enough")),
            Err(OpError::Invalid { field: "email", .. })
        ));
    }
}
