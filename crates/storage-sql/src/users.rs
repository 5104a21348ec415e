//! Accounts and their API tokens.

use chrono::Utc;

use super::driver::Pools;
use super::error::conflict;
use super::rows;
use faultline_storage::{ApiToken, User, UserId};
use faultline_storage::{Result, from_millis, to_millis};

pub(super) async fn create(
    pools: &Pools,
    email: &str,
    password_hash: Option<&str>,
    is_superuser: bool,
) -> Result<User> {
    let row = pools
        .write(
            "INSERT INTO users (email, password_hash, is_superuser, date_joined) \
             VALUES (?, ?, ?, ?) RETURNING *",
        )
        .bind(email)
        .bind(password_hash)
        .bind(is_superuser)
        .bind(to_millis(Utc::now()))
        .fetch_one()
        .await
        .map_err(conflict("a user with this email"))?;
    rows::user(&row)
}

pub(super) async fn by_email(pools: &Pools, email: &str) -> Result<Option<User>> {
    let sql = format!(
        "SELECT * FROM users WHERE {}",
        pools.dialect().email_matches()
    );
    let row = pools.read(&sql).bind(email).fetch_optional().await?;
    row.as_ref().map(rows::user).transpose()
}

pub(super) async fn by_id(pools: &Pools, id: UserId) -> Result<Option<User>> {
    let row = pools
        .read("SELECT * FROM users WHERE id = ?")
        .bind(id.0)
        .fetch_optional()
        .await?;
    row.as_ref().map(rows::user).transpose()
}

pub(super) async fn set_password(pools: &Pools, id: UserId, password_hash: &str) -> Result<()> {
    pools
        .write("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(id.0)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn set_timezone(pools: &Pools, id: UserId, timezone: &str) -> Result<()> {
    pools
        .write("UPDATE users SET timezone = ? WHERE id = ?")
        .bind(timezone)
        .bind(id.0)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn count(pools: &Pools) -> Result<i64> {
    Ok(pools
        .read("SELECT COUNT(*) FROM users")
        .fetch_scalar()
        .await?
        .unwrap_or(0))
}

pub(super) async fn create_token(
    pools: &Pools,
    user: UserId,
    token_hash: &str,
    scopes: &[String],
    name: Option<&str>,
) -> Result<ApiToken> {
    let date_created = to_millis(Utc::now());
    let row = pools
        .write(
            "INSERT INTO api_tokens (user_id, token_hash, scopes, name, date_created) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(token_hash)
        .bind(scopes.join(" "))
        .bind(name)
        .bind(date_created)
        .fetch_one()
        .await?;
    Ok(ApiToken {
        id: row.get("id")?,
        user_id: user,
        scopes: scopes.to_vec(),
        name: name.map(str::to_owned),
        date_created: from_millis(date_created),
    })
}

pub(super) async fn token_by_hash(
    pools: &Pools,
    token_hash: &str,
) -> Result<Option<(ApiToken, User)>> {
    let Some(row) = pools
        .read(
            "SELECT t.id AS token_id, t.scopes, t.name AS token_name, \
             t.date_created AS token_created, u.* \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional()
        .await?
    else {
        return Ok(None);
    };
    let user = rows::user(&row)?;
    let token = ApiToken {
        id: row.get("token_id")?,
        user_id: user.id,
        scopes: rows::scopes(&row.get::<String>("scopes")?),
        name: row.get("token_name")?,
        date_created: from_millis(row.get("token_created")?),
    };
    Ok(Some((token, user)))
}

pub(super) async fn tokens(pools: &Pools, user: UserId) -> Result<Vec<ApiToken>> {
    let found = pools
        .read("SELECT id, scopes, name, date_created FROM api_tokens WHERE user_id = ? ORDER BY id")
        .bind(user.0)
        .fetch_all()
        .await?;
    rows::all(&found, |row| {
        Ok(ApiToken {
            id: row.get("id")?,
            user_id: user,
            scopes: rows::scopes(&row.get::<String>("scopes")?),
            name: row.get("name")?,
            date_created: from_millis(row.get("date_created")?),
        })
    })
}

pub(super) async fn delete_token(pools: &Pools, user: UserId, token_id: i64) -> Result<()> {
    pools
        .write("DELETE FROM api_tokens WHERE id = ? AND user_id = ?")
        .bind(token_id)
        .bind(user.0)
        .execute()
        .await?;
    Ok(())
}
