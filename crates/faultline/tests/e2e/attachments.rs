//! Event attachments from the official Python SDK: files on the scope
//! travel in the event's envelope, are kept in the blob store, listed by
//! Sentry's event attachments API and downloaded byte for byte (through
//! the API and from the event's page, always as a download); retention
//! takes them with their event; relay refuses what is past its limits.

use std::time::Duration;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::harness::{Devserver, new_event_id, python_sdk};

/// Bytes that compress badly and are long enough to travel in several
/// queue messages (relay cuts attachments into 768 KiB chunks).
fn screenshot_bytes() -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..2_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

fn wait_for_attachments(server: &Devserver, event_id: &str, n: usize) -> Vec<Value> {
    let path = format!("/api/0/projects/faultline/default/events/{event_id}/attachments/");
    server.wait_for("the event's attachments", |s| {
        let (status, body) = s.get(&path);
        assert_eq!(status, 200, "{body}");
        let list = body.as_array().cloned().unwrap_or_default();
        (list.len() >= n).then_some(list)
    })
}

/// Moves the attachments' arrival `days` into the past, as time would.
fn age_attachments(server: &mut Devserver, days: i64) {
    let millis = days * 86_400_000;
    let sql = format!("UPDATE event_attachments SET date_created = date_created - {millis}");
    match server.stack.as_ref() {
        Some(stack) => {
            stack.postgres_value(&sql);
        }
        None => {
            let db = server.dir.path().join("meta.sqlite");
            let out = std::process::Command::new(crate::harness::test_python())
                .args([
                    "-c",
                    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); \
                     c.execute(sys.argv[2]); c.commit()",
                ])
                .arg(&db)
                .arg(&sql)
                .output()
                .expect("python runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn cleanup(server: &mut Devserver) -> String {
    match server.stack.as_ref() {
        Some(stack) => stack.faultline(&["cleanup", "--days", "2"]),
        None => {
            let (ok, out, err) =
                crate::harness::faultline_cli(&["cleanup", "--days", "2"], server.dir.path());
            assert!(ok, "{err}");
            out
        }
    }
}

fn sdk_attachments_download_byte_for_byte(mut server: Devserver) {
    let dir = tempfile::tempdir().unwrap();
    let screenshot = screenshot_bytes();
    let log = "GET /checkout 500\n<script>alert(1)</script>\n".repeat(50);
    std::fs::write(dir.path().join("screen.png"), &screenshot).unwrap();
    std::fs::write(dir.path().join("app.log"), &log).unwrap();
    let note = "Ünïcode note";
    let ids = python_sdk(
        &server.dsn,
        &[
            "attachment",
            "--attach",
            dir.path().join("screen.png").to_str().unwrap(),
            "--attach",
            dir.path().join("app.log").to_str().unwrap(),
            "--text",
            note,
        ],
    );
    server.wait_for_total(1);
    let event_id = &ids[0];
    // The issue's page shows the event once the event store has it.
    server.wait_for("the stored event", |s| s.event(event_id));
    let list = wait_for_attachments(&server, event_id, 3);
    assert_eq!(list.len(), 3, "{list:#?}");
    let sent: [(&str, &[u8]); 3] = [
        ("screen.png", &screenshot),
        ("app.log", log.as_bytes()),
        ("note.txt", note.as_bytes()),
    ];
    for (name, bytes) in sent {
        let a = list
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list:#?}"));
        assert_eq!(a["size"], bytes.len(), "{a}");
        assert_eq!(a["sha1"], hex::encode(Sha1::digest(bytes)), "{a}");
        assert_eq!(a["type"], "event.attachment", "{a}");
        assert_eq!(a["event_id"], event_id.as_str(), "{a}");
        assert!(a["dateCreated"].is_string(), "{a}");
        let path = format!(
            "/api/0/projects/faultline/default/events/{event_id}/attachments/{}/",
            a["id"].as_str().unwrap()
        );
        // Without `download`: the attachment's description.
        let (status, detail) = server.get(&path);
        assert_eq!((status, &detail["name"]), (200, &a["name"]));
        let auth = format!("Bearer {}", server.token);
        let got = server.request(
            "GET",
            &format!("{path}?download=1"),
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(got.status, 200, "{}", got.text());
        assert!(got.body == bytes, "{name} comes back byte for byte");
        let disposition = got.header("content-disposition").unwrap_or_default();
        assert!(
            disposition.starts_with("attachment;") && disposition.contains(name),
            "{disposition}"
        );
        assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
        // Nobody's token, nobody's attachment.
        let (status, _) = server.get_unauthenticated(&format!("{path}?download=1"));
        assert_eq!(status, 401);
    }
    let note_entry = list.iter().find(|a| a["name"] == "note.txt").unwrap();
    assert_eq!(note_entry["mimetype"], "text/plain");
    // Another event, another project: nothing.
    let (status, body) = server.get(&format!(
        "/api/0/projects/faultline/default/events/{}/attachments/",
        new_event_id()
    ));
    assert_eq!((status, body), (200, json!([])));
    let (status, _) = server.get(&format!(
        "/api/0/projects/faultline/no-such-project/events/{event_id}/attachments/"
    ));
    assert_eq!(status, 404);

    // The event's page links each file, as a download.
    let cookie = crate::dashboard::sign_in(&server, &server.url);
    let issue = server.issues("")[0]["id"].as_str().unwrap().to_owned();
    let html = crate::dashboard::page(
        &server,
        &cookie,
        &format!("/organizations/faultline/issues/{issue}/"),
    );
    assert!(html.contains("id=\"attachments\""), "{html}");
    let link = html
        .split("class=\"attachment\" href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .find(|href| html.contains(&format!("{href}\" download>app.log<")))
        .unwrap_or_else(|| panic!("no download link for app.log in {html}"));
    let got = server.request("GET", &link, &[("Cookie", &cookie)], b"");
    assert_eq!(got.status, 200);
    assert!(got.body == log.as_bytes());
    assert!(
        got.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment;"))
    );

    // Retention takes the files with their event's day.
    age_attachments(&mut server, 3);
    let out = cleanup(&mut server);
    assert!(out.starts_with("Deleted"), "{out}");
    let (status, body) = server.get(&format!(
        "/api/0/projects/faultline/default/events/{event_id}/attachments/"
    ));
    assert_eq!((status, body), (200, json!([])));
    let got = server.request("GET", &link, &[("Cookie", &cookie)], b"");
    assert_eq!(got.status, 404);
    if server.stack.is_none() {
        let files = server.dir.path().join("files");
        assert!(
            !files
                .join("attachments")
                .join(server.project_id.to_string())
                .exists(),
            "the attachments' files are gone"
        );
    }
}

crate::on_devserver_and_stack!(
    #[ignore = "needs the Python sentry-sdk: run with cargo xtask test"]
    sdk_attachments_download_byte_for_byte,
);

/// An envelope with an event and attachments of `sizes` bytes.
fn envelope_with_attachments(event_id: &str, sizes: &[usize]) -> Vec<u8> {
    let event = json!({"event_id": event_id, "message": "with files"}).to_string();
    let mut out = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    )
    .into_bytes();
    for (i, size) in sizes.iter().enumerate() {
        out.extend(
            format!("{{\"type\":\"attachment\",\"length\":{size},\"filename\":\"f{i}.bin\"}}\n")
                .bytes(),
        );
        out.extend(std::iter::repeat_n(b'x', *size));
        out.push(b'\n');
    }
    out
}

