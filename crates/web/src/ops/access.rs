//! Who is asking, and what they may do: a [`Caller`] is a user with the
//! credential they came with (a dashboard session, or an API token and its
//! scopes); a [`Member`] is a caller inside one organization, with their
//! role there. What a member may do is what both the credential and the
//! role allow (`scopes::allowed`), decided at the time of the request, so a
//! token outlives no demotion.

use faultline_protocol::GroupId;
use faultline_storage::{Group, MetaStore, Organization, Project, Role, User};

use super::{OpError, OpResult};
use crate::scopes::{self, Need};

/// What the caller signed in with.
#[derive(Debug, Clone)]
enum Credential {
    /// A dashboard session: every scope, so only the role limits it.
    Session,
    /// An API token with the scopes it was created with.
    Token(Vec<String>),
}

impl Credential {
    fn carries(&self, need: Need) -> bool {
        match self {
            Credential::Session => true,
            Credential::Token(granted) => scopes::satisfies(granted, need),
        }
    }
}

/// A user acting, before any organization is chosen.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    credential: Credential,
}

impl Caller {
    /// Someone signed in to the dashboard.
    pub fn signed_in(user: User) -> Self {
        Caller {
            user,
            credential: Credential::Session,
        }
    }

    /// Someone holding an API token with `scopes`.
    pub fn with_token(user: User, scopes: Vec<String>) -> Self {
        Caller {
            user,
            credential: Credential::Token(scopes),
        }
    }

    /// The token's own scopes (`GET /api/0/` reports them); none for a session.
    pub fn token_scopes(&self) -> Option<&[String]> {
        match &self.credential {
            Credential::Session => None,
            Credential::Token(scopes) => Some(scopes),
        }
    }

    /// A 403 unless the credential itself carries `need`: for what is not
    /// inside one organization (listing one's organizations, creating one).
    pub fn require_credential(&self, need: Need) -> OpResult<()> {
        if self.credential.carries(need) {
            Ok(())
        } else {
            Err(OpError::Forbidden { need })
        }
    }

    /// The caller as a member of `org`, if they are one (404 otherwise, so
    /// organizations cannot be probed) and may do `need` there (403
    /// otherwise). Superusers act as owners everywhere.
    pub async fn member(
        &self,
        meta: &dyn MetaStore,
        org: Organization,
        need: Need,
    ) -> OpResult<Member> {
        let role = if self.user.is_superuser {
            Role::Owner
        } else {
            meta.member_role(org.id, self.user.id)
                .await?
                .ok_or(OpError::NotFound)?
        };
        let member = Member {
            user: self.user.clone(),
            org,
            role,
            credential: self.credential.clone(),
        };
        member.require(need)?;
        Ok(member)
    }

    /// The organization `slug`, as [`Self::member`] allows.
    pub async fn member_of(
        &self,
        meta: &dyn MetaStore,
        slug: &str,
        need: Need,
    ) -> OpResult<Member> {
        let org = meta
            .organization_by_slug(slug)
            .await?
            .ok_or(OpError::NotFound)?;
        self.member(meta, org, need).await
    }

    /// `{org}/{project}`, if the caller may do `need` in that organization.
    pub async fn project(
        &self,
        meta: &dyn MetaStore,
        org_slug: &str,
        project_slug: &str,
        need: Need,
    ) -> OpResult<(Member, Project)> {
        let member = self.member_of(meta, org_slug, need).await?;
        let project = member.project(meta, project_slug, need).await?;
        Ok((member, project))
    }

    /// The issue `id` (as the URL gives it) and its project, if the caller
    /// may do `need` in its organization (404 for anyone else).
    pub async fn issue(
        &self,
        meta: &dyn MetaStore,
        id: &str,
        need: Need,
    ) -> OpResult<(Member, Group, Project)> {
        let group = find_group(meta, id).await?;
        let project = meta
            .project_by_id(group.project_id)
            .await?
            .ok_or(OpError::NotFound)?;
        let org = meta
            .organization_by_id(project.org_id)
            .await?
            .ok_or(OpError::NotFound)?;
        let member = self.member(meta, org, need).await?;
        Ok((member, group, project))
    }
}

async fn find_group(meta: &dyn MetaStore, id: &str) -> OpResult<Group> {
    let id: i64 = id.parse().map_err(|_| OpError::NotFound)?;
    meta.group(GroupId(id)).await?.ok_or(OpError::NotFound)
}

