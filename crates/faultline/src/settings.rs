//! Finds the configuration and the stored data the same way for every
//! command: `--config FILE` / `FAULTLINE_CONFIG`, or `--data-dir DIR`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use faultline_config::{Config, RawConfig};
use faultline_storage::Backends;

use crate::DataArgs;

pub const CONFIG_FILE: &str = "config.yml";

pub struct Settings {
    pub config: Config,
    pub data_dir: PathBuf,
}

/// The default data directory of a devserver.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".faultline")
}

/// Loads config (file, then `FAULTLINE_*` variables) and decides where the
/// embedded data lives. `create` makes a missing data directory and its
/// config.yml with a fresh secret key (the devserver's first run).
pub fn load(args: &DataArgs, create: bool) -> anyhow::Result<Settings> {
    let (mut raw, data_dir) = match (&args.config, &args.data_dir) {
        (Some(path), _) => {
            let mut raw = RawConfig::from_file(path)?;
            raw.apply_env(std::env::vars());
            let dir = raw
                .get("storage.dir")
                .map(PathBuf::from)
                .or_else(|| args.data_dir.clone())
                .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
            (raw, dir)
        }
        (None, dir) => {
            let dir = dir.clone().unwrap_or_else(default_data_dir);
            let config_path = dir.join(CONFIG_FILE);
            if !config_path.exists() {
                if !create {
                    bail!(
                        "no Faultline data in {} (start `faultline devserver --data-dir {}` first, or pass --config)",
                        dir.display(),
                        dir.display()
                    );
                }
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create data directory {}", dir.display()))?;
                let text = format!(
                    "# Faultline devserver configuration; every key can be overridden by FAULTLINE_* variables.\n\
                     system.secret-key: '{}'\n",
                    generate_secret_key()
                );
                std::fs::write(&config_path, text)
                    .with_context(|| format!("cannot write {}", config_path.display()))?;
            }
            (RawConfig::from_file(&config_path)?, dir)
        }
    };
    raw.apply_env(std::env::vars());
    let config = Config::from_raw(&raw)?;
    Ok(Settings { config, data_dir })
}

pub async fn open_backends(settings: &Settings) -> anyhow::Result<Backends> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let mut backends = faultline_storage::sqlite::open_embedded(&settings.data_dir)
        .await
        .with_context(|| format!("cannot open the data in {}", settings.data_dir.display()))?;
    // Metadata on PostgreSQL when `database.url` names a server; the queue
    // and events stay embedded until their production backends exist.
    if let Some(url) = settings
        .config
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
    {
        let meta = faultline_storage::postgres::PgMetaStore::open(url)
            .await
            .with_context(|| {
                format!("cannot reach PostgreSQL at database.url ({})", redact(url))
            })?;
        backends.meta = std::sync::Arc::new(meta);
    }
    Ok(backends)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) => {
            let userinfo = &url[scheme.len() + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at - scheme.len() - 3..])
        }
        _ => url.to_owned(),
    }
}

/// 50 characters from a URL-safe alphabet, as Sentry's generate-secret-key.
pub fn generate_secret_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)";
    let mut out = String::with_capacity(50);
    while out.len() < 50 {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == 50 {
                break;
            }
            out.push(ALPHABET[*byte as usize % ALPHABET.len()] as char);
        }
    }
    out
}
