//! The metadata store on PostgreSQL: the SQLite store's queries in
//! PostgreSQL's dialect (numbered parameters, LEAST/GREATEST, ON CONFLICT,
//! ILIKE, BOOLEAN columns), over one connection pool.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use faultline_protocol::{GroupId, Level, OrgId, ProjectId};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use crate::meta::*;
use crate::sql_rows::{conflict, random_hex_key};
use crate::{Result, StorageError, from_millis, to_millis};

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined BIGINT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC'
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    name TEXT,
    date_created BIGINT NOT NULL
);
CREATE TABLE organizations (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    date_created BIGINT NOT NULL
);
CREATE TABLE org_members (
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    date_added BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT,
    date_created BIGINT NOT NULL,
    first_event BIGINT,
    next_short_id BIGINT NOT NULL DEFAULT 0,
    UNIQUE (org_id, slug)
);
CREATE TABLE project_keys (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    secret_key TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    rate_limit_count BIGINT,
    rate_limit_window BIGINT,
    date_created BIGINT NOT NULL
);
CREATE TABLE issues (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    short_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    culprit TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    substatus TEXT,
    event_type TEXT NOT NULL,
    platform TEXT NOT NULL,
    metadata TEXT NOT NULL,
    count BIGINT NOT NULL,
    user_count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    first_release TEXT,
    resolved_at BIGINT,
    assignee_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (project_id, hash),
    UNIQUE (project_id, short_id)
);
CREATE INDEX issues_project_last_seen ON issues (project_id, last_seen);
CREATE TABLE seen_events (
    project_id BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    group_id BIGINT NOT NULL,
    is_new BOOLEAN NOT NULL,
    regression BOOLEAN NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE TABLE issue_users (
    group_id BIGINT NOT NULL,
    user_tag TEXT NOT NULL,
    PRIMARY KEY (group_id, user_tag)
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    invited_by BIGINT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE TABLE teams (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE TABLE project_teams (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, team_id)
);
"#];

#[derive(Clone)]
pub struct PgMetaStore {
    db: Db,
}

impl PgMetaStore {
    /// Connects to `url` (`postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await?;
        migrate(&pool, MIGRATIONS).await?;
        Ok(PgMetaStore {
            db: Db {
                write: pool.clone(),
                read: pool,
            },
        })
    }
}

/// Both names lead to the same pool: PostgreSQL needs no single writer.
#[derive(Clone)]
struct Db {
    write: PgPool,
    read: PgPool,
}

async fn migrate(pool: &PgPool, migrations: &[&str]) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    let applied: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(pool)
            .await?;
    for (index, sql) in migrations.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= applied {
            continue;
        }
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(Utc::now().timestamp())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

crate::sql_rows::row_mappers!(PgRow);

/// Serialises membership changes of one organization: under READ COMMITTED
/// two transactions demoting two different owners would each count the
/// other as still an owner; with the organization row locked, the second
/// waits and then counts afresh.
async fn lock_organization(tx: &mut sqlx::Transaction<'_, Postgres>, org: OrgId) -> Result<()> {
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(org.0)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(())
}

/// Rows per multi-row statement; well under SQLite's variable limit.
const ROWS_PER_STATEMENT: usize = 200;

/// Earlier deliveries among `events`: (project, event id) → (issue, was new,
/// was a regression).
async fn earlier_deliveries(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    events: &[GroupedEvent],
) -> Result<HashMap<(i64, String), (i64, bool, bool)>> {
    let mut earlier = HashMap::new();
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT project_id, event_id, group_id, is_new, regression FROM seen_events WHERE (project_id, event_id) IN (VALUES ",
        );
        let mut list = sql.separated(", ");
        for event in chunk {
            // VALUES rows carry no column types: cast so they compare with
            // (BIGINT, TEXT).
            list.push("(")
                .push_bind_unseparated(event.project_id.0)
                .push_unseparated("::BIGINT, ")
                .push_bind_unseparated(event.event_id.to_string())
                .push_unseparated(")");
        }
        sql.push(")");
        for row in sql.build().fetch_all(&mut **tx).await? {
            earlier.insert(
                (row.get(0), row.get(1)),
                (row.get(2), row.get(3), row.get(4)),
            );
        }
    }
    Ok(earlier)
}

