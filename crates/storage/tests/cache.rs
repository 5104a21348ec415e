//! One test suite for every `Cache`: process memory and Redis (a real
//! server; `FAULTLINE_TEST_REDIS_URL`, which `cargo xtask test` provides).

use std::sync::Arc;
use std::time::Duration;

use faultline_storage::{Cache, MemoryCache};

async fn memory() -> Arc<dyn Cache> {
    Arc::new(MemoryCache::new())
}

async fn redis() -> Arc<dyn Cache> {
    let url = std::env::var("FAULTLINE_TEST_REDIS_URL")
        .expect("FAULTLINE_TEST_REDIS_URL is not set: run the tests with `cargo xtask test`");
    Arc::new(
        faultline_storage_redis::RedisCache::open(&url)
            .await
            .unwrap(),
    )
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory_backend {
            $(#[tokio::test] async fn $name() { super::$name(super::memory().await).await; })*
        }
        mod redis_backend {
            $(#[tokio::test] #[ignore = "needs Redis: run with cargo xtask test"] async fn $name() { super::$name(super::redis().await).await; })*
        }
    };
}

on_every_backend!(
    values_expire_and_can_be_deleted,
    counters_count_within_their_window
);

fn unique(name: &str) -> String {
    format!("test:{name}:{}", uuid::Uuid::new_v4().simple())
}

async fn values_expire_and_can_be_deleted(cache: Arc<dyn Cache>) {
    cache.ping().await.unwrap();
    let (a, b) = (unique("a"), unique("b"));
    assert_eq!(cache.get(&a).await.unwrap(), None);
    cache.set(&a, b"one", Duration::from_secs(1)).await.unwrap();
    cache
        .set(&b, b"two", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get(&a).await.unwrap().as_deref(), Some(&b"one"[..]));
    cache.delete(&b).await.unwrap();
    assert_eq!(cache.get(&b).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(cache.get(&a).await.unwrap(), None, "expired");
}

async fn counters_count_within_their_window(cache: Arc<dyn Cache>) {
    let key = unique("counter");
    let window = Duration::from_secs(1);
    assert_eq!(cache.incr(&key, 3, window).await.unwrap(), 3);
    assert_eq!(cache.incr(&key, 4, window).await.unwrap(), 7);
    assert_eq!(cache.incr(&key, -4, window).await.unwrap(), 3);
    // The window runs from the first increment; later ones do not extend it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        cache.incr(&key, 1, window).await.unwrap(),
        1,
        "a new window"
    );
}
