//! Releases and deploys with the real `sentry-cli` (the test venv's pinned
//! binary), on the devserver and the production topology: `releases new`,
//! `finalize`, `list`, `info`, `set-commits --local` in a git repository,
//! `archive`, `restore`, `deploys new` and `list`, `delete`, each checked
//! through the REST API in Sentry's shapes.

use std::process::Command;

use serde_json::json;

use crate::harness::*;

/// A git repository with two commits.
fn git_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "Jane Doe")
            .env("GIT_AUTHOR_EMAIL", "jane@example.com")
            .env("GIT_COMMITTER_NAME", "Jane Doe")
            .env("GIT_COMMITTER_EMAIL", "jane@example.com")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "Add the checkout"]);
    git(&["commit", "-q", "--allow-empty", "-m", "Fix the ratio"]);
    dir
}

const RELEASE: &str = "/api/0/organizations/faultline/releases/shop@1.0+build.7/";

fn releases_with_sentry_cli(server: Devserver) {
    let repo = git_repo();
    let cli = |args: &[&str]| sentry_cli(&server, repo.path(), args);
    // `+` travels percent-encoded; the version comes back as written.
    assert!(
        cli(&["releases", "new", "shop@1.0+build.7"]).contains("Created release shop@1.0+build.7")
    );
    let (status, release) =
        server.get("/api/0/organizations/faultline/releases/shop%401.0%2Bbuild.7/");
    assert_eq!(status, 200, "{release}");
    assert_eq!(release["version"], "shop@1.0+build.7");
    assert_eq!(release["status"], "open");
    assert!(release["dateCreated"].is_string() && release["dateStarted"].is_string());
    assert_eq!(release["dateReleased"], serde_json::Value::Null);
    assert_eq!(release["projects"][0]["slug"], "default");
    assert_eq!(release["newGroups"], 0);

    cli(&["releases", "finalize", "shop@1.0+build.7"]);
    assert!(server.get(RELEASE).1["dateReleased"].is_string());
    let list = cli(&["releases", "list"]);
    assert!(list.contains("shop@1.0+build.7"), "{list}");
    let info = cli(&["releases", "info", "shop@1.0+build.7"]);
    assert!(info.contains("shop@1.0+build.7"), "{info}");

    // No repository integrations: the commits of the local tree.
    cli(&["releases", "set-commits", "shop@1.0+build.7", "--local"]);
    let (_, commits) = server.get(&format!("{RELEASE}commits/"));
    let messages: Vec<&str> = commits
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"].as_str().unwrap().trim())
        .collect();
    assert_eq!(messages, ["Fix the ratio", "Add the checkout"], "{commits}");
    assert_eq!(commits[0]["author"]["email"], "jane@example.com");
    assert_eq!(server.get(RELEASE).1["commitCount"], 2);

    cli(&[
        "deploys",
        "new",
        "-r",
        "shop@1.0+build.7",
        "-e",
        "production",
        "-n",
        "first",
    ]);
    let deploys = cli(&["deploys", "list", "-r", "shop@1.0+build.7"]);
    assert!(deploys.contains("production"), "{deploys}");
    let release = server.get(RELEASE).1;
    assert_eq!(release["deployCount"], 1);
    assert_eq!(release["lastDeploy"]["environment"], "production");
    assert_eq!(release["lastDeploy"]["name"], "first");

    // The Releases pages show it with its deploy and commits.
    let cookie = crate::dashboard::sign_in(&server, &server.url);
    let list = crate::dashboard::page(&server, &cookie, "/organizations/faultline/releases/");
    assert!(list.contains("shop@1.0+build.7"), "{list}");
    let page = crate::dashboard::page(
        &server,
        &cookie,
        "/organizations/faultline/releases/shop%401.0%2Bbuild.7/",
    );
    for expected in [
        "shop@1.0+build.7",
        "production",
        "Fix the ratio",
        "Jane Doe",
    ] {
        assert!(
            page.contains(expected),
            "{expected:?} missing from the release page:\n{page}"
        );
    }

    cli(&["releases", "archive", "shop@1.0+build.7"]);
    assert_eq!(server.get(RELEASE).1["status"], "archived");
    cli(&["releases", "restore", "shop@1.0+build.7"]);
    assert_eq!(server.get(RELEASE).1["status"], "open");

    cli(&["releases", "delete", "shop@1.0+build.7"]);
    assert_eq!(server.get(RELEASE).0, 404);
}

