//! The Docker Compose install (compose.yaml, install.sh, deploy/), checked
//! without a Docker engine: the files are valid for the tools that read
//! them, agree with each other, and install.sh's checks refuse what they
//! should while a dry run changes nothing. Needs `shellcheck` and Debian's
//! `docker-compose` (1.29) on the PATH.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_yaml::Value;

use crate::harness::workspace_root;

/// Runs a tool the tests need, failing with how to install it if missing.
fn run_tool(cmd: &mut Command, package: &str) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {} ({e}): install it with `apt-get install {package}`",
            cmd.get_program().to_string_lossy()
        )
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &str) -> String {
    let full = workspace_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// compose.yaml with its `<<` merge keys applied, as Compose reads it.
fn compose() -> Value {
    let mut doc: Value = serde_yaml::from_str(&read("compose.yaml")).expect("compose.yaml is YAML");
    doc.apply_merge().expect("compose.yaml's merge keys apply");
    doc
}

fn services(doc: &Value) -> BTreeMap<String, Value> {
    doc["services"]
        .as_mapping()
        .expect("compose.yaml has services")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("service names are strings").to_owned(),
                v.clone(),
            )
        })
        .collect()
}

/// An integer assignment `NAME=123` at the start of a line of install.sh.
fn install_constant(name: &str) -> u64 {
    read("install.sh")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("install.sh sets {name}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name} in install.sh is a number: {e}"))
}

/// A Compose memory size (`1g`, `1536m`, `512mb`, or bytes) in bytes.
fn bytes(size: &Value) -> u64 {
    if let Some(n) = size.as_u64() {
        return n;
    }
    let s = size
        .as_str()
        .expect("mem_limit is a string or a number")
        .to_ascii_lowercase();
    let s = s
        .strip_suffix('b')
        .filter(|s| s.ends_with(['k', 'm', 'g']))
        .unwrap_or(&s);
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 'b'),
    };
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|e| panic!("mem_limit `{s}`: {e}"));
    n * match unit {
        'b' => 1,
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        other => panic!("mem_limit `{s}`: unknown unit `{other}`"),
    }
}

