//! `cargo xtask bench notify` runs this (release build): the cost of
//! evaluating a project's 50 alert rules for one post-process message, on
//! the path every message takes (read the header, check the conditions)
//! and on the path of a message that triggers rules (read the whole
//! message with its event, check every rule's filters). The event is the
//! captured Python SDK exception. Prints one line per path.

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use faultline_notifier::evaluate::{Counts, Happened, Subject, passes_filters, triggered};
use faultline_protocol::{
    EventId, GroupId, Level, NormalizeOptions, PostProcessHeader, PostProcessMessage,
    PostProcessOut, ProjectId, normalize::normalize_event,
};
use faultline_rules::{Interval, RuleSpec, ids};
use faultline_storage::{Group, GroupStatus};
use faultline_testkit::envelope::OneEvent;
use faultline_testkit::fixtures;
use serde_json::json;

const RULES: usize = 50;
const MESSAGES: u32 = 200_000;

/// Fifty rules as a team writes them: new issues, regressions and
/// frequency triggers, each narrowed by a level, tag, attribute or age.
fn rules() -> Vec<RuleSpec> {
    let email = json!({"id": ids::NOTIFY_EMAIL, "targetType": "IssueOwners"});
    (0..RULES)
        .map(|i| {
            let condition = match i % 3 {
                0 => json!({"id": ids::FIRST_SEEN}),
                1 => json!({"id": ids::REGRESSION}),
                _ => json!({"id": ids::EVENT_FREQUENCY, "value": 100, "interval": "1h"}),
            };
            let filters = json!([
                {"id": ids::LEVEL, "match": "gte", "level": "40"},
                {"id": ids::TAGGED_EVENT, "key": "server_name", "match": "sw", "value": format!("web-{i}")},
                {"id": ids::EVENT_ATTRIBUTE, "attribute": "exception.type", "match": "eq", "value": "ZeroDivisionError"},
                {"id": ids::AGE_COMPARISON, "comparison_type": "newer", "value": 7, "time": "day"}
            ]);
            RuleSpec::from_json(&json!({
                "name": format!("rule {i}"), "actionMatch": "any", "filterMatch": "any",
                "conditions": [condition, {"id": ids::FIRST_SEEN}],
                "filters": filters,
                "actions": [email],
            }))
            .expect("a valid rule")
        })
        .collect()
}

fn main() {
    let fixture = fixtures::path(fixtures::PYTHON_SDK, "exception");
    let captured = OneEvent::load(&fixture).expect("the captured event");
    let payload = serde_json::to_vec(&captured.event).unwrap();
    let mut event =
        normalize_event(&payload, &NormalizeOptions::new(Utc::now())).expect("it normalises");
    event.breadcrumbs.clear();
    event.extra.clear();
    event.modules.clear();
    let header = PostProcessHeader {
        project_id: ProjectId(1),
        group_id: GroupId(1),
        event_id: EventId::new_random(),
        is_new: false,
        is_regression: false,
        is_reappeared: false,
    };
    let message = serde_json::to_vec(&PostProcessOut {
        header,
        event: &event,
    })
    .unwrap();
    let rules = rules();
    let group = Group {
        id: GroupId(1),
        project_id: ProjectId(1),
        short_id: 1,
        title: "ZeroDivisionError: division by zero".into(),
        culprit: "handle_order".into(),
        level: Level::Error,
        status: GroupStatus::Unresolved,
        substatus: None,
        event_type: "error".into(),
        platform: "python".into(),
        metadata: json!({}),
        count: 10,
        user_count: 2,
        first_seen: Utc::now(),
        last_seen: Utc::now(),
        first_release: None,
        last_release: None,
        resolved_at: None,
        assignee: None,
    };

    // The hour, below the frequency rules' 100 events.
    let counts = Counts {
        events: vec![(Interval::Hour, 40)],
        users: Vec::new(),
    };

    // Every message: the header, then each rule's conditions.
    let started = Instant::now();
    let mut hits = 0usize;
    for _ in 0..MESSAGES {
        let header: PostProcessHeader = serde_json::from_slice(black_box(&message)).unwrap();
        let happened = Happened {
            is_new: header.is_new,
            is_regression: header.is_regression,
            is_reappeared: false,
            counts: &counts,
        };
        hits += rules.iter().filter(|r| triggered(r, happened)).count();
    }
    let per_message = started.elapsed() / MESSAGES;
    println!(
        "not triggered (header + {RULES} rules' conditions): {:.2} µs per message ({} bytes; {hits} triggered)",
        per_message.as_nanos() as f64 / 1000.0,
        message.len()
    );

    // A message that triggers every rule: the whole message, each filter.
    let rounds = MESSAGES / 20;
    let started = Instant::now();
    let mut passed = 0usize;
    for _ in 0..rounds {
        let full: PostProcessMessage = serde_json::from_slice(black_box(&message)).unwrap();
        let subject = Subject {
            group: &group,
            event: full.event.as_ref(),
            now: Utc::now(),
            latest_release: None,
        };
        let happened = Happened {
            is_new: true,
            is_regression: false,
            is_reappeared: false,
            counts: &counts,
        };
        passed += rules
            .iter()
            .filter(|r| triggered(r, happened) && passes_filters(r, &subject))
            .count();
    }
    let per_message = started.elapsed() / rounds;
    println!(
        "triggered (whole message + {RULES} rules' filters): {:.2} µs per message ({} of {RULES} rules pass)",
        per_message.as_nanos() as f64 / 1000.0,
        passed / rounds as usize
    );
}
