//! Dashboard sessions (stored by the hash of their cookie value) and
//! installation settings.

use chrono::Utc;

use super::driver::Pools;
use super::rows;
use faultline_storage::{Result, from_millis, to_millis};
use faultline_storage::{Session, User, UserId};

pub(super) async fn create(pools: &Pools, session: &Session, token_hash: &str) -> Result<()> {
    let now = to_millis(Utc::now());
    // Expired sessions are swept whenever someone signs in.
    pools
        .write("DELETE FROM sessions WHERE expires < ?")
        .bind(now)
        .execute()
        .await?;
    pools
        .write(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created, expires) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(session.user_id.0)
        .bind(session.csrf_token.as_str())
        .bind(now)
        .bind(to_millis(session.expires))
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn get(pools: &Pools, token_hash: &str) -> Result<Option<(Session, User)>> {
    let Some(row) = pools
        .read(
            "SELECT s.csrf_token, s.expires AS session_expires, u.* \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires > ? AND u.is_active",
        )
        .bind(token_hash)
        .bind(to_millis(Utc::now()))
        .fetch_optional()
        .await?
    else {
        return Ok(None);
    };
    let user = rows::user(&row)?;
    let session = Session {
        user_id: user.id,
        csrf_token: row.get("csrf_token")?,
        expires: from_millis(row.get("session_expires")?),
    };
    Ok(Some((session, user)))
}

pub(super) async fn delete(pools: &Pools, token_hash: &str) -> Result<()> {
    pools
        .write("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn delete_others(
    pools: &Pools,
    user: UserId,
    keep_token_hash: &str,
) -> Result<()> {
    pools
        .write("DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?")
        .bind(user.0)
        .bind(keep_token_hash)
        .execute()
        .await?;
    Ok(())
}

pub(super) async fn setting(pools: &Pools, key: &str) -> Result<Option<String>> {
    pools
        .read("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_scalar()
        .await
}

pub(super) async fn set_setting(pools: &Pools, key: &str, value: &str) -> Result<()> {
    pools
        .write(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute()
        .await?;
    Ok(())
}
