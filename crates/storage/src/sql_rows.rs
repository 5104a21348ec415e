//! What both SQL metadata stores share: mapping result rows to the model
//! (identical column names in both schemas), unique-violation mapping, and
//! key generation.

use faultline_protocol::OrgId;

use crate::{MetaStore, Result, StorageError, UserId};

pub(crate) fn conflict(e: sqlx::Error, what: &str) -> StorageError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StorageError::Conflict(what.to_owned())
        }
        _ => StorageError::Database(e),
    }
}

/// What a guarded membership change (an UPDATE or DELETE that refuses to
/// touch the last owner) means when it changed `changed` rows: done, or
/// refused because `user` is not a member, or because they are the last owner.
pub(crate) async fn membership_change<S: MetaStore + ?Sized>(
    store: &S,
    org: OrgId,
    user: UserId,
    changed: u64,
) -> Result<()> {
    if changed > 0 {
        return Ok(());
    }
    match store.member_role(org, user).await? {
        None => Err(StorageError::NotFound),
        Some(_) => Err(StorageError::LastOwner),
    }
}

/// A project key part: 32 hex digits from a v4 UUID's 122 random bits.
pub(crate) fn random_hex_key() -> String {
    faultline_protocol::EventId::new_random().to_string()
}

/// Defines `user_from_row`, `org_from_row`, `invite_from_row`, `team_from_row`,
/// `project_from_row`, `key_from_row` and `group_from_row` for one row type
/// (a macro because sqlx's row traits make a generic version unreadable).
macro_rules! row_mappers {
    ($row:ty) => {
        fn user_from_row(row: &$row) -> User {
            User {
                id: UserId(row.get("id")),
                email: row.get("email"),
                name: row.get("name"),
                password_hash: row.get("password_hash"),
                is_superuser: row.get("is_superuser"),
                is_active: row.get("is_active"),
                date_joined: from_millis(row.get("date_joined")),
                timezone: row.get("timezone"),
            }
        }

        fn org_from_row(row: &$row) -> Organization {
            Organization {
                id: OrgId(row.get("id")),
                slug: row.get("slug"),
                name: row.get("name"),
                date_created: from_millis(row.get("date_created")),
            }
        }

        fn invite_from_row(row: &$row) -> Invite {
            let role: String = row.get("role");
            Invite {
                org_id: OrgId(row.get("org_id")),
                email: row.get("email"),
                role: Role::parse(&role).unwrap_or(Role::Member),
                invited_by: UserId(row.get("invited_by")),
                expires: from_millis(row.get("expires")),
            }
        }

        fn team_from_row(row: &$row) -> Team {
            Team {
                id: row.get("id"),
                org_id: OrgId(row.get("org_id")),
                slug: row.get("slug"),
                name: row.get("name"),
                date_created: from_millis(row.get("date_created")),
            }
        }

        fn project_from_row(row: &$row) -> Project {
            Project {
                id: ProjectId(row.get("id")),
                org_id: OrgId(row.get("org_id")),
                slug: row.get("slug"),
                name: row.get("name"),
                platform: row.get("platform"),
                date_created: from_millis(row.get("date_created")),
                first_event: row.get::<Option<i64>, _>("first_event").map(from_millis),
            }
        }

        fn key_from_row(row: &$row) -> ProjectKey {
            ProjectKey {
                id: row.get("id"),
                project_id: ProjectId(row.get("project_id")),
                label: row.get("label"),
                public_key: row.get("public_key"),
                secret_key: row.get("secret_key"),
                is_active: row.get("is_active"),
                rate_limit_count: row.get("rate_limit_count"),
                rate_limit_window: row.get("rate_limit_window"),
                date_created: from_millis(row.get("date_created")),
            }
        }

        fn group_from_row(row: &$row) -> Result<Group> {
            let level: String = row.get("level");
            let status: String = row.get("status");
            let metadata: String = row.get("metadata");
            Ok(Group {
                id: GroupId(row.get("id")),
                project_id: ProjectId(row.get("project_id")),
                short_id: row.get("short_id"),
                title: row.get("title"),
                culprit: row.get("culprit"),
                level: Level::parse(&level)
                    .ok_or_else(|| StorageError::Corrupt(format!("level {level}")))?,
                status: GroupStatus::parse(&status)
                    .ok_or_else(|| StorageError::Corrupt(format!("status {status}")))?,
                substatus: row.get("substatus"),
                event_type: row.get("event_type"),
                platform: row.get("platform"),
                metadata: serde_json::from_str(&metadata)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                count: row.get("count"),
                user_count: row.get("user_count"),
                first_seen: from_millis(row.get("first_seen")),
                last_seen: from_millis(row.get("last_seen")),
                first_release: row.get("first_release"),
                resolved_at: row.get::<Option<i64>, _>("resolved_at").map(from_millis),
                assignee: row.get::<Option<i64>, _>("assignee_id").map(UserId),
            })
        }
    };
}

pub(crate) use row_mappers;
