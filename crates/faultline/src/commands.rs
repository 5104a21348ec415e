//! Admin commands: upgrade, createuser, token create.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use faultline_web::ops::{tokens, tokens::TokenScopes, users};

use crate::DataArgs;
use crate::open::{EventsAccess, Stores, open_clickhouse, open_kafka};
use crate::settings::load;
use faultline_storage_kafka::TopicSettings;

pub async fn upgrade(data: &DataArgs, noinput: bool) -> anyhow::Result<()> {
    let settings = load(data, true)?;
    // Opening a store migrates it: the metadata store, and the embedded
    // event store when events are not in ClickHouse (which is migrated
    // below, as Kafka's topics are created below).
    let stores = Stores::new(&settings, EventsAccess::Direct);
    let meta = stores.meta().await?;
    let config = &settings.config;
    if config.clickhouse.url.is_none() {
        stores.event_store().await?;
    }
    match (&config.database.url, &config.clickhouse.url) {
        (Some(_), _) | (_, Some(_)) => println!("Metadata migrations applied"),
        _ => println!("Migrations applied to {}", settings.data_dir.display()),
    }
    // On a fresh install only (no users yet): an install whose default
    // organization was renamed or deleted keeps it that way.
    if meta.count_users().await? == 0 {
        crate::bootstrap::ensure_organization(meta.as_ref(), stores.alerts().await?.as_ref())
            .await?;
    }
    if let Some(url) = &config.clickhouse.url {
        let ran = open_clickhouse(url)
            .await?
            .migrate()
            .await
            .context("ClickHouse migrations failed")?;
        println!("ClickHouse: {ran} migrations applied");
    }
    if let Some(brokers) = &config.kafka.brokers {
        let created = open_kafka(&config.kafka, brokers)
            .await?
            .create_topics(TopicSettings {
                partitions: config.kafka.topic_partitions,
                replication: config.kafka.topic_replication_factor,
                retention: config.kafka.topic_retention,
            })
            .await
            .context("cannot create the Kafka topics")?;
        println!("Kafka: {} topics created", created.len());
    }
    if !noinput && std::io::stdin().is_terminal() && meta.count_users().await? == 0 {
        let email = prompt("No users yet. Email for a superuser (empty to skip): ")?;
        if !email.is_empty() {
            let password = prompt("Password: ")?;
            create(meta.as_ref(), new_account(&email, Some(&password), true)?).await?;
        }
    }
    Ok(())
}

/// Deletes what is older than `days` days: events by their timestamp, and
/// issues whose last event is that old, then gives the space back. Safe
/// beside a running devserver: the freed pages are cut off the files while
/// it keeps them open.
pub async fn cleanup(data: &DataArgs, days: u32) -> anyhow::Result<()> {
    let settings = load(data, false)?;
    let open = Stores::new(&settings, EventsAccess::Direct);
    let stores = faultline_cron::Stores {
        meta: open.meta().await?,
        events: open.event_store().await?,
        artifacts: open.artifacts().await?,
        blobs: open.blobs()?,
    };
    let deleted = faultline_cron::apply_retention(&stores, days).await?;
    let (events, issues, freed) = (deleted.events, deleted.issues, deleted.freed);
    let uploads = match (deleted.bundles, deleted.chunks) {
        (0, 0) => String::new(),
        (bundles, chunks) => {
            format!(" and {bundles} unused artifact bundles ({chunks} abandoned upload chunks)")
        }
    };
    let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    println!(
        "Deleted {events} events and {issues} issues older than {days} days{uploads}; {} freed \
         (event store {}, metadata {}, files {})",
        mb(freed.total()),
        mb(freed.events),
        mb(freed.metadata),
        mb(freed.files)
    );
    Ok(())
}

pub async fn createuser(
    data: &DataArgs,
    email: &str,
    password: Option<String>,
    superuser: bool,
    no_input: bool,
) -> anyhow::Result<()> {
    let password = match password {
        Some(p) => Some(p),
        None if no_input => None,
        None => Some(prompt("Password: ")?),
    };
    // The dashboard's rules for emails and passwords, checked before any
    // store is opened.
    let account = new_account(email, password.as_deref(), superuser)?;
    let settings = load(data, false)?;
    let meta = Stores::new(&settings, EventsAccess::ViaQueryService)
        .meta()
        .await?;
    create(meta.as_ref(), account).await
}

fn new_account(
    email: &str,
    password: Option<&str>,
    superuser: bool,
) -> anyhow::Result<users::NewAccount> {
    let account = users::NewAccount::new(email, password)
        .with_context(|| format!("cannot create user {}", email.trim()))?;
    Ok(if superuser {
        account.superuser()
    } else {
        account
    })
}

async fn create(
    meta: &dyn faultline_storage::MetaStore,
    account: users::NewAccount,
) -> anyhow::Result<()> {
    let email = account.email().to_owned();
    let user = users::create(meta, account)
        .await
        .with_context(|| format!("cannot create user {email}"))?;
    users::join_every_organization(meta, &user).await?;
    println!(
        "User created: {email}{}",
        if user.is_superuser {
            " (superuser)"
        } else {
            ""
        }
    );
    Ok(())
}

pub async fn create_token(data: &DataArgs, email: &str, scopes: &[String]) -> anyhow::Result<()> {
    // Unknown scopes are refused before any store is opened.
    let scopes = if scopes.is_empty() {
        TokenScopes::parse(faultline_web::scopes::CLI_DEFAULT_TOKEN.iter().copied())
    } else {
        TokenScopes::parse(scopes.iter().map(String::as_str))
    }?;
    let settings = load(data, false)?;
    let meta = Stores::new(&settings, EventsAccess::ViaQueryService)
        .meta()
        .await?;
    let email = faultline_web::names::email(email)
        .with_context(|| format!("no user with email {}", email.trim()))?;
    let user = meta
        .user_by_email(&email)
        .await?
        .with_context(|| format!("no user with email {email}"))?;
    let token = tokens::create(meta.as_ref(), &user, "cli", &scopes).await?;
    println!("{token}");
    Ok(())
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}