/// A scratch directory holding copies of the named repository files.
fn scratch_copy(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in files {
        std::fs::copy(workspace_root().join(f), dir.path().join(f)).expect("copy");
    }
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// install.sh in `dir` with every probe replaced by the given RAM and good
/// values, with no terminal on stdin.
fn dry_run(dir: &Path, mem_mb: u64) -> Output {
    run_tool(
        Command::new("bash")
            .arg(dir.join("install.sh"))
            .arg("--dry-run")
            .current_dir(dir)
            .env("FAULTLINE_INSTALL_MEM_MB", mem_mb.to_string())
            .env("FAULTLINE_INSTALL_CPUS", "4")
            .env("FAULTLINE_INSTALL_DISK_GB", "100")
            .env("FAULTLINE_INSTALL_DOCKER_VERSION", "24.0.7")
            .env("FAULTLINE_INSTALL_COMPOSE_VERSION", "2.29.1"),
        "bash",
    )
}

#[test]
#[ignore = "needs shellcheck: run with cargo xtask test"]
fn deploy_scripts_pass_shellcheck() {
    let root = workspace_root();
    let out = run_tool(
        Command::new("shellcheck")
            .arg("install.sh")
            .arg("deploy/docker/healthcheck.sh")
            .current_dir(&root),
        "shellcheck",
    );
    assert!(
        out.status.success(),
        "shellcheck found problems:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
#[ignore = "needs docker-compose 1.29: run with cargo xtask test"]
fn deploy_compose_file_is_valid_for_docker_compose_1_29() {
    // A copy, so that a developer's own .env never gets in the way: compose
    // needs one, for `env_file` and the required secrets.
    let dir = scratch_copy(&["compose.yaml"]);
    let compose_config = |env: &str| {
        std::fs::write(dir.path().join(".env"), env).expect("write .env");
        run_tool(
            Command::new("docker-compose")
                .args(["-f", "compose.yaml", "config", "-q"])
                .current_dir(dir.path())
                .env_remove("FAULTLINE_SYSTEM_SECRET_KEY")
                .env_remove("POSTGRES_PASSWORD")
                .env_remove("CLICKHOUSE_PASSWORD")
                .env_remove("GRAFANA_ADMIN_PASSWORD")
                .env_remove("COMPOSE_PROJECT_NAME"),
            "docker-compose",
        )
    };

    let env = "COMPOSE_PROJECT_NAME=faultline\n\
         FAULTLINE_SYSTEM_SECRET_KEY=0123456789abcdef0123456789abcdef0123456789abcdef01\n\
         POSTGRES_PASSWORD=0123456789abcdef0123456789abcdef\n\
         CLICKHOUSE_PASSWORD=fedcba9876543210fedcba9876543210\n\
         GRAFANA_ADMIN_PASSWORD=00112233445566778899aabb\n";
    let out = compose_config(env);
    assert!(
        out.status.success(),
        "docker-compose config: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // The monitoring services as compose runs them: their configuration
    // and provisioning mounted, Grafana's password from .env, no anonymous
    // access, published on the loopback only.
    let out = run_tool(
        Command::new("docker-compose")
            .args(["-f", "compose.yaml", "config"])
            .current_dir(dir.path())
            .env_remove("GRAFANA_ADMIN_PASSWORD"),
        "docker-compose",
    );
    let config: Value = serde_yaml::from_slice(&out.stdout).expect("docker-compose config is YAML");
    let service = |name: &str| {
        serde_yaml::to_string(&config["services"][name]).expect("a service serialises")
    };
    let prometheus = service("prometheus");
    assert!(
        mounts(&prometheus, "deploy/prometheus:/etc/prometheus")
            && prometheus.contains("--config.file=/etc/prometheus/prometheus.yml"),
        "prometheus lacks its configuration:\n{prometheus}"
    );
    let grafana = service("grafana");
    for mount in [
        "deploy/grafana/provisioning:/etc/grafana/provisioning",
        "deploy/grafana/dashboards:/var/lib/grafana/dashboards",
    ] {
        assert!(mounts(&grafana, mount), "grafana lacks {mount}:\n{grafana}");
    }
    for setting in [
        "GF_SECURITY_ADMIN_PASSWORD: 00112233445566778899aabb",
        "GF_AUTH_ANONYMOUS_ENABLED: 'false'",
        "127.0.0.1",
    ] {
        assert!(
            grafana.contains(setting),
            "grafana lacks {setting}:\n{grafana}"
        );
    }

    // Without the secrets install.sh writes, compose says to run it.
    let out = compose_config("COMPOSE_PROJECT_NAME=faultline\n");
    let err = text(&out.stderr);
    assert!(!out.status.success(), "compose accepted missing secrets");
    assert!(err.contains("install.sh"), "{err}");
}

/// Whether `service` (as YAML) mounts `source:target`: in the short syntax
/// docker-compose 1.29 prints (`/abs/…/deploy/x:/etc/x:ro`) or the long one
/// of Compose v2 (`source: /abs/…/deploy/x`, `target: /etc/x`).
fn mounts(service: &str, mount: &str) -> bool {
    let (source, target) = mount.split_once(':').expect("source:target");
    service.contains(mount)
        || (service.contains(&format!("target: {target}")) && service.contains(source))
}

#[test]
fn deploy_install_dry_run_refuses_too_little_ram_and_changes_nothing() {
    let min = install_constant("MIN_RAM_MB");
    let dir = scratch_copy(&["install.sh", "compose.yaml"]);
    let before = listing(dir.path());

    let out = dry_run(dir.path(), min - 1);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "too little RAM was accepted:\n{all}");
    let refusal = all
        .lines()
        .find(|l| l.starts_with("error:") && l.contains("RAM"))
        .unwrap_or_else(|| panic!("no error line about RAM:\n{all}"));
    assert!(refusal.contains(&format!("{} MB", min - 1)), "{refusal}");
    assert!(
        refusal.contains(&min.to_string()),
        "names the minimum: {refusal}"
    );

    let out = dry_run(dir.path(), min);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "the dry run failed:\n{all}");
    assert!(
        all.contains("would run: docker compose run --rm -T --no-deps web upgrade --noinput"),
        "{all}"
    );
    assert!(
        all.contains("FAULTLINE_SYSTEM_SECRET_KEY"),
        "plans the secret key:\n{all}"
    );
    // Without a terminal and without --email/--password, no user, and how.
    assert!(all.contains("createuser"), "{all}");
    assert_eq!(listing(dir.path()), before, "a dry run wrote files");
}

#[test]
fn deploy_memory_limits_sum_to_install_minimum() {
    let doc = compose();
    let mut total = 0;
    for (name, service) in services(&doc) {
        let limit = service
            .get("mem_limit")
            .unwrap_or_else(|| panic!("service {name} has no mem_limit"));
        total += bytes(limit);
    }
    let total_mb = total.div_ceil(1 << 20);
    let min = install_constant("MIN_RAM_MB");
    assert_eq!(
        total_mb, min,
        "compose.yaml's mem_limits vs install.sh's MIN_RAM_MB"
    );
    // A 4 GB machine installs the stack (its kernel reports a little less).
    assert!(
        min <= 3328,
        "the memory floor is {min} MB; a 4 GB machine needs it at most 3328 (its kernel and Docker need the rest)"
    );
    let recommended = install_constant("RECOMMENDED_RAM_MB");
    assert!(recommended > min && recommended <= 4096, "{recommended}");
}

#[test]
fn deploy_every_service_has_healthcheck_and_restart_policy() {
    let doc = compose();
    let services = services(&doc);
    for name in [
        "kafka",
        "clickhouse",
        "postgres",
        "redis",
        "relay",
        "ingest-consumer",
        "query",
        "web",
        "cron",
        "nginx",
    ] {
        assert!(
            services.contains_key(name),
            "compose.yaml has no service {name}"
        );
    }
    for (name, service) in &services {
        let check = &service["healthcheck"];
        assert!(
            check["test"].as_sequence().is_some_and(|t| !t.is_empty()),
            "{name} has no healthcheck test"
        );
        assert_ne!(
            check["disable"],
            Value::Bool(true),
            "{name}'s healthcheck is disabled"
        );
        assert_eq!(
            service["restart"].as_str(),
            Some("unless-stopped"),
            "{name}'s restart policy"
        );
    }
}

/// The stages of a Dockerfile: (`FROM …` line, the instructions after it),
/// comments and blank lines left out.
fn stages(dockerfile: &str) -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for line in dockerfile
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        match stages.last_mut() {
            Some((_, body)) if !line.starts_with("FROM ") => body.push(line.to_owned()),
            _ => stages.push((line.to_owned(), Vec::new())),
        }
    }
    stages
}

