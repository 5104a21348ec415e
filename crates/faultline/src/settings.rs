//! Finds the configuration and the stored data the same way for every
//! command: `--config FILE` / `FAULTLINE_CONFIG`, or `--data-dir DIR`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use faultline_config::{Config, RawConfig};
use faultline_storage_sql::sqlite;

use crate::DataArgs;

pub const CONFIG_FILE: &str = "config.yml";

pub struct Settings {
    pub config: Config,
    /// The config.yml it came from.
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    /// Whether the data directory is Faultline's alone (`--data-dir`,
    /// `storage.dir`, the default), rather than the directory the config
    /// file happens to be in: only then is the directory itself made
    /// private, not just Faultline's files in it.
    pub data_dir_is_own: bool,
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
/// config.yml with a fresh secret key (the devserver's first run). An
/// unknown key or a bad value in the file stops here, for every command;
/// an unknown `FAULTLINE_*` variable is only warned about (the environment
/// is shared with other programs).
pub fn load(args: &DataArgs, create: bool) -> anyhow::Result<Settings> {
    let config_path = match &args.config {
        Some(path) => path.clone(),
        None => {
            let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
            prepare_data_dir(&dir, create)?;
            dir.join(CONFIG_FILE)
        }
    };
    let mut raw = RawConfig::from_file(&config_path)?;
    // A variable that is not Unicode cannot be a setting of ours.
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    for unknown in raw.apply_env(vars) {
        warn(&unknown.to_string());
    }
    let config = Config::from_raw(&raw)?;
    let (data_dir, data_dir_is_own) = match &args.config {
        Some(path) => match config.storage.dir.clone().or_else(|| args.data_dir.clone()) {
            Some(dir) => (dir, true),
            None => (path.parent().unwrap_or(Path::new(".")).to_path_buf(), false),
        },
        None => (args.data_dir.clone().unwrap_or_else(default_data_dir), true),
    };
    Ok(Settings {
        config,
        config_path,
        data_dir,
        data_dir_is_own,
    })
}

/// A data directory with its config.yml: created with a fresh secret key
/// when `create` (else its absence is an error saying what to run), made
/// private when it exists from before data directories were.
fn prepare_data_dir(dir: &Path, create: bool) -> anyhow::Result<()> {
    let config_path = dir.join(CONFIG_FILE);
    if config_path.exists() {
        return make_private_dir(dir, true);
    }
    if !create {
        bail!(
            "no Faultline data in {} (start `faultline devserver --data-dir {}` first, or pass --config)",
            dir.display(),
            dir.display()
        );
    }
    make_private_dir(dir, true)?;
    let text = format!(
        "# Faultline devserver configuration; every key can be overridden by FAULTLINE_* variables.\n\
         system.secret-key: '{}'\n",
        generate_secret_key()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(&config_path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", config_path.display()))
}

/// A warning about the configuration: in the log when a service has set
/// one up, else on stderr (the admin commands log nothing).
fn warn(message: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!("{message}");
    } else {
        eprintln!("warning: {message}");
    }
}

/// Mode of the data directory: its files hold DSN keys, password and token
/// hashes, the secret key and every event, for Faultline's user alone.
const PRIVATE_DIR: u32 = 0o700;
/// Mode of each file Faultline keeps there.
const PRIVATE_FILE: u32 = 0o600;

/// Whether `name` is a file Faultline keeps in a data directory: config.yml
/// and each embedded store with SQLite's companions (-wal and -shm hold
/// the same data as the store; -journal while a transaction runs).
fn is_faultline_file(name: &str) -> bool {
    name == CONFIG_FILE
        || [sqlite::META_FILE, sqlite::EVENTS_FILE, sqlite::QUEUE_FILE]
            .iter()
            .any(|store| {
                name.strip_prefix(store)
                    .is_some_and(|rest| matches!(rest, "" | "-wal" | "-shm" | "-journal"))
            })
}

/// Creates `dir` as [`PRIVATE_DIR`] if missing (and makes an existing one so
/// when it is Faultline's own), and takes every permission but the owner's
/// from Faultline's files in it, so an install from before this rule is
/// tightened when it next starts. What cannot be changed (another user's
/// file, a read-only mount) is logged, not fatal: the data is still there
/// to serve, and the warning says what to fix.
pub fn make_private_dir(dir: &Path, own: bool) -> anyhow::Result<()> {
    let cannot = || format!("cannot create data directory {}", dir.display());
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => bail!("{} is not a directory", dir.display()),
        Ok(meta) => {
            if own && meta.permissions().mode() & 0o777 != PRIVATE_DIR {
                restrict(dir, PRIVATE_DIR);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR)
            .create(dir)
            .with_context(cannot)?,
        Err(e) => return Err(e).with_context(cannot),
    }
    for entry in std::fs::read_dir(dir).with_context(cannot)? {
        let entry = entry.with_context(cannot)?;
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_faultline_file) {
            continue;
        }
        let meta = entry.metadata().with_context(cannot)?;
        let mode = meta.permissions().mode();
        if meta.is_file() && mode & 0o077 != 0 {
            restrict(&entry.path(), mode & 0o700);
        }
    }
    Ok(())
}

fn restrict(path: &Path, mode: u32) {
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        tracing::warn!(
            path = %path.display(),
            error = %e,
            "cannot make this private (mode {mode:o}): other users may read it; give it to the user Faultline runs as"
        );
    }
}

/// Creates an embedded store's file as [`PRIVATE_FILE`] before SQLite
/// opens it: SQLite gives its -wal and -shm files the mode of the store.
pub fn create_private_file(path: &Path) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(PRIVATE_FILE)
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot create {}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faultline_files_are_the_config_the_stores_and_their_companions() {
        for ours in [
            "config.yml",
            "meta.sqlite",
            "meta.sqlite-wal",
            "meta.sqlite-shm",
            "events.sqlite-journal",
            "queue.sqlite",
        ] {
            assert!(is_faultline_file(ours), "{ours}");
        }
        for theirs in [
            "notes.txt",
            "meta.sqlite.bak",
            "config.yml~",
            "other.sqlite",
        ] {
            assert!(!is_faultline_file(theirs), "{theirs}");
        }
    }
}
