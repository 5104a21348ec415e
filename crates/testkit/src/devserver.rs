//! `faultline devserver` as a child process: started on a port and a data
//! directory, waited for until it prints its DSN, and an API token minted
//! for its admin. The end-to-end tests and the benchmarks start it here,
//! so both read its start-up lines the same way.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The user `faultline devserver` creates on its first run.
pub const ADMIN_EMAIL: &str = "admin@faultline.local";
/// How long the devserver may take to print its DSN.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What the devserver printed when it came up.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub addr: SocketAddr,
    pub dsn: String,
    pub public_key: String,
    pub project_id: String,
    pub org_slug: String,
    pub project_slug: String,
    /// Printed on the first run, when the admin user is created.
    pub admin_password: Option<String>,
}

/// How to start one devserver.
pub struct DevserverCommand<'a> {
    pub binary: &'a Path,
    pub port: u16,
    pub data_dir: &'a Path,
    /// Added to the environment, e.g. `FAULTLINE_*` settings.
    pub env: &'a [(String, String)],
    /// Its stderr and stdout are appended here (stdout lines marked).
    pub log: &'a Path,
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl DevserverCommand<'_> {
    /// Starts the devserver and returns once it has printed its DSN.
    pub fn spawn(&self) -> io::Result<(Child, ServerInfo)> {
        // Both stdout (copied by a thread below) and stderr append to the
        // log; with separate file offsets they would overwrite each other.
        let append = || OpenOptions::new().create(true).append(true).open(self.log);
        let mut child = Command::new(self.binary)
            .arg("devserver")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(self.data_dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(append()?)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("starting {} devserver: {e}", self.binary.display()),
                )
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        match read_banner(stdout, append()?, self.port, self.log) {
            Ok(info) => Ok((child, info)),
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                Err(io::Error::new(
                    e.kind(),
                    format!("{e} (devserver exit: {status:?})"),
                ))
            }
        }
    }
}

/// Copies stdout into the log (so the pipe never fills up) on a thread, and
/// reads the start-up lines up to the DSN.
fn read_banner(
    stdout: std::process::ChildStdout,
    mut log: File,
    port: u16,
    log_path: &Path,
) -> io::Result<ServerInfo> {
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(log, "[stdout] {line}");
            // Once the DSN is read nobody listens; keep draining anyway.
            let _ = lines_tx.send(line);
        }
    });
    let mut info = ServerInfo {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        dsn: String::new(),
        public_key: String::new(),
        project_id: String::new(),
        org_slug: "faultline".into(),
        project_slug: "default".into(),
        admin_password: None,
    };
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines_rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the devserver printed no DSN within {} s (see {})",
                        STARTUP_TIMEOUT.as_secs(),
                        log_path.display()
                    ),
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the devserver closed its stdout before printing a DSN (see {})",
                        log_path.display()
                    ),
                ));
            }
        };
        if let Some(org) = line.strip_prefix("Organization:") {
            info.org_slug = org.trim().to_owned();
        } else if let Some(password) = line.strip_prefix("Admin password:") {
            info.admin_password = Some(password.trim().to_owned());
        } else if let Some(project) = line.strip_prefix("Project:") {
            // `Project:        default (id 1)`
            if let Some(slug) = project.split_whitespace().next() {
                info.project_slug = slug.to_owned();
            }
        } else if let Some(dsn) = line.strip_prefix("DSN:") {
            let dsn = dsn.trim();
            (info.addr, info.public_key, info.project_id) = parse_dsn(dsn)?;
            info.dsn = dsn.to_owned();
            return Ok(info);
        }
    }
}

/// `http://<public key>@<host>:<port>/<project id>` → (address, key, project id).
pub fn parse_dsn(dsn: &str) -> io::Result<(SocketAddr, String, String)> {
    let bad = |why: &str| invalid(format!("the DSN `{dsn}`: {why}"));
    let rest = dsn
        .strip_prefix("http://")
        .ok_or_else(|| bad("not http://"))?;
    let (key, rest) = rest.split_once('@').ok_or_else(|| bad("no public key"))?;
    let (host, project) = rest.split_once('/').ok_or_else(|| bad("no project id"))?;
    let addr = host
        .parse::<SocketAddr>()
        .map_err(|_| bad("the host is not an IP address and port"))?;
    let project = project.trim_end_matches('/');
    if key.is_empty() || project.is_empty() {
        return Err(bad("empty public key or project id"));
    }
    Ok((addr, key.to_owned(), project.to_owned()))
}

/// `faultline token create` for the admin user, finding the data with
/// `args` (`--data-dir DIR` or `--config FILE`): an API token.
pub fn mint_token(binary: &Path, args: &[&OsStr], env: &[(String, String)]) -> io::Result<String> {
    let out = Command::new(binary)
        .args(["token", "create", "--email", ADMIN_EMAIL])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "faultline token create failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(invalid(format!(
            "faultline token create printed `{token}`, not a token"
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_split_into_address_key_and_project() {
        let (addr, key, project) = parse_dsn("http://abc@127.0.0.1:9000/42").unwrap();
        assert_eq!(
            (addr.port(), key.as_str(), project.as_str()),
            (9000, "abc", "42")
        );
        assert!(parse_dsn("https://abc@127.0.0.1:9000/42").is_err());
        assert!(parse_dsn("http://@127.0.0.1:9000/42").is_err());
        assert!(parse_dsn("http://abc@localhost:9000/42").is_err());
    }
}
