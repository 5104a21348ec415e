//! Admin commands: upgrade, createuser, token create.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use faultline_storage::Role;
use faultline_web::password::hash_password;

use crate::DataArgs;
use crate::settings::{EventsAccess, QueueUse, load, open_backends, open_clickhouse, open_kafka};
use faultline_storage::kafka::TopicSettings;

pub async fn upgrade(data: &DataArgs, noinput: bool) -> anyhow::Result<()> {
    let settings = load(data, true)?;
    // Opening a metadata store migrates it. ClickHouse is opened once,
    // below, to migrate; the backends only need a (lazy) handle on events.
    let backends =
        open_backends(&settings, EventsAccess::ViaQueryService, QueueUse::Unused).await?;
    let urls = &settings.config.backends;
    match (&settings.config.database_url, &urls.clickhouse_url) {
        (Some(_), _) | (_, Some(_)) => println!("Metadata migrations applied"),
        _ => println!("Migrations applied to {}", settings.data_dir.display()),
    }
    // On a fresh install only (no users yet): an install whose default
    // organization was renamed or deleted keeps it that way.
    if backends.meta.count_users().await? == 0 {
        crate::bootstrap::ensure_organization(&backends).await?;
    }
    if let Some(url) = &urls.clickhouse_url {
        let ran = open_clickhouse(url)
            .await?
            .migrate()
            .await
            .context("ClickHouse migrations failed")?;
        println!("ClickHouse: {ran} migrations applied");
    }
    if let Some(brokers) = &urls.kafka_brokers {
        let created = open_kafka(urls, brokers)
            .await?
            .create_topics(TopicSettings {
                partitions: urls.kafka_topic_partitions,
                replication: 1,
                retention: std::time::Duration::from_secs(
                    u64::from(urls.kafka_topic_retention_hours) * 3600,
                ),
            })
            .await
            .context("cannot create the Kafka topics")?;
        println!("Kafka: {} topics created", created.len());
    }
    if !noinput && std::io::stdin().is_terminal() && backends.meta.count_users().await? == 0 {
        let email = prompt("No users yet. Email for a superuser (empty to skip): ")?;
        if !email.is_empty() {
            let password = prompt("Password: ")?;
            create(&backends, &email, Some(password), true).await?;
        }
    }
    Ok(())
}

/// Deletes what is older than `days` days: events by their timestamp, and
/// issues whose last event is that old. Safe beside a running devserver
/// (writers wait while the files are compacted).
pub async fn cleanup(data: &DataArgs, days: u32) -> anyhow::Result<()> {
    let settings = load(data, false)?;
    let backends = open_backends(&settings, EventsAccess::Direct, QueueUse::Unused).await?;
    let before = dir_size(&settings.data_dir);
    let deleted = faultline_cron::apply_retention(&backends, days).await?;
    let (events, issues) = (deleted.events, deleted.issues);
    let after = dir_size(&settings.data_dir);
    println!(
        "Deleted {events} events and {issues} issues older than {days} days; {:.1} MB freed",
        before.saturating_sub(after) as f64 / 1e6
    );
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub async fn createuser(
    data: &DataArgs,
    email: &str,
    password: Option<String>,
    superuser: bool,
    no_input: bool,
) -> anyhow::Result<()> {
    let email = email.trim();
    if !email.contains('@') || email.len() > 254 {
        bail!("`{email}` is not an email address");
    }
    let password = match password {
        Some(p) => Some(p),
        None if no_input => None,
        None => Some(prompt("Password: ")?),
    };
    if password.as_deref().is_some_and(str::is_empty) {
        bail!("the password must not be empty");
    }
    let settings = load(data, false)?;
    let backends =
        open_backends(&settings, EventsAccess::ViaQueryService, QueueUse::Unused).await?;
    create(&backends, email, password, superuser).await
}

async fn create(
    backends: &faultline_storage::Backends,
    email: &str,
    password: Option<String>,
    superuser: bool,
) -> anyhow::Result<()> {
    let meta = backends.meta.as_ref();
    let hash = password.as_deref().map(hash_password);
    let user = meta
        .create_user(email, hash.as_deref(), superuser)
        .await
        .with_context(|| format!("cannot create user {email}"))?;
    // A single-organization install: new users join every organization.
    let role = if superuser { Role::Owner } else { Role::Member };
    for org in meta
        .organizations_for_user(&faultline_storage::User {
            is_superuser: true,
            ..user.clone()
        })
        .await?
    {
        meta.add_member(org.id, user.id, role).await?;
    }
    println!(
        "User created: {email}{}",
        if superuser { " (superuser)" } else { "" }
    );
    Ok(())
}

pub async fn create_token(data: &DataArgs, email: &str, scopes: &[String]) -> anyhow::Result<()> {
    let settings = load(data, false)?;
    let backends =
        open_backends(&settings, EventsAccess::ViaQueryService, QueueUse::Unused).await?;
    let user = backends
        .meta
        .user_by_email(email.trim())
        .await?
        .with_context(|| format!("no user with email {email}"))?;
    let scopes = if scopes.is_empty() {
        [
            "org:admin",
            "project:admin",
            "project:releases",
            "event:admin",
        ]
        .map(String::from)
        .to_vec()
    } else {
        if let Some(unknown) = scopes
            .iter()
            .find(|s| faultline_web::scopes::known(s).is_none())
        {
            anyhow::bail!(
                "unknown scope {unknown}; known scopes: {}",
                faultline_web::scopes::ALL.join(", ")
            );
        }
        scopes.to_vec()
    };
    let token = faultline_web::generate_token();
    backends
        .meta
        .create_api_token(
            user.id,
            &faultline_web::hash_token(&token),
            &scopes,
            Some("cli"),
        )
        .await?;
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
