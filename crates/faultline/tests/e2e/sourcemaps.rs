//! Source maps as users ship them: tests/sdk/node/app bundled and minified
//! by the real esbuild, `sentry-cli sourcemaps inject` and `upload` (the
//! test venv's pinned binary) against the server, and hostile uploads
//! through the same endpoints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::*;

/// The tests' node_modules (esbuild, @sentry/node).
fn node_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_TEST_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests/sdk/node"))
}

/// A production build: one minified file and its map.
const ESBUILD_ARGS: &[&str] = &[
    "src/index.js",
    "--bundle",
    "--minify",
    "--sourcemap",
    "--platform=node",
    "--external:@sentry/node",
    "--outfile=dist/app.min.js",
];

/// tests/sdk/node/app copied into a new directory and built into
/// `dist/app.min.js` with its map, as a user's build would.
pub fn built_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for file in ["index.js", "math.js"] {
        std::fs::copy(
            workspace_root().join("tests/sdk/node/app/src").join(file),
            src.join(file),
        )
        .unwrap();
    }
    let out = Command::new(node_dir().join("node_modules/.bin/esbuild"))
        .args(ESBUILD_ARGS)
        .current_dir(dir.path())
        .output()
        .expect("esbuild runs (cargo xtask test installs it)");
    assert!(
        out.status.success(),
        "esbuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Runs the built app with the real @sentry/node; returns its event id.
pub fn run_app(server: &Devserver, app: &Path, release: Option<(&str, &str)>) -> String {
    let mut cmd = Command::new("node");
    cmd.arg("dist/app.min.js")
        .current_dir(app)
        .env("NODE_PATH", node_dir().join("node_modules"))
        .env("SENTRY_DSN", &server.dsn);
    if let Some((version, dist)) = release {
        cmd.env("SENTRY_RELEASE", version).env("SENTRY_DIST", dist);
    }
    let out = cmd.output().expect("node runs");
    assert!(
        out.status.success(),
        "the app failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn uploads_with_sentry_cli(server: Devserver) {
    let app = built_app();
    let cli = |args: &[&str]| sentry_cli(&server, app.path(), args);
    cli(&["sourcemaps", "inject", "dist"]);
    let minified = std::fs::read_to_string(app.path().join("dist/app.min.js")).unwrap();
    assert!(
        minified.contains("//# debugId="),
        "inject adds the debug id"
    );
    let uploaded = cli(&["sourcemaps", "upload", "dist"]);
    assert!(uploaded.contains("app.min.js.map"), "{uploaded}");
    // The same bundle again: the server has it, and says so.
    cli(&["sourcemaps", "upload", "dist"]);
    // With a release and dist, the bundle is listed under the release.
    cli(&["releases", "new", "shop@2.0"]);
    cli(&[
        "sourcemaps",
        "upload",
        "--release",
        "shop@2.0",
        "--dist",
        "web",
        "--url-prefix",
        "~/dist",
        "dist",
    ]);
    let cookie = crate::dashboard::sign_in(&server, &server.url);
    let page = crate::dashboard::page(
        &server,
        &cookie,
        "/organizations/faultline/releases/shop@2.0/",
    );
    assert!(page.contains("~/dist/app.min.js.map"), "{page}");
}

/// The event's (first) exception, as the event API returns it.
fn exception(event: &Value) -> &Value {
    &event["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "exception")
        .expect("an exception entry")["data"]["values"][0]
}

/// The in-app frames of the event's exception, oldest first.
fn app_frames(event: &Value) -> Vec<Value> {
    exception(event)["stacktrace"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["inApp"] == true)
        .cloned()
        .collect()
}

/// The frame that threw, checked to be mapped back to src/math.js.
fn assert_mapped_to_source(event: &Value, resolved_with: &str) {
    let frames = app_frames(event);
    let top = frames.last().expect("in-app frames");
    assert_eq!(top["function"], "validatePrice", "{top:#}");
    assert_eq!(top["filename"], "src/math.js", "{top:#}");
    assert_eq!(top["lineNo"], 15, "{top:#}");
    assert_eq!(top["data"]["symbolicated"], true, "{top:#}");
    assert_eq!(top["data"]["resolved_with"], resolved_with, "{top:#}");
    let line = top["context"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l[0] == 15)
        .expect("the frame's own line in its context");
    assert!(
        line[1]
            .as_str()
            .unwrap()
            .contains("throw new Error(`negative price"),
        "{top:#}"
    );
    let names: Vec<&str> = frames
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    for original in ["priceOf", "computeTotal", "checkout"] {
        assert!(names.contains(&original), "{original} in {names:?}");
    }
    // The SDK's frames are kept beside them.
    let raw = &exception(event)["rawStacktrace"]["frames"];
    assert!(
        raw.as_array()
            .unwrap()
            .iter()
            .any(|f| f["filename"].as_str().unwrap_or("").ends_with("app.min.js")),
        "{raw:#}"
    );
}

/// `sourcemaps inject` and `upload`, then @sentry/node throws from the
/// bundle: the issue shows the code that was written, found by debug id.
fn frames_are_mapped_by_debug_id(server: Devserver) {
    let app = built_app();
    let cli = |args: &[&str]| sentry_cli(&server, app.path(), args);
    cli(&["sourcemaps", "inject", "dist"]);
    cli(&["sourcemaps", "upload", "dist"]);
    let id = run_app(&server, app.path(), None);
    let event = server.wait_for("the event", |s| s.event(&id));
    assert_mapped_to_source(&event, "debug-id");
    let issue = &server.issues("")[0];
    assert_eq!(issue["title"], "Error: negative price: -1", "{issue}");
    assert!(
        issue["culprit"].as_str().unwrap().contains("validatePrice"),
        "{issue}"
    );

    // Another build of the same code, its names minified differently (here:
    // not at all), at other columns: its event lands in the same issue.
    let other = built_app();
    rebuild(other.path(), &["--minify-whitespace", "--minify-syntax"]);
    let cli = |args: &[&str]| sentry_cli(&server, other.path(), args);
    cli(&["sourcemaps", "inject", "dist"]);
    cli(&["sourcemaps", "upload", "dist"]);
    let second = run_app(&server, other.path(), None);
    let again = server.wait_for("the second event", |s| s.event(&second));
    assert_mapped_to_source(&again, "debug-id");
    let raw_name = |event: &Value| {
        exception(event)["rawStacktrace"]["frames"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["function"]
            .clone()
    };
    assert_ne!(raw_name(&event), raw_name(&again), "the builds differ");
    let issues = server.issues("");
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(count(&issues[0]), 2);

    // The symbolicator counts what it did: on the stack on its own port,
    // in the devserver on the one /metrics.
    let metrics = match &server.stack {
        Some(stack) => {
            assert_eq!(stack.health("symbolicator"), 200);
            stack.service_get("symbolicator", "/metrics").1
        }
        None => {
            let response = server.request("GET", "/metrics", &[], b"");
            String::from_utf8(response.body).unwrap()
        }
    };
    assert!(
        metrics.contains("faultline_symbolicator_frames_total{outcome=\"mapped\"}"),
        "{metrics}"
    );
}

/// Without debug ids: the release, dist and the file's URL find the map.
fn frames_are_mapped_by_release_and_dist(server: Devserver) {
    let app = built_app();
    let cli = |args: &[&str]| sentry_cli(&server, app.path(), args);
    let upload = |prefix: &[&str]| {
        let mut args = vec![
            "sourcemaps",
            "upload",
            "--release",
            "shop@3.1",
            "--dist",
            "eu",
        ];
        args.extend(prefix);
        args.push("dist");
        cli(&args)
    };
    upload(&[]);
    let id = run_app(&server, app.path(), Some(("shop@3.1", "eu")));
    let event = server.wait_for("the event", |s| s.event(&id));
    assert_mapped_to_source(&event, "release");

    // The wrong dist: no map, and every frame says why.
    let other = run_app(&server, app.path(), Some(("shop@3.1", "us")));
    let event = server.wait_for("the other event", |s| s.event(&other));
    let top = app_frames(&event).last().cloned().unwrap();
    assert_eq!(top["data"]["symbolicated"], false, "{top:#}");
    assert_eq!(
        top["data"]["unresolved_reason"], "url_not_in_release",
        "{top:#}"
    );
    assert!(
        top["data"]["unresolved_detail"]
            .as_str()
            .unwrap()
            .contains("shop@3.1"),
        "{top:#}"
    );
}

/// The issue page in Chromium: the original frames of a mapped issue, and
/// for an issue whose event matched no map, why.
fn the_issue_page_explains_each_frame(server: Devserver) {
    let app = built_app();
    sentry_cli(
        &server,
        app.path(),
        &[
            "sourcemaps",
            "upload",
            "--release",
            "shop@3.1",
            "--dist",
            "eu",
            "dist",
        ],
    );
    sentry_cli(&server, app.path(), &["sourcemaps", "inject", "dist"]);
    sentry_cli(&server, app.path(), &["sourcemaps", "upload", "dist"]);
    let mapped = run_app(&server, app.path(), None);
    server.wait_for("the mapped event", |s| s.event(&mapped));
    // Built again without debug ids, reported under a dist with no maps.
    let plain = built_app();
    let unmapped = run_app(&server, plain.path(), Some(("shop@3.1", "us")));
    server.wait_for("the unmapped event", |s| s.event(&unmapped));
    let issues = server.issues("");
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let path = |mapped: bool| {
        let issue = issues
            .iter()
            .find(|i| i["culprit"].as_str().unwrap().contains("validatePrice") == mapped)
            .expect("a mapped and an unmapped issue");
        format!(
            "/organizations/faultline/issues/{}/",
            issue["id"].as_str().unwrap()
        )
    };
    crate::dashboard::browser_flow(&server, "sourcemaps", &[&path(true), &path(false)]);
}

/// Builds `dir` again with `minify` in place of `--minify`.
fn rebuild(dir: &Path, minify: &[&str]) {
    std::fs::remove_dir_all(dir.join("dist")).unwrap();
    let args = ESBUILD_ARGS.iter().flat_map(|a| {
        if *a == "--minify" {
            minify.to_vec()
        } else {
            vec![*a]
        }
    });
    let out = Command::new(node_dir().join("node_modules/.bin/esbuild"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
}

const CHUNK_UPLOAD: &str = "/api/0/organizations/faultline/chunk-upload/";
const ASSEMBLE: &str = "/api/0/organizations/faultline/artifactbundle/assemble/";

/// A multipart body of `(field, file name, bytes)` parts.
fn multipart(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "------------------------faultline0test";
    let mut body = Vec::new();
    for (field, name, bytes) in parts {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn post_chunks(server: &Devserver, parts: &[(&str, &str, &[u8])]) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let auth = format!("Bearer {}", server.token);
    let response = server.request(
        "POST",
        CHUNK_UPLOAD,
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &body,
    );
    (
        response.status,
        serde_json::from_slice(&response.body).unwrap_or(Value::Null),
    )
}

/// A sentry-cli style bundle: `SYSB`, version 2, a ZIP of `files`, with a
/// manifest naming them.
fn bundle(files: &[(&str, &[u8])], manifest: &Value) -> Vec<u8> {
    // The ZIP follows the 8-byte header, its offsets counted from the
    // start of the file, as sentry-cli writes it.
    let mut file = std::io::Cursor::new(b"SYSB\x02\x00\x00\x00".to_vec());
    file.set_position(8);
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.start_file("manifest.json", options).unwrap();
    zip.write_all(manifest.to_string().as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Uploads `bytes` as one chunk and assembles it: the assemble answer.
fn upload_bundle(server: &Devserver, bytes: &[u8]) -> Value {
    let sha = faultline_artifacts::sha1_hex(bytes);
    let (status, body) = post_chunks(server, &[("file", &sha, bytes)]);
    assert_eq!(status, 200, "{body}");
    let (status, answer) = server.send_json(
        "POST",
        ASSEMBLE,
        json!({"checksum": sha, "chunks": [sha], "projects": ["default"]}),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

fn hostile_uploads_are_refused(server: Devserver) {
    // A chunk whose name is not its SHA-1.
    let wrong = "0".repeat(40);
    let (status, body) = post_chunks(&server, &[("file", &wrong, b"hello")]);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("checksum"),
        "{body}"
    );
    // A gzip part that does not decompress.
    let (status, _) = post_chunks(
        &server,
        &[(
            "file_gzip",
            &faultline_artifacts::sha1_hex(b"x"),
            b"not gzip",
        )],
    );
    assert_eq!(status, 400);
    // Assembling chunks never uploaded names them.
    let absent = "ab".repeat(20);
    let (_, answer) = server.send_json(
        "POST",
        ASSEMBLE,
        json!({"checksum": absent, "chunks": [absent], "projects": ["default"]}),
    );
    assert_eq!(answer["state"], "not_found", "{answer}");
    assert_eq!(answer["missingChunks"], json!([absent]));
    // An unknown project is the request's fault.
    let (status, _) = server.send_json(
        "POST",
        ASSEMBLE,
        json!({"checksum": absent, "chunks": [absent], "projects": ["nope"]}),
    );
    assert_eq!(status, 400);

    // Not a bundle at all.
    let answer = upload_bundle(&server, b"PK\x03\x04 this is not a zip");
    assert_eq!(answer["state"], "error", "{answer}");
    assert!(answer["detail"].is_string(), "{answer}");
    // An entry that climbs out of the bundle.
    let traversal = bundle(
        &[("../../etc/passwd", b"root:x:0:0")],
        &json!({"files": {"../../etc/passwd": {"type": "source", "url": "~/passwd"}}}),
    );
    let answer = upload_bundle(&server, &traversal);
    assert_eq!(answer["state"], "error", "{answer}");
    // A zip bomb: a small entry that inflates past the manifest's limit.
    let zeros = vec![b' '; 64 * 1024 * 1024];
    let bomb = bundle(
        &[],
        &json!({"files": {}, "pad": String::from_utf8(zeros).unwrap()}),
    );
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    let answer = upload_bundle(&server, &bomb);
    assert_eq!(answer["state"], "error", "{answer}");
    // A well-formed bundle is kept, and kept once.
    let good = bundle(
        &[("files/_/_/a.js", b"console.log(1)")],
        &json!({"files": {"files/_/_/a.js": {"type": "source", "url": "~/a.js"}}}),
    );
    assert_eq!(upload_bundle(&server, &good)["state"], "ok");
    assert_eq!(upload_bundle(&server, &good)["state"], "ok");
    // Everything still answers.
    assert_eq!(server.get("/api/0/organizations/faultline/").0, 200);
}

/// `limits.upload-quota`: chunks past the organization's quota are refused
/// with a 413 that says so, and nothing of them is kept.
#[test]
fn uploads_past_the_quota_are_refused() {
    let server = Devserver::start_with_env(&[("FAULTLINE_LIMITS_UPLOAD_QUOTA", "1000")]);
    let small = vec![b'a'; 600];
    let sha = faultline_artifacts::sha1_hex(&small);
    assert_eq!(post_chunks(&server, &[("file", &sha, &small)]).0, 200);
    let more = vec![b'b'; 600];
    let more_sha = faultline_artifacts::sha1_hex(&more);
    let (status, body) = post_chunks(&server, &[("file", &more_sha, &more)]);
    assert_eq!(status, 413, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("limits.upload-quota"),
        "{body}"
    );
    // The refused chunk is still missing; the first is not.
    let (_, answer) = server.send_json(
        "POST",
        ASSEMBLE,
        json!({"checksum": "c".repeat(40), "chunks": [sha, more_sha], "projects": ["default"]}),
    );
    assert_eq!(answer["missingChunks"], json!([more_sha]), "{answer}");
    // The same chunk again costs nothing more.
    assert_eq!(post_chunks(&server, &[("file", &sha, &small)]).0, 200);
    // A request larger than chunk-upload's maxRequestSize is refused whole.
    let (_, options) = server.get(CHUNK_UPLOAD);
    assert_eq!(
        options["url"],
        "/api/0/organizations/faultline/chunk-upload/"
    );
    let max = options["maxRequestSize"].as_u64().unwrap() as usize;
    let (status, _) = post_chunks(&server, &[("file", &sha, &vec![b'x'; max + 1])]);
    assert_eq!(status, 413);
}

/// As an attacker would try them: a token without `project:releases`, an
/// organization that is not there, and odd assemble bodies each get a clean
/// 4xx, never a 500.
#[test]
fn upload_endpoints_check_scope_and_input() {
    let server = Devserver::start();
    let read =
        crate::hardening_access::token_with(&server, "admin@faultline.local", &["event:read"]);
    let sha = faultline_artifacts::sha1_hex(b"x");
    let body = json!({"checksum": sha, "chunks": [sha], "projects": ["default"]});
    assert_eq!(server.send_as(&read, "GET", CHUNK_UPLOAD, None).0, 403);
    assert_eq!(server.send_as(&read, "POST", ASSEMBLE, Some(&body)).0, 403);
    let (content_type, multipart_body) = multipart(&[("file", &sha, b"x")]);
    let auth = format!("Bearer {read}");
    let response = server.request(
        "POST",
        CHUNK_UPLOAD,
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &multipart_body,
    );
    assert_eq!(response.status, 403);
    let elsewhere = "/api/0/organizations/not-ours/artifactbundle/assemble/";
    let status = server.send_json("POST", elsewhere, body.clone()).0;
    assert!(matches!(status, 403 | 404), "{status}");
    for odd in [
        json!({"checksum": "not hex", "chunks": [], "projects": ["default"]}),
        json!({"checksum": sha, "chunks": ["zz"], "projects": ["default"]}),
        json!({"checksum": sha, "chunks": vec![sha.clone(); 100_000], "projects": ["default"]}),
        json!({"checksum": sha, "chunks": [sha], "projects": []}),
        json!({"checksum": sha, "chunks": [sha], "projects": ["default"], "version": "a/b"}),
        json!({"checksum": sha, "chunks": [sha], "projects": ["default"], "dist": "x".repeat(65)}),
        json!({"chunks": 7}),
    ] {
        let (status, answer) = server.send_json("POST", ASSEMBLE, odd.clone());
        assert_eq!(status, 400, "{odd}: {answer}");
    }
    // Not multipart at all.
    let auth = format!("Bearer {}", server.token);
    let response = server.request(
        "POST",
        CHUNK_UPLOAD,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    assert_eq!(response.status, 400);
}

crate::on_devserver_and_stack!(
    #[ignore = "needs sentry-cli and esbuild (the test venv, npm): run with cargo xtask test"]
    uploads_with_sentry_cli,
    #[ignore = "needs sentry-cli, esbuild and @sentry/node (the test venv, npm): run with cargo xtask test"]
    frames_are_mapped_by_debug_id,
    #[ignore = "needs sentry-cli, esbuild and @sentry/node (the test venv, npm): run with cargo xtask test"]
    frames_are_mapped_by_release_and_dist,
    hostile_uploads_are_refused,
);

mod in_the_browser {
    #[test]
    #[ignore = "needs Chromium, sentry-cli, esbuild and @sentry/node: run with cargo xtask test"]
    fn the_issue_page_explains_each_frame() {
        super::the_issue_page_explains_each_frame(crate::harness::Devserver::start())
    }
}