/// A caller inside one organization.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub org: Organization,
    pub role: Role,
    credential: Credential,
}

impl Member {
    /// Whether both the credential and the role allow `need`.
    pub fn allows(&self, need: Need) -> bool {
        match &self.credential {
            Credential::Session => scopes::satisfies(scopes::for_role(self.role), need),
            Credential::Token(granted) => scopes::allowed(granted, self.role, need),
        }
    }

    /// A 403 unless [`Self::allows`] `need`.
    pub fn require(&self, need: Need) -> OpResult<()> {
        if self.allows(need) {
            Ok(())
        } else {
            Err(OpError::Forbidden { need })
        }
    }

    /// Owners and admins: they manage projects, keys, teams and members.
    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }

    /// Managing members (invite, change roles, remove). Faultline's roles
    /// let admins do it (Sentry has a manager role for that, which
    /// Faultline does not model), so the rule is the role; a token must
    /// also carry `member:write`.
    pub fn require_member_admin(&self) -> OpResult<()> {
        if self.is_admin() && self.credential.carries(scopes::MEMBER_WRITE) {
            Ok(())
        } else {
            Err(OpError::Forbidden {
                need: scopes::MEMBER_WRITE,
            })
        }
    }

    /// Only owners make someone an owner, or change or remove an owner.
    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }

    /// A 404 unless `project` is this organization's: operations are handed
    /// projects their handler looked up, and check they are the member's.
    pub(super) fn check_project(&self, project: &Project) -> OpResult<()> {
        if project.org_id == self.org.id {
            Ok(())
        } else {
            Err(OpError::NotFound)
        }
    }

    /// The project `slug` of this organization, if the member may `need`.
    pub async fn project(&self, meta: &dyn MetaStore, slug: &str, need: Need) -> OpResult<Project> {
        self.require(need)?;
        meta.project_by_slug(self.org.id, slug)
            .await?
            .ok_or(OpError::NotFound)
    }

    /// The issue `id` and its project, if it belongs to this organization
    /// and the member may `need`.
    pub async fn issue(
        &self,
        meta: &dyn MetaStore,
        id: &str,
        need: Need,
    ) -> OpResult<(Group, Project)> {
        self.require(need)?;
        let group = find_group(meta, id).await?;
        match meta.project_by_id(group.project_id).await? {
            Some(project) if project.org_id == self.org.id => Ok((group, project)),
            _ => Err(OpError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_protocol::OrgId;
    use faultline_storage::UserId;

    fn member(role: Role, credential: Credential) -> Member {
        let now = chrono::Utc::now();
        Member {
            user: User {
                id: UserId(1),
                email: "a@example.com".into(),
                name: String::new(),
                password_hash: None,
                is_active: true,
                is_superuser: false,
                date_joined: now,
                timezone: "UTC".into(),
            },
            org: Organization {
                id: OrgId(1),
                slug: "acme".into(),
                name: "Acme".into(),
                date_created: now,
            },
            role,
            credential,
        }
    }

    #[test]
    fn a_session_is_limited_by_the_role_alone() {
        let admin = member(Role::Admin, Credential::Session);
        assert!(admin.allows(scopes::PROJECT_WRITE));
        assert!(admin.allows(scopes::TEAM_CREATE));
        assert!(!admin.allows(scopes::ORG_WRITE));
        assert!(admin.require_member_admin().is_ok());
        let plain = member(Role::Member, Credential::Session);
        assert!(plain.allows(scopes::EVENT_WRITE));
        assert!(matches!(
            plain.require(scopes::PROJECT_WRITE),
            Err(OpError::Forbidden { .. })
        ));
        assert!(plain.require_member_admin().is_err());
    }

    #[test]
    fn a_token_is_limited_by_its_scopes_and_the_role() {
        let read_only = member(Role::Owner, Credential::Token(vec!["event:read".into()]));
        assert!(read_only.allows(scopes::EVENT_READ));
        assert!(!read_only.allows(scopes::EVENT_WRITE));
        assert!(read_only.require_member_admin().is_err());
        let everything: Vec<String> = scopes::ALL.iter().map(|s| (*s).to_owned()).collect();
        let plain = member(Role::Member, Credential::Token(everything.clone()));
        assert!(plain.allows(scopes::EVENT_WRITE));
        assert!(!plain.allows(scopes::PROJECT_WRITE));
        assert!(
            member(Role::Admin, Credential::Token(everything))
                .require_member_admin()
                .is_ok()
        );
    }
}