#[test]
fn attachments_past_relays_limits_are_refused() {
    let server = Devserver::start_with_env(&[
        ("FAULTLINE_LIMITS_MAX_ATTACHMENT_SIZE", "1000"),
        ("FAULTLINE_LIMITS_MAX_ATTACHMENTS_SIZE", "1500"),
    ]);
    let auth = server.auth_header();
    let headers = [("X-Sentry-Auth", auth.as_str())];
    let path = server.envelope_path();
    let post = |sizes: &[usize]| {
        let id = new_event_id();
        let (status, body) = server.ingest(&path, &headers, &envelope_with_attachments(&id, sizes));
        (status, body, id)
    };
    let (status, body, _) = post(&[1001]);
    assert_eq!(status, 413, "one attachment past its limit: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("attachment"),
        "{body}"
    );
    let (status, body, _) = post(&[800, 800]);
    assert_eq!(status, 413, "attachments adding up past theirs: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("add up"),
        "{body}"
    );
    // Within both: kept, the event and its files.
    let (status, body, id) = post(&[800, 600]);
    assert_eq!(status, 200, "{body}");
    let list = wait_for_attachments(&server, &id, 2);
    let mut sizes: Vec<u64> = list.iter().map(|a| a["size"].as_u64().unwrap()).collect();
    sizes.sort();
    assert_eq!(sizes, [600, 800]);
    // Nothing from the refused envelopes was kept (both of their events
    // were refused whole).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(crate::harness::total_count(&server.issues("")), 1);
}
