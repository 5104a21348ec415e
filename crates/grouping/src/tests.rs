use chrono::{TimeZone, Utc};
use faultline_protocol::{NormalizeOptions, normalize_event};
use serde_json::{Value, json};

use super::*;

fn event(v: Value) -> Event {
    let opts = NormalizeOptions::new(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    normalize_event(v.to_string().as_bytes(), &opts).unwrap()
}

fn exc(ty: &str, value: &str, frames: Value) -> Value {
    json!({"platform": "python", "exception": {"values": [
        {"type": ty, "value": value, "stacktrace": {"frames": frames}}
    ]}})
}

fn frames(line: u64, func: &str) -> Value {
    json!([
        {"module": "__main__", "function": "<module>", "lineno": 1, "in_app": true},
        {"module": "__main__", "function": func, "lineno": line, "in_app": true},
        {"module": "requests", "function": "get", "lineno": 99, "in_app": false}
    ])
}

#[test]
fn same_code_path_groups_regardless_of_lines_and_values() {
    let a = group(&event(exc("KeyError", "'a'", frames(10, "load"))));
    let b = group(&event(exc("KeyError", "'b'", frames(12, "load"))));
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.hash.len(), 32);
}

#[test]
fn different_type_or_path_splits() {
    let a = group(&event(exc("KeyError", "x", frames(10, "load"))));
    let b = group(&event(exc("ValueError", "x", frames(10, "load"))));
    let c = group(&event(exc("KeyError", "x", frames(10, "save"))));
    assert_ne!(a.hash, b.hash);
    assert_ne!(a.hash, c.hash);
}

#[test]
fn system_frames_do_not_matter_when_in_app_frames_exist() {
    let mut with_lib = frames(10, "load");
    with_lib
        .as_array_mut()
        .unwrap()
        .push(json!({"module": "urllib3", "function": "urlopen", "in_app": false}));
    let a = group(&event(exc("KeyError", "x", frames(10, "load"))));
    let b = group(&event(exc("KeyError", "x", with_lib)));
    assert_eq!(a.hash, b.hash);
}

#[test]
fn without_frames_type_and_value_group() {
    let a = group(&event(
        json!({"exception": {"values": [{"type": "E", "value": "one"}]}}),
    ));
    let b = group(&event(
        json!({"exception": {"values": [{"type": "E", "value": "one"}]}}),
    ));
    let c = group(&event(
        json!({"exception": {"values": [{"type": "E", "value": "two"}]}}),
    ));
    assert_eq!(a.hash, b.hash);
    assert_ne!(a.hash, c.hash);
}

#[test]
fn title_culprit_and_metadata() {
    let g = group(&event(exc(
        "ZeroDivisionError",
        "division by zero\nmore",
        frames(10, "load"),
    )));
    assert_eq!(g.title, "ZeroDivisionError: division by zero");
    assert_eq!(g.culprit, "__main__ in load");
    assert_eq!(g.metadata.ty.as_deref(), Some("ZeroDivisionError"));
    assert_eq!(g.metadata.function.as_deref(), Some("load"));

    let mut node = exc(
        "TypeError",
        "bad",
        json!([{"filename": "/app/main.js", "module": "main", "function": "loadOrder", "in_app": true}]),
    );
    node["platform"] = json!("node");
    assert_eq!(group(&event(node)).culprit, "loadOrder(main)");
}

#[test]
fn message_events_group_by_template() {
    let a = group(&event(
        json!({"logentry": {"message": "user %s failed", "params": ["alice"]}}),
    ));
    let b = group(&event(
        json!({"logentry": {"message": "user %s failed", "params": ["bob"]}}),
    ));
    let c = group(&event(json!({"message": "something else"})));
    assert_eq!(a.hash, b.hash);
    assert_ne!(a.hash, c.hash);
    assert_eq!(a.title, "user alice failed");
    assert_eq!(a.metadata.title.as_deref(), Some("user alice failed"));
    assert_eq!(group(&event(json!({}))).title, "<unlabeled event>");
}

#[test]
fn custom_fingerprint_wins_and_expands_default() {
    let mut a = exc("KeyError", "x", frames(10, "load"));
    a["fingerprint"] = json!(["my-group"]);
    let mut b = exc("ValueError", "y", frames(10, "save"));
    b["fingerprint"] = json!(["my-group"]);
    assert_eq!(group(&event(a.clone())).hash, group(&event(b)).hash);

    let mut c = exc("KeyError", "x", frames(10, "load"));
    c["fingerprint"] = json!(["{{ default }}", "tenant-1"]);
    let mut d = exc("KeyError", "x", frames(10, "load"));
    d["fingerprint"] = json!(["{{default}}", "tenant-2"]);
    let plain = group(&event(exc("KeyError", "x", frames(10, "load"))));
    let (gc, gd) = (group(&event(c)), group(&event(d)));
    assert_ne!(gc.hash, gd.hash);
    assert_ne!(gc.hash, plain.hash);
    let mut e = exc("KeyError", "x", frames(10, "load"));
    e["fingerprint"] = json!(["{{ default }}"]);
    assert_eq!(group(&event(e)).hash, plain.hash);
}

#[test]
fn chained_exceptions_use_the_last_for_the_title() {
    let ev = event(json!({"platform": "python", "exception": {"values": [
        {"type": "ZeroDivisionError", "value": "division by zero"},
        {"type": "OrderError", "value": "failed to process order 1234"}
    ]}}));
    assert_eq!(group(&ev).title, "OrderError: failed to process order 1234");
}

#[test]
fn javascript_messages_with_a_synthetic_stack_group_by_text() {
    let msg = |text: &str| {
        event(
            json!({"platform": "node", "message": text, "exception": {"values": [{
                "value": text, "mechanism": {"type": "generic", "synthetic": true},
                "stacktrace": {"frames": [{"filename": "/app/main.js", "module": "main", "function": "report", "in_app": true}]}
            }]}}),
        )
    };
    let (a, b) = (group(&msg("first")), group(&msg("second")));
    assert_ne!(a.hash, b.hash);
    assert_eq!(a.hash, group(&msg("first")).hash);
    assert_eq!(a.title, "first");
}
