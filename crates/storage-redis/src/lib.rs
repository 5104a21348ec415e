//! The cache on Redis (deadpool-redis), shared by every relay of the
//! production topology. Keys are namespaced `faultline:`.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Config, Pool, Runtime};

use faultline_storage::Cache;
use faultline_storage::{Result, StorageError};

const NAMESPACE: &str = "faultline:";

pub struct RedisCache {
    pool: Pool,
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("Redis: {e}"))
}

fn seconds(ttl: Duration) -> u64 {
    ttl.as_secs().max(1)
}

impl RedisCache {
    /// Connects to `url` (`redis://host:6379[/db]`) and checks it answers.
    pub async fn open(url: &str) -> Result<Self> {
        let mut config = Config::from_url(url);
        config.pool = Some(deadpool_redis::PoolConfig {
            max_size: 16,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(Duration::from_secs(2)),
                create: Some(Duration::from_secs(2)),
                recycle: Some(Duration::from_secs(2)),
            },
            ..Default::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(unavailable)?;
        let watched = pool.clone();
        faultline_storage::metrics::watch_pool("redis", move || {
            let status = watched.status();
            faultline_storage::metrics::PoolState {
                open: u32::try_from(status.size).unwrap_or(u32::MAX),
                idle: u32::try_from(status.available).unwrap_or(0),
                max: u32::try_from(status.max_size).unwrap_or(u32::MAX),
            }
        });
        let cache = RedisCache { pool };
        cache.ping().await?;
        Ok(cache)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection> {
        self.pool.get().await.map_err(unavailable)
    }
}

fn key(key: &str) -> String {
    format!("{NAMESPACE}{key}")
}

#[async_trait]
impl Cache for RedisCache {
    async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, k: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.conn().await?;
        conn.get(key(k)).await.map_err(unavailable)
    }

    async fn set(&self, k: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let mut conn = self.conn().await?;
        conn.set_ex::<_, _, ()>(key(k), value, seconds(ttl))
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, k: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        conn.del::<_, ()>(key(k)).await.map_err(unavailable)
    }

    async fn incr(&self, k: &str, n: i64, ttl: Duration) -> Result<i64> {
        let mut conn = self.conn().await?;
        // The expiry is set only when the counter is created (NX), so a
        // window ends when it began plus `ttl`, however busy it is.
        let (count,): (i64,) = redis::pipe()
            .atomic()
            .incr(key(k), n)
            .cmd("EXPIRE")
            .arg(key(k))
            .arg(seconds(ttl))
            .arg("NX")
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }
}
