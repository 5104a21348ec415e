//! Issue alert rules through Sentry's API: the rule every project starts
//! with, creating, reading, changing, disabling and deleting rules, field
//! errors in Sentry's shape, and the scopes each call needs.

use serde_json::{Value, json};

use crate::harness::{Devserver, faultline_cli};

const RULES: &str = "/api/0/projects/faultline/default/rules/";
const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
const LEVEL: &str = "sentry.rules.filters.level.LevelFilter";
const EMAIL: &str = "sentry.mail.actions.NotifyEmailAction";
const SERVICE: &str = "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";

fn spike_rule() -> Value {
    json!({
        "name": "Checkout errors spike",
        "actionMatch": "any",
        "filterMatch": "all",
        "frequency": 60,
        "environment": "production",
        "conditions": [
            {"id": FIRST_SEEN},
            {"id": FREQUENCY, "value": 100, "interval": "1h"}
        ],
        "filters": [{"id": LEVEL, "match": "gte", "level": "40"}],
        "actions": [
            {"id": EMAIL, "targetType": "IssueOwners", "fallthroughType": "AllMembers"},
            {"id": SERVICE, "service": "webhooks"}
        ]
    })
}

fn the_default_rule_and_rule_crud(server: Devserver) {
    // Every project starts with Sentry's default rule: the devserver's
    // first project, and one created through the API.
    let (status, rules) = server.get(RULES);
    assert_eq!(status, 200, "{rules}");
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let default = &rules[0];
    assert_eq!(default["name"], "Send a notification for new issues");
    assert_eq!(default["conditions"][0]["id"], FIRST_SEEN);
    assert_eq!(default["conditions"][0]["name"], "A new issue is created");
    assert_eq!(default["actions"][0]["id"], EMAIL);
    assert_eq!(default["actions"][0]["targetType"], "IssueOwners");
    assert_eq!(default["actions"][0]["fallthroughType"], "ActiveMembers");
    assert_eq!(default["actionMatch"], "all");
    assert_eq!(default["frequency"], 30);
    assert_eq!(default["status"], "active");
    assert_eq!(default["projects"], json!(["default"]));
    assert!(default["id"].is_string());
    assert!(default["createdBy"].is_null());
    assert!(default["lastTriggered"].is_null());

    let (status, project) = server.send_json(
        "POST",
        "/api/0/teams/faultline/faultline/projects/",
        json!({"name": "Checkout"}),
    );
    assert_eq!(status, 201, "{project}");
    let (_, new_rules) = server.get("/api/0/projects/faultline/checkout/rules/");
    assert_eq!(new_rules[0]["name"], "Send a notification for new issues");

    // Creating a rule answers it as Sentry does (200, with each item's
    // wording and the creator).
    let (status, created) = server.send_json("POST", RULES, spike_rule());
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Checkout errors spike");
    assert_eq!(created["environment"], "production");
    assert_eq!(
        created["conditions"][1]["name"],
        "The issue is seen more than 100 times in one hour"
    );
    assert_eq!(
        created["filters"][0]["name"],
        "The event's level is greater than or equal to error"
    );
    assert_eq!(created["actions"][1]["service"], "webhooks");
    assert_eq!(created["createdBy"]["email"], "admin@faultline.local");
    let (status, listed) = server.get(RULES);
    assert_eq!(status, 200);
    assert_eq!(listed[0]["id"], id.as_str(), "newest first");
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let one = format!("{RULES}{id}/");
    assert_eq!(server.get(&one).1, created);

    // Changing: the whole rule, or only its status.
    let mut changed = spike_rule();
    changed["name"] = json!("Renamed");
    changed["frequency"] = json!(5);
    let (status, body) = server.send_json("PUT", &one, changed);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["frequency"].as_u64()),
        (Some("Renamed"), Some(5))
    );
    let (status, body) = server.send_json("PUT", &one, json!({"status": "disabled"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "disabled");
    assert_eq!(body["name"], "Renamed", "a status change keeps the rest");
    assert_eq!(body["conditions"], created["conditions"]);

    // Bodies are refused field by field, in Sentry's shape.
    let (status, errors) = server.send_json(
        "POST",
        RULES,
        json!({"actionMatch": "most", "frequency": 1, "conditions": [{"id": "nope"}], "actions": []}),
    );
    assert_eq!(status, 400, "{errors}");
    assert_eq!(errors["name"][0], "This field is required.");
    assert!(
        errors["actionMatch"][0]
            .as_str()
            .unwrap()
            .contains("not a valid choice")
    );
    assert!(errors["frequency"][0].is_string());
    assert!(errors["conditions"][0].as_str().unwrap().contains("nope"));
    assert_eq!(
        errors["actions"][0],
        "You must add an action for this alert to fire."
    );
    // An email action cannot name someone outside the organization.
    let mut outsider = spike_rule();
    outsider["actions"] =
        json!([{"id": EMAIL, "targetType": "Member", "targetIdentifier": 424242}]);
    let (status, body) = server.send_json("POST", RULES, outsider);
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.send_json("POST", RULES, json!([1, 2]));
    assert_eq!(status, 400);
    let (status, _) = server.send_json("PUT", &one, json!({"status": "paused"}));
    assert_eq!(status, 400);

    // Unknown rules, and rules through another project's URL, are 404.
    assert_eq!(server.get(&format!("{RULES}999999/")).0, 404);
    assert_eq!(server.get(&format!("{RULES}abc/")).0, 404);
    assert_eq!(
        server
            .get(&format!("/api/0/projects/faultline/checkout/rules/{id}/"))
            .0,
        404
    );

    let (status, _) = server.delete(&one);
    assert_eq!(status, 202);
    assert_eq!(server.get(&one).0, 404);
    assert_eq!(server.delete(&one).0, 404);
    assert_eq!(server.get(RULES).1.as_array().unwrap().len(), 1);
}

crate::on_devserver_and_stack!(the_default_rule_and_rule_crud);

/// Reading rules takes `project:read` or `alerts:read`; changing them
/// `project:write` or `alerts:write`, as Sentry's rule endpoints.
#[test]
fn rule_endpoints_check_token_scopes() {
    let server = Devserver::start();
    let token = |scopes: &[&str]| {
        let mut args = vec!["token", "create", "--email", "admin@faultline.local"];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        let (ok, token, stderr) = faultline_cli(&args, server.dir.path());
        assert!(ok, "{stderr}");
        token
    };
    let read = token(&["project:read"]);
    let alerts_read = token(&["alerts:read"]);
    let alerts_write = token(&["alerts:write"]);
    let events = token(&["event:admin"]);
    let rule = spike_rule();
    assert_eq!(server.send_as(&read, "GET", RULES, None).0, 200);
    assert_eq!(server.send_as(&alerts_read, "GET", RULES, None).0, 200);
    assert_eq!(server.send_as(&events, "GET", RULES, None).0, 403);
    assert_eq!(server.send_as(&read, "POST", RULES, Some(&rule)).0, 403);
    assert_eq!(
        server.send_as(&alerts_read, "POST", RULES, Some(&rule)).0,
        403
    );
    let (status, created) = server.send_as(&alerts_write, "POST", RULES, Some(&rule));
    assert_eq!(status, 200, "{created}");
    let one = format!("{RULES}{}/", created["id"].as_str().unwrap());
    assert_eq!(server.send_as(&read, "DELETE", &one, None).0, 403);
    assert_eq!(server.send_as(&alerts_write, "DELETE", &one, None).0, 202);
    assert_eq!(server.send_as("not-a-token", "GET", RULES, None).0, 401);
}