/// The Faultline images: faultline-<service>, each built from its own
/// target of the one deploy/docker/Dockerfile (one builder stage, one
/// runtime stage, one `FROM runtime AS <service>` per service), each
/// checked on the port its command binds.
#[test]
fn deploy_faultline_images_are_targets_of_one_dockerfile() {
    const DOCKERFILE: &str = "deploy/docker/Dockerfile";
    let stages = stages(&read(DOCKERFILE));
    let from = |line: &str| stages.iter().filter(|(f, _)| f.as_str() == line).count();
    assert_eq!(
        from("FROM rust:1.95-bookworm AS builder"),
        1,
        "one builder stage"
    );
    assert_eq!(
        from("FROM debian:bookworm-slim AS runtime"),
        1,
        "one runtime stage"
    );
    let targets: BTreeMap<String, &Vec<String>> = stages
        .iter()
        .filter_map(|(f, body)| Some((f.strip_prefix("FROM runtime AS ")?.to_owned(), body)))
        .collect();
    assert_eq!(
        stages.len(),
        targets.len() + 2,
        "every other stage is a service target on the runtime"
    );

    let doc = compose();
    let mut built = Vec::new();
    for (name, service) in services(&doc) {
        if service.get("build").is_none() {
            continue;
        }
        built.push(name.clone());
        assert_eq!(
            service["image"].as_str(),
            Some(format!("faultline-{name}").as_str())
        );
        let build = &service["build"];
        assert_eq!(
            build["context"].as_str(),
            Some("."),
            "{name}'s build context"
        );
        assert_eq!(
            build["dockerfile"].as_str(),
            Some(DOCKERFILE),
            "{name}'s Dockerfile"
        );
        assert_eq!(
            build["target"].as_str(),
            Some(name.as_str()),
            "{name}'s target"
        );
        let body = targets
            .get(&name)
            .unwrap_or_else(|| panic!("{DOCKERFILE} has no target {name}"));

        let cmd = body
            .iter()
            .find(|l| l.starts_with("CMD "))
            .unwrap_or_else(|| panic!("target {name} has a CMD"));
        assert!(cmd.contains(&format!("\"run\", \"{name}\"")), "{cmd}");
        let port = cmd
            .split("0.0.0.0:")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("target {name}: the CMD binds 0.0.0.0: {cmd}"));
        let test: Vec<&str> = service["healthcheck"]["test"]
            .as_sequence()
            .expect("healthcheck test")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            test,
            ["CMD", "faultline-healthcheck", port],
            "{name}'s healthcheck"
        );
        let exposed = body
            .iter()
            .find_map(|l| l.strip_prefix("EXPOSE "))
            .unwrap_or_else(|| panic!("target {name} has an EXPOSE"));
        assert!(
            exposed.split_whitespace().any(|p| p == port),
            "target {name} exposes {port}"
        );
    }
    assert_eq!(
        built,
        targets.keys().cloned().collect::<Vec<_>>(),
        "one compose service per target"
    );
    assert_eq!(built.len(), 7, "seven Faultline images: {built:?}");
}

#[test]
fn deploy_install_help_mentions_dry_run() {
    let out = run_tool(
        Command::new("bash")
            .arg(workspace_root().join("install.sh"))
            .arg("--help"),
        "bash",
    );
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("--dry-run"), "{help}");
    assert!(
        help.contains(&install_constant("MIN_RAM_MB").to_string()),
        "{help}"
    );
}