fn releases_api_refuses_what_sentry_refuses(server: Devserver) {
    let releases = "/api/0/organizations/faultline/releases/";
    for version in [
        "",
        "latest",
        "a/b",
        "two\nlines",
        " padded",
        &"x".repeat(201),
    ] {
        let (status, body) = server.send_json(
            "POST",
            releases,
            json!({"version": version, "projects": ["default"]}),
        );
        assert_eq!(status, 400, "{version:?}: {body}");
    }
    let (status, _) = server.send_json(
        "POST",
        releases,
        json!({"version": "ok@1", "projects": ["nope"]}),
    );
    assert_eq!(status, 400, "an unknown project");
    let (status, body) = server.send_json(
        "POST",
        releases,
        json!({"version": "ok@1", "projects": ["default"]}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _) = server.send_json(
        "POST",
        releases,
        json!({"version": "ok@1", "projects": ["default"]}),
    );
    assert_eq!(
        status, 208,
        "an existing release is Already Reported, as Sentry answers"
    );
    let (status, _) = server.send_json(
        "POST",
        "/api/0/organizations/faultline/releases/ok@1/deploys/",
        json!({"environment": "a/b"}),
    );
    assert_eq!(status, 400);
    let (status, _) = server.send_json(
        "PUT",
        "/api/0/organizations/faultline/releases/ok@1/",
        json!({"commits": [{"message": "no id"}]}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        server
            .get("/api/0/organizations/faultline/releases/nope/")
            .0,
        404
    );
    assert_eq!(
        server.get("/api/0/organizations/faultline/repos/").1,
        json!([])
    );
    // Scopes: a token without project:releases or project:write cannot write.
    let (ok, token, _) = faultline_cli(
        &[
            "token",
            "create",
            "--email",
            "admin@faultline.local",
            "--scope",
            "event:read",
        ],
        server.dir.path(),
    );
    assert!(ok, "a token is made");
    let (status, _) = server.send_as(
        token.trim(),
        "POST",
        releases,
        Some(&json!({"version": "x@1"})),
    );
    assert_eq!(status, 403);
}

crate::on_devserver_and_stack!(
    #[ignore = "needs sentry-cli (the test venv): run with cargo xtask test"]
    releases_with_sentry_cli,
    releases_api_refuses_what_sentry_refuses,
    releases_come_from_events,
);

/// Events name their release: the release is created with its project on
/// the fly, the issue carries `firstRelease` and `lastRelease`, the release
/// counts the issue as new, and `firstRelease:` and `release:` search.
fn releases_come_from_events(server: Devserver) {
    let first = server.send_event(&json!({"message": "checkout failed", "release": "web@2.0"}));
    server.wait_for("the first event", |s| s.event(&first));
    let second = server.send_event(&json!({"message": "checkout failed", "release": "web@2.1"}));
    server.wait_for("the second event", |s| s.event(&second));
    let issue = server.issues("")[0].clone();
    assert_eq!(issue["firstRelease"]["version"], "web@2.0", "{issue}");
    assert_eq!(issue["lastRelease"]["version"], "web@2.1", "{issue}");
    let (status, release) = server.get("/api/0/organizations/faultline/releases/web@2.0/");
    assert_eq!(status, 200, "{release}");
    assert_eq!(release["projects"][0]["slug"], "default");
    assert_eq!(release["newGroups"], 1);
    assert!(release["firstEvent"].is_string());
    let (_, listed) = server.get("/api/0/projects/faultline/default/releases/");
    let versions: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert!(
        versions.contains(&"web@2.0") && versions.contains(&"web@2.1"),
        "{versions:?}"
    );
    assert_eq!(server.issues("firstRelease:web@2.0").len(), 1);
    assert!(server.issues("firstRelease:web@2.1").is_empty());
    assert_eq!(server.issues("release:web@2.1").len(), 1);
    // The release's page lists the issue first seen in it.
    let cookie = crate::dashboard::sign_in(&server, &server.url);
    let page = crate::dashboard::page(
        &server,
        &cookie,
        "/organizations/faultline/releases/web@2.0/",
    );
    assert!(page.contains("checkout failed"), "{page}");
    assert!(page.contains("first event"), "the release's events: {page}");
    // Issues were first seen in it: it cannot be deleted.
    assert_eq!(
        server
            .delete("/api/0/organizations/faultline/releases/web@2.0/")
            .0,
        400
    );
}