/// Per-issue totals of one batch, applied with one UPDATE per issue.
struct IssueDelta<'a> {
    group_id: GroupId,
    was_resolved: bool,
    count: i64,
    new_users: i64,
    first_seen: i64,
    last_seen: i64,
    latest: &'a GroupedEvent,
}

#[async_trait]
impl MetaStore for PgMetaStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.db.read).await?;
        Ok(())
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: Option<&str>,
        is_superuser: bool,
    ) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (email, password_hash, is_superuser, date_joined) VALUES ($1, $2, $3, $4) RETURNING *",
        )
        .bind(email)
        .bind(password_hash)
        .bind(is_superuser)
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.db.write)
        .await
        .map_err(|e| conflict(e, "a user with this email"))?;
        Ok(user_from_row(&row))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(user_from_row))
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(user_from_row))
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.0)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.db.read)
            .await?)
    }

    async fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        scopes: &[String],
        name: Option<&str>,
    ) -> Result<ApiToken> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, scopes, name, date_created) VALUES ($1, $2, $3, $4, $5) RETURNING id, date_created",
        )
        .bind(user.0)
        .bind(token_hash)
        .bind(scopes.join(" "))
        .bind(name)
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.db.write)
        .await?;
        Ok(ApiToken {
            id: row.get(0),
            user_id: user,
            scopes: scopes.to_vec(),
            name: name.map(str::to_owned),
            date_created: from_millis(row.get(1)),
        })
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        let Some(row) = sqlx::query(
            "SELECT t.id AS token_id, t.scopes, t.name AS token_name, t.date_created AS token_created, u.* \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.db.read)
        .await?
        else {
            return Ok(None);
        };
        let user = user_from_row(&row);
        let scopes: String = row.get("scopes");
        let token = ApiToken {
            id: row.get("token_id"),
            user_id: user.id,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            name: row.get("token_name"),
            date_created: from_millis(row.get("token_created")),
        };
        Ok(Some((token, user)))
    }

    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT id, scopes, name, date_created FROM api_tokens WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows
            .iter()
            .map(|row| ApiToken {
                id: row.get("id"),
                user_id: user,
                scopes: row
                    .get::<String, _>("scopes")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                name: row.get("name"),
                date_created: from_millis(row.get("date_created")),
            })
            .collect())
    }

    async fn delete_api_token(&self, user: UserId, token_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user.0)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn set_timezone(&self, user: UserId, timezone: &str) -> Result<()> {
        sqlx::query("UPDATE users SET timezone = $1 WHERE id = $2")
            .bind(timezone)
            .bind(user.0)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn create_organization(&self, slug: &str, name: &str) -> Result<Organization> {
        let row = sqlx::query(
            "INSERT INTO organizations (slug, name, date_created) VALUES ($1, $2, $3) RETURNING *",
        )
        .bind(slug)
        .bind(name)
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.db.write)
        .await
        .map_err(|e| conflict(e, "an organization with this slug"))?;
        Ok(org_from_row(&row))
    }

    async fn organization_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT * FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(org_from_row))
    }

    async fn organization_by_id(&self, id: OrgId) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT * FROM organizations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(org_from_row))
    }

    async fn add_member(&self, org: OrgId, user: UserId, role: Role) -> Result<bool> {
        let added = sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, date_added) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO NOTHING",
        )
        .bind(org.0)
        .bind(user.0)
        .bind(role.as_str())
        .bind(to_millis(Utc::now()))
        .execute(&self.db.write)
        .await?
        .rows_affected();
        Ok(added == 1)
    }

    async fn set_member_role(&self, org: OrgId, user: UserId, role: Role) -> Result<()> {
        let mut tx = self.db.write.begin().await?;
        lock_organization(&mut tx, org).await?;
        let changed = sqlx::query(
            "UPDATE org_members SET role = $3 WHERE org_id = $1 AND user_id = $2 \
             AND (role <> 'owner' OR $3 = 'owner' \
                  OR (SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'owner') > 1)",
        )
        .bind(org.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        crate::sql_rows::membership_change(self, org, user, changed).await
    }

    async fn member_role(&self, org: OrgId, user: UserId) -> Result<Option<Role>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org.0)
                .bind(user.0)
                .fetch_optional(&self.db.read)
                .await?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    async fn members(&self, org: OrgId) -> Result<Vec<(User, Role)>> {
        let rows = sqlx::query("SELECT u.*, m.role AS member_role FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email")
            .bind(org.0)
            .fetch_all(&self.db.read)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let role: String = row.get("member_role");
                (
                    user_from_row(row),
                    Role::parse(&role).unwrap_or(Role::Member),
                )
            })
            .collect())
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> Result<()> {
        let mut tx = self.db.write.begin().await?;
        lock_organization(&mut tx, org).await?;
        let removed = sqlx::query(
            "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2 \
             AND (role <> 'owner' \
                  OR (SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'owner') > 1)",
        )
        .bind(org.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        crate::sql_rows::membership_change(self, org, user, removed).await
    }

    async fn create_invite(&self, invite: &Invite, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, org_id, email, role, invited_by, created, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(invite.org_id.0)
        .bind(&invite.email)
        .bind(invite.role.as_str())
        .bind(invite.invited_by.0)
        .bind(to_millis(Utc::now()))
        .bind(to_millis(invite.expires))
        .execute(&self.db.write)
        .await?;
        Ok(())
    }

    async fn invite(&self, token_hash: &str) -> Result<Option<Invite>> {
        let row = sqlx::query("SELECT * FROM invites WHERE token_hash = $1 AND expires > $2")
            .bind(token_hash)
            .bind(to_millis(Utc::now()))
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(invite_from_row))
    }

    async fn accept_invite(&self, token_hash: &str, user: UserId) -> Result<Option<Invite>> {
        let mut tx = self.db.write.begin().await?;
        // Deleting is what uses the invitation up: of two concurrent
        // accepts, only one gets the row back.
        let row =
            sqlx::query("DELETE FROM invites WHERE token_hash = $1 AND expires > $2 RETURNING *")
                .bind(token_hash)
                .bind(to_millis(Utc::now()))
                .fetch_optional(&mut *tx)
                .await?;
        let Some(invite) = row.as_ref().map(invite_from_row) else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, date_added) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO NOTHING",
        )
        .bind(invite.org_id.0)
        .bind(user.0)
        .bind(invite.role.as_str())
        .bind(to_millis(Utc::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(invite))
    }

    async fn delete_invite(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM invites WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn organizations_for_user(&self, user: &User) -> Result<Vec<Organization>> {
        let rows = if user.is_superuser {
            sqlx::query("SELECT * FROM organizations ORDER BY slug")
                .fetch_all(&self.db.read)
                .await?
        } else {
            sqlx::query(
                "SELECT o.* FROM organizations o JOIN org_members m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.slug",
            )
            .bind(user.id.0)
            .fetch_all(&self.db.read)
            .await?
        };
        Ok(rows.iter().map(org_from_row).collect())
    }

    async fn create_team(&self, org: OrgId, slug: &str, name: &str) -> Result<Team> {
        let row = sqlx::query(
            "INSERT INTO teams (org_id, slug, name, date_created) VALUES ($1, $2, $3, $4) RETURNING *",
        )
        .bind(org.0)
        .bind(slug)
        .bind(name)
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.db.write)
        .await
        .map_err(|e| conflict(e, "a team with this slug"))?;
        Ok(team_from_row(&row))
    }

    async fn teams(&self, org: OrgId) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT * FROM teams WHERE org_id = $1 ORDER BY slug")
            .bind(org.0)
            .fetch_all(&self.db.read)
            .await?;
        Ok(rows.iter().map(team_from_row).collect())
    }

    async fn team_by_slug(&self, org: OrgId, slug: &str) -> Result<Option<Team>> {
        let row = sqlx::query("SELECT * FROM teams WHERE org_id = $1 AND slug = $2")
            .bind(org.0)
            .bind(slug)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(team_from_row))
    }

    async fn add_project_to_team(&self, team: i64, project: ProjectId) -> Result<()> {
        sqlx::query("INSERT INTO project_teams (project_id, team_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(project.0)
            .bind(team)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn team_projects(&self, team: i64) -> Result<Vec<Project>> {
        let rows = sqlx::query(
            "SELECT p.* FROM projects p JOIN project_teams t ON t.project_id = p.id WHERE t.team_id = $1 ORDER BY p.slug",
        )
        .bind(team)
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows.iter().map(project_from_row).collect())
    }

    async fn project_teams(&self, project: ProjectId) -> Result<Vec<Team>> {
        let rows = sqlx::query(
            "SELECT t.* FROM teams t JOIN project_teams p ON p.team_id = t.id WHERE p.project_id = $1 ORDER BY t.slug",
        )
        .bind(project.0)
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows.iter().map(team_from_row).collect())
    }

    async fn create_project(
        &self,
        org: OrgId,
        slug: &str,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project> {
        let row = sqlx::query(
            "INSERT INTO projects (org_id, slug, name, platform, date_created) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(org.0)
        .bind(slug)
        .bind(name)
        .bind(platform)
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.db.write)
        .await
        .map_err(|e| conflict(e, "a project with this slug"))?;
        Ok(project_from_row(&row))
    }

    async fn projects(&self, org: OrgId) -> Result<Vec<Project>> {
        let rows = sqlx::query("SELECT * FROM projects WHERE org_id = $1 ORDER BY slug")
            .bind(org.0)
            .fetch_all(&self.db.read)
            .await?;
        Ok(rows.iter().map(project_from_row).collect())
    }

    async fn project_by_slug(&self, org: OrgId, slug: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE org_id = $1 AND slug = $2")
            .bind(org.0)
            .bind(slug)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(project_from_row))
    }

    async fn project_by_id(&self, id: ProjectId) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(project_from_row))
    }

    async fn update_project(
        &self,
        id: ProjectId,
        name: &str,
        platform: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE projects SET name = $1, platform = $2 WHERE id = $3")
            .bind(name)
            .bind(platform)
            .bind(id.0)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn create_key(&self, project: ProjectId, label: &str) -> Result<ProjectKey> {
        let row = sqlx::query(
            "INSERT INTO project_keys (project_id, label, public_key, secret_key, date_created) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(project.0)
        .bind(label)
        .bind(random_hex_key())
        .bind(random_hex_key())
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.db.write)
        .await?;
        Ok(key_from_row(&row))
    }

    async fn keys(&self, project: ProjectId) -> Result<Vec<ProjectKey>> {
        let rows = sqlx::query("SELECT * FROM project_keys WHERE project_id = $1 ORDER BY id")
            .bind(project.0)
            .fetch_all(&self.db.read)
            .await?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    async fn key_by_public(&self, public_key: &str) -> Result<Option<ProjectKey>> {
        let row = sqlx::query("SELECT * FROM project_keys WHERE public_key = $1")
            .bind(public_key)
            .fetch_optional(&self.db.read)
            .await?;
        Ok(row.as_ref().map(key_from_row))
    }

    async fn update_key(&self, key_id: i64, update: &KeyUpdate) -> Result<ProjectKey> {
        let (limit_set, count, window) = match update.rate_limit {
            None => (false, None, None),
            Some(None) => (true, None, None),
            Some(Some((count, window))) => (true, Some(count), Some(window)),
        };
        let row = sqlx::query(
            "UPDATE project_keys SET label = COALESCE($1, label), is_active = COALESCE($2, is_active), \
             rate_limit_count = CASE WHEN $3 THEN $4 ELSE rate_limit_count END, \
             rate_limit_window = CASE WHEN $5 THEN $6 ELSE rate_limit_window END \
             WHERE id = $7 RETURNING *",
        )
        .bind(update.label.as_deref())
        .bind(update.is_active)
        .bind(limit_set)
        .bind(count)
        .bind(limit_set)
        .bind(window)
        .bind(key_id)
        .fetch_optional(&self.db.write)
        .await?
        .ok_or(StorageError::NotFound)?;
        Ok(key_from_row(&row))
    }

    async fn record_events(&self, events: &[GroupedEvent]) -> Result<Vec<RecordOutcome>> {
        // Few, multi-row statements: each statement is a round trip to
        // sqlx's SQLite worker thread, which dominates the cost per event.
        let mut tx = self.db.write.begin().await?;
        let earlier = earlier_deliveries(&mut tx, events).await?;
        let mut outcomes: Vec<RecordOutcome> = Vec::with_capacity(events.len());
        let mut deltas: Vec<IssueDelta<'_>> = Vec::new();
        let mut by_hash: HashMap<(ProjectId, &str), usize> = HashMap::new();
        let mut in_batch: HashMap<(ProjectId, faultline_protocol::EventId), usize> = HashMap::new();
        let mut first_events: HashMap<ProjectId, i64> = HashMap::new();
        let mut new_seen: Vec<(&GroupedEvent, RecordOutcome)> = Vec::new();
        let mut users: Vec<(GroupId, &str)> = Vec::new();

        for event in events {
            if let Some(&(group_id, new_group, regression)) =
                earlier.get(&(event.project_id.0, event.event_id.to_string()))
            {
                // The first delivery's outcome, so a replay re-announces
                // exactly what the first one did.
                outcomes.push(RecordOutcome {
                    group_id: GroupId(group_id),
                    duplicate: true,
                    new_group,
                    regression,
                });
                continue;
            }
            if let Some(&first) = in_batch.get(&(event.project_id, event.event_id)) {
                let outcome = RecordOutcome {
                    duplicate: true,
                    ..outcomes[first]
                };
                outcomes.push(outcome);
                continue;
            }
            let ts = to_millis(event.timestamp);
            let (index, new_group) = match by_hash.get(&(event.project_id, event.hash.as_str())) {
                Some(&index) => (index, false),
                None => {
                    let existing = sqlx::query(
                        "SELECT id, status FROM issues WHERE project_id = $1 AND hash = $2",
                    )
                    .bind(event.project_id.0)
                    .bind(&event.hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (group_id, was_resolved, new_group) = match existing {
                        Some(row) => (
                            GroupId(row.get(0)),
                            row.get::<String, _>(1) == "resolved",
                            false,
                        ),
                        None => (create_issue(&mut tx, event, ts).await?, false, true),
                    };
                    deltas.push(IssueDelta {
                        group_id,
                        was_resolved,
                        count: 0,
                        new_users: 0,
                        first_seen: ts,
                        last_seen: ts,
                        latest: event,
                    });
                    by_hash.insert((event.project_id, event.hash.as_str()), deltas.len() - 1);
                    (deltas.len() - 1, new_group)
                }
            };
            let delta = &mut deltas[index];
            // Only the first event of a batch reopens or creates the issue.
            let regression = delta.was_resolved && delta.count == 0;
            delta.count += 1;
            delta.first_seen = delta.first_seen.min(ts);
            if ts >= delta.last_seen {
                delta.last_seen = ts;
                delta.latest = event;
            }
            if let Some(user) = &event.user {
                users.push((delta.group_id, user.as_str()));
            }
            let first = first_events.entry(event.project_id).or_insert(ts);
            *first = (*first).min(ts);
            let outcome = RecordOutcome {
                group_id: delta.group_id,
                duplicate: false,
                new_group,
                regression,
            };
            in_batch.insert((event.project_id, event.event_id), outcomes.len());
            outcomes.push(outcome);
            new_seen.push((event, outcome));
        }

        for chunk in new_seen.chunks(ROWS_PER_STATEMENT) {
            let mut sql = QueryBuilder::<Postgres>::new(
                "INSERT INTO seen_events (project_id, event_id, group_id, is_new, regression) ",
            );
            sql.push_values(chunk, |mut row, (event, outcome)| {
                row.push_bind(event.project_id.0)
                    .push_bind(event.event_id.to_string())
                    .push_bind(outcome.group_id.0)
                    .push_bind(outcome.new_group)
                    .push_bind(outcome.regression);
            });
            sql.build().execute(&mut *tx).await?;
        }
        // Distinct users: the rows actually inserted are the new ones.
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let mut sql =
                QueryBuilder::<Postgres>::new("INSERT INTO issue_users (group_id, user_tag) ");
            sql.push_values(chunk, |mut row, (group, user)| {
                row.push_bind(group.0).push_bind(*user);
            });
            sql.push(" ON CONFLICT DO NOTHING RETURNING group_id");
            let added: Vec<i64> = sql.build_query_scalar().fetch_all(&mut *tx).await?;
            for group in added {
                if let Some(delta) = deltas.iter_mut().find(|d| d.group_id.0 == group) {
                    delta.new_users += 1;
                }
            }
        }

        for delta in &deltas {
            let latest = delta.latest;
            // Title, culprit and level follow the newest event, as in Sentry.
            sqlx::query(
                "UPDATE issues SET count = count + $1, user_count = user_count + $2, \
                 first_seen = LEAST(first_seen, $3), \
                 title = CASE WHEN $4 >= last_seen THEN $5 ELSE title END, \
                 culprit = CASE WHEN $6 >= last_seen THEN $7 ELSE culprit END, \
                 metadata = CASE WHEN $8 >= last_seen THEN $9 ELSE metadata END, \
                 level = CASE WHEN $10 >= last_seen THEN $11 ELSE level END, \
                 last_seen = GREATEST(last_seen, $12), \
                 substatus = CASE WHEN status = 'resolved' THEN 'regressed' ELSE substatus END, \
                 resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END, \
                 status = CASE WHEN status = 'resolved' THEN 'unresolved' ELSE status END \
                 WHERE id = $13",
            )
            .bind(delta.count)
            .bind(delta.new_users)
            .bind(delta.first_seen)
            .bind(delta.last_seen)
            .bind(&latest.title)
            .bind(delta.last_seen)
            .bind(&latest.culprit)
            .bind(delta.last_seen)
            .bind(latest.metadata.to_string())
            .bind(delta.last_seen)
            .bind(latest.level.as_str())
            .bind(delta.last_seen)
            .bind(delta.group_id.0)
            .execute(&mut *tx)
            .await?;
        }
        for (project, first) in first_events {
            sqlx::query(
                "UPDATE projects SET first_event = $1 WHERE id = $2 AND first_event IS NULL",
            )
            .bind(first)
            .bind(project.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        let row = sqlx::query("SELECT * FROM issues WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.db.read)
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    async fn group_by_short_id(&self, project: ProjectId, short_id: i64) -> Result<Option<Group>> {
        let row = sqlx::query("SELECT * FROM issues WHERE project_id = $1 AND short_id = $2")
            .bind(project.0)
            .bind(short_id)
            .fetch_optional(&self.db.read)
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    async fn groups(&self, query: &GroupQuery) -> Result<Vec<Group>> {
        if query.project_ids.is_empty() || query.group_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut sql: QueryBuilder<'_, Postgres> =
            QueryBuilder::new("SELECT * FROM issues WHERE project_id IN (");
        let mut list = sql.separated(", ");
        for p in &query.project_ids {
            list.push_bind(p.0);
        }
        sql.push(")");
        if !query.statuses.is_empty() {
            sql.push(" AND status IN (");
            let mut list = sql.separated(", ");
            for s in &query.statuses {
                list.push_bind(s.as_str());
            }
            sql.push(")");
        }
        if !query.levels.is_empty() {
            sql.push(" AND level IN (");
            let mut list = sql.separated(", ");
            for l in &query.levels {
                list.push_bind(l.as_str());
            }
            sql.push(")");
        }
        for term in &query.text {
            let pattern = format!(
                "%{}%",
                term.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            sql.push(" AND (title ILIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR culprit ILIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\')");
        }
        if let Some(ids) = &query.group_ids {
            sql.push(" AND id IN (");
            let mut list = sql.separated(", ");
            for id in ids {
                list.push_bind(id.0);
            }
            sql.push(")");
        }
        match query.assigned {
            Some(true) => {
                sql.push(" AND assignee_id IS NOT NULL");
            }
            Some(false) => {
                sql.push(" AND assignee_id IS NULL");
            }
            None => {}
        }
        if let Some(after) = query.last_seen_after {
            sql.push(" AND last_seen >= ").push_bind(to_millis(after));
        }
        sql.push(match query.sort {
            GroupSort::LastSeen => " ORDER BY last_seen DESC, id DESC",
            GroupSort::FirstSeen => " ORDER BY first_seen DESC, id DESC",
            GroupSort::Events => " ORDER BY count DESC, id DESC",
            GroupSort::Users => " ORDER BY user_count DESC, id DESC",
        });
        sql.push(" LIMIT ").push_bind(query.limit as i64);
        sql.push(" OFFSET ").push_bind(query.offset as i64);
        let rows = sql.build().fetch_all(&self.db.read).await?;
        rows.iter().map(group_from_row).collect()
    }

    async fn set_group_status(&self, ids: &[GroupId], status: GroupStatus) -> Result<()> {
        let mut tx = self.db.write.begin().await?;
        let now = to_millis(Utc::now());
        for id in ids {
            sqlx::query(
                "UPDATE issues SET status = $1, \
                 resolved_at = CASE WHEN $2 = 'resolved' THEN $3::BIGINT ELSE NULL END, \
                 substatus = CASE $4::TEXT WHEN 'unresolved' THEN 'ongoing' WHEN 'ignored' THEN 'archived_forever' ELSE NULL END \
                 WHERE id = $5",
            )
            .bind(status.as_str())
            .bind(status.as_str())
            .bind(now)
            .bind(status.as_str())
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, session: &Session, token_hash: &str) -> Result<()> {
        let now = to_millis(Utc::now());
        // Expired sessions are swept whenever someone signs in.
        sqlx::query("DELETE FROM sessions WHERE expires < $1")
            .bind(now)
            .execute(&self.db.write)
            .await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created, expires) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(session.user_id.0)
            .bind(&session.csrf_token)
            .bind(now)
            .bind(to_millis(session.expires))
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<(Session, User)>> {
        let Some(row) = sqlx::query(
            "SELECT s.csrf_token, s.expires AS session_expires, u.* FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires > $2 AND u.is_active",
        )
        .bind(token_hash)
        .bind(to_millis(Utc::now()))
        .fetch_optional(&self.db.read)
        .await?
        else {
            return Ok(None);
        };
        let user = user_from_row(&row);
        let session = Session {
            user_id: user.id,
            csrf_token: row.get("csrf_token"),
            expires: from_millis(row.get("session_expires")),
        };
        Ok(Some((session, user)))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn delete_other_sessions(&self, user: UserId, keep_token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.0)
            .bind(keep_token_hash)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }

    async fn delete_issues_before(&self, cutoff: chrono::DateTime<Utc>) -> Result<u64> {
        let cutoff = to_millis(cutoff);
        let mut tx = self.db.write.begin().await?;
        let old = "SELECT id FROM issues WHERE last_seen < $1";
        sqlx::query(&format!(
            "DELETE FROM seen_events WHERE group_id IN ({old})"
        ))
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM issue_users WHERE group_id IN ({old})"
        ))
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM issues WHERE last_seen < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        sqlx::raw_sql("VACUUM issues, seen_events, issue_users")
            .execute(&self.db.write)
            .await?;
        Ok(deleted)
    }

    async fn set_assignee(&self, ids: &[GroupId], assignee: Option<UserId>) -> Result<()> {
        let mut tx = self.db.write.begin().await?;
        for id in ids {
            sqlx::query("UPDATE issues SET assignee_id = $1 WHERE id = $2")
                .bind(assignee.map(|u| u.0))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.db.read)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.db.write)
            .await?;
        Ok(())
    }
}

async fn create_issue(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    event: &GroupedEvent,
    ts: i64,
) -> Result<GroupId> {
    let short_id: i64 = sqlx::query_scalar("UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = $1 RETURNING next_short_id")
        .bind(event.project_id.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StorageError::NotFound)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO issues (project_id, hash, short_id, title, culprit, level, status, substatus, event_type, platform, \
         metadata, count, user_count, first_seen, last_seen, first_release) \
         VALUES ($1, $2, $3, $4, $5, $6, 'unresolved', 'new', $7, $8, $9, 0, 0, $10, $11, $12) RETURNING id",
    )
    .bind(event.project_id.0)
    .bind(&event.hash)
    .bind(short_id)
    .bind(&event.title)
    .bind(&event.culprit)
    .bind(event.level.as_str())
    .bind(&event.event_type)
    .bind(&event.platform)
    .bind(event.metadata.to_string())
    .bind(ts)
    .bind(ts)
    .bind(&event.release)
    .fetch_one(&mut **tx)
    .await?;
    Ok(GroupId(id))
}
