//! config.yml mistakes as an operator meets them: a misspelt key stops
//! every command that reads the configuration, naming the key it most
//! likely meant, before any data is touched; a stray `FAULTLINE_*`
//! variable is a warning; and the devserver and `faultline run web` give
//! the same url-prefix when none is configured.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{BIN, faultline_cli, free_port};

/// A data directory whose config.yml has `extra` after a valid secret key.
fn data_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config.yml"),
        format!("system.secret-key: 'e2e-config-secret-key-of-at-least-32-chars'\n{extra}"),
    )
    .expect("config.yml");
    dir
}

/// Runs `faultline args…`; a command that should refuse to start but
/// serves instead is killed after a minute rather than hang the suite.
/// (succeeded, stderr).
fn run_briefly(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("FAULTLINE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faultline starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[test]
fn a_misspelt_key_stops_every_command_naming_the_key_it_meant() {
    let dir = data_dir("mail.hots: smtp.example.com\n");
    let d = dir.path().to_str().expect("UTF-8 temp path");
    let config = dir.path().join("config.yml");
    let c = config.to_str().expect("UTF-8 temp path");
    let expected = format!(
        "error: unknown config key `mail.hots` in {}; did you mean `mail.host`?",
        dir.path().join("config.yml").display()
    );
    let commands: [&[&str]; 8] = [
        &["devserver", "--bind", "127.0.0.1:0", "--data-dir", d],
        &["upgrade", "--noinput", "--data-dir", d],
        &[
            "createuser",
            "--email",
            "ops@example.com",
            "--password",
            "long-enough-password",
            "--no-input",
            "--data-dir",
            d,
        ],
        &["cleanup", "--days", "30", "--data-dir", d],
        &[
            "token",
            "create",
            "--email",
            "ops@example.com",
            "--data-dir",
            d,
        ],
        &["config", "check", "--data-dir", d],
        &["run", "web", "--bind", "127.0.0.1:0", "--config", c],
        &["run", "relay", "--bind", "127.0.0.1:0", "--config", c],
    ];
    for args in commands {
        let (ok, err) = run_briefly(args, &[]);
        assert!(!ok, "{args:?} started with a misspelt key");
        assert!(err.lines().any(|l| l == expected), "{args:?}: {err}");
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["config.yml"], "no store was opened");
}

#[test]
fn a_stray_variable_is_a_warning_and_a_bad_one_names_itself() {
    let dir = data_dir("");
    let d = dir.path().to_str().expect("UTF-8 temp path");
    let (ok, err) = run_briefly(
        &["config", "check", "--data-dir", d],
        &[("FAULTLINE_MAIL_HOTS", "smtp.example.com")],
    );
    assert!(ok, "{err}");
    assert_eq!(
        err,
        "warning: environment variable FAULTLINE_MAIL_HOTS is not a config key and is ignored; \
         did you mean FAULTLINE_MAIL_HOST (`mail.host`)?"
    );

    let (ok, err) = run_briefly(
        &["config", "check", "--data-dir", d],
        &[("FAULTLINE_MAIL_PORT", "smtp")],
    );
    assert!(!ok);
    assert!(
        err.starts_with("error: config key `mail.port`: `smtp` is not valid")
            && err.ends_with("(from FAULTLINE_MAIL_PORT)"),
        "{err}"
    );
}

/// A server process whose output goes to a file in `dir`, stopped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str], dir: &Path, log: &str) -> Server {
    let log = std::fs::File::create(dir.join(log)).expect("log file");
    let child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("FAULTLINE_SYSTEM_URL_PREFIX")
        .env_remove("FAULTLINE_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("faultline starts");
    Server(child)
}

/// The default project's public DSN from the API on `port`, once it answers.
fn public_dsn(port: u16, token: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/api/0/projects/faultline/default/keys/");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = agent
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .call();
        if let Ok(mut resp) = answer
            && resp.status() == 200
        {
            let keys: serde_json::Value =
                serde_json::from_str(&resp.body_mut().read_to_string().expect("body"))
                    .expect("JSON");
            return keys[0]["dsn"]["public"]
                .as_str()
                .expect("a public DSN")
                .to_owned();
        }
        assert!(Instant::now() < deadline, "{url} did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Bound to every interface and with no `system.url-prefix`, both say
/// 127.0.0.1 and their own port: the default comes from one function.
#[test]
fn devserver_and_run_web_agree_on_the_default_url_prefix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ok, out, err) = faultline_cli(&["upgrade", "--noinput"], dir.path());
    assert!(ok, "{out} {err}");
    let (ok, out, err) = faultline_cli(
        &[
            "createuser",
            "--email",
            "ops@example.com",
            "--password",
            "long-enough-password",
            "--superuser",
            "--no-input",
        ],
        dir.path(),
    );
    assert!(ok, "{out} {err}");
    let (ok, token, err) = faultline_cli(
        &["token", "create", "--email", "ops@example.com"],
        dir.path(),
    );
    assert!(ok, "{err}");

    let port = free_port();
    let bind = format!("0.0.0.0:{port}");
    let web = serve(&["run", "web", "--bind", &bind], dir.path(), "web.log");
    let from_web = public_dsn(port, &token);
    drop(web);

    let port_dev = free_port();
    let bind = format!("0.0.0.0:{port_dev}");
    let devserver = serve(&["devserver", "--bind", &bind], dir.path(), "devserver.log");
    let from_devserver = public_dsn(port_dev, &token);
    drop(devserver);

    assert!(
        from_web.contains(&format!("@127.0.0.1:{port}/")),
        "{from_web}"
    );
    assert_eq!(
        from_devserver,
        from_web.replace(&format!(":{port}/"), &format!(":{port_dev}/")),
        "the devserver and run web differ"
    );
}
