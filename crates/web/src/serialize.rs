//! Sentry's public API JSON shapes. Field names and types (ids as strings,
//! `count` as a string, `userCount` as a number) follow Sentry's docs so
//! existing clients parse our answers unchanged.

use chrono::{DateTime, SecondsFormat, Utc};
pub use faultline_protocol::short_id;
use faultline_protocol::{Event, Frame, ProcessedEvent, Stacktrace};
use faultline_storage::{AlertRule, Group, Organization, Project, ProjectKey, Team, User};
use serde_json::{Value, json};

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn user(user: &User) -> Value {
    json!({
        "id": user.id.0.to_string(),
        "email": user.email,
        "username": user.email,
        "name": user.name,
        "isActive": user.is_active,
        "isSuperuser": user.is_superuser,
        "dateJoined": iso(user.date_joined),
    })
}

pub fn organization(org: &Organization) -> Value {
    json!({
        "id": org.id.0.to_string(),
        "slug": org.slug,
        "name": org.name,
        "dateCreated": iso(org.date_created),
        "status": {"id": "active", "name": "active"},
        "isEarlyAdopter": false,
        "require2FA": false,
        "features": [],
        "hasAuthProvider": false,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": null},
    })
}

pub fn team(team: &Team) -> Value {
    json!({
        "id": team.id.to_string(),
        "slug": team.slug,
        "name": team.name,
        "dateCreated": iso(team.date_created),
        "isMember": true,
        "hasAccess": true,
        "avatar": {"avatarType": "letter_avatar"},
    })
}

pub fn project(project: &Project, org: &Organization) -> Value {
    json!({
        "id": project.id.0.to_string(),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "dateCreated": iso(project.date_created),
        "firstEvent": project.first_event.map(iso),
        "hasAccess": true,
        "isMember": true,
        "isBookmarked": false,
        "status": "active",
        "features": [],
        "organization": {"id": org.id.0.to_string(), "slug": org.slug, "name": org.name},
    })
}

/// An issue alert rule: its stored canonical JSON (conditions, filters and
/// actions with Sentry's wording, matches, frequency, environment) plus
/// what the store knows about it.
pub fn rule(rule: &AlertRule, project: &Project, created_by: Option<&User>) -> Value {
    let mut v = match &rule.data {
        Value::Object(_) => rule.data.clone(),
        _ => json!({}),
    };
    v["id"] = json!(rule.id.to_string());
    v["name"] = json!(rule.name);
    v["status"] = json!(rule.status.as_str());
    v["dateCreated"] = json!(iso(rule.date_created));
    v["lastTriggered"] = json!(rule.last_triggered.map(iso));
    v["createdBy"] = match created_by {
        Some(u) => json!({
            "id": u.id.0,
            "name": if u.name.is_empty() { &u.email } else { &u.name },
            "email": u.email,
        }),
        None => Value::Null,
    };
    v["owner"] = Value::Null;
    v["projects"] = json!([project.slug]);
    v["snooze"] = json!(false);
    v
}

/// `scheme://public@host/project_id`, from `system.url-prefix`.
pub fn dsn(url_prefix: &str, key: &ProjectKey, secret: bool) -> String {
    let (scheme, rest) = url_prefix.split_once("://").unwrap_or(("http", url_prefix));
    let host = rest.trim_end_matches('/');
    if secret {
        format!(
            "{scheme}://{}:{}@{host}/{}",
            key.public_key, key.secret_key, key.project_id
        )
    } else {
        format!("{scheme}://{}@{host}/{}", key.public_key, key.project_id)
    }
}

/// A key as Sentry returns it. `dsn` has Sentry's entries; those naming
/// an endpoint relay does not serve (minidumps, security and CSP reports,
/// Unreal crash reports, the JavaScript loader) are `null` rather than
/// absent, so a client that reads them finds the field and learns the
/// feature is off instead of posting to an address that answers 404.
pub fn key(url_prefix: &str, key: &ProjectKey) -> Value {
    json!({
        "id": key.public_key,
        "name": key.label,
        "label": key.label,
        "public": key.public_key,
        "secret": key.secret_key,
        "projectId": key.project_id.0,
        "isActive": key.is_active,
        "rateLimit": match (key.rate_limit_count, key.rate_limit_window) {
            (Some(count), Some(window)) => json!({"count": count, "window": window}),
            _ => Value::Null,
        },
        "dsn": {
            "public": dsn(url_prefix, key, false),
            "secret": dsn(url_prefix, key, true),
            "csp": null,
            "security": null,
            "minidump": null,
            "unreal": null,
            "cdn": null,
        },
        "browserSdkVersion": "latest",
        "dateCreated": iso(key.date_created),
    })
}

/// Sentry's `assignedTo` for a user.
pub fn assignee(user: &User) -> Value {
    json!({"type": "user", "id": user.id.0.to_string(), "name": if user.name.is_empty() { &user.email } else { &user.name }, "email": user.email})
}

pub fn group(
    group: &Group,
    project: &Project,
    org: &Organization,
    url_prefix: &str,
    assigned: Option<&User>,
) -> Value {
    json!({
        "id": group.id.0.to_string(),
        "shortId": short_id(&project.slug, group.short_id),
        "title": group.title,
        "culprit": group.culprit,
        "permalink": format!("{}/organizations/{}/issues/{}/", url_prefix.trim_end_matches('/'), org.slug, group.id),
        "logger": null,
        "level": group.level.as_str(),
        "status": group.status.as_str(),
        "statusDetails": {},
        "substatus": group.substatus,
        "isPublic": false,
        "platform": group.platform,
        "project": {"id": project.id.0.to_string(), "name": project.name, "slug": project.slug, "platform": project.platform},
        "type": group.event_type,
        "metadata": group.metadata,
        "numComments": 0,
        "userReportCount": 0,
        "assignedTo": assigned.map(assignee),
        "isBookmarked": false,
        "isSubscribed": false,
        "subscriptionDetails": null,
        "hasSeen": false,
        "annotations": [],
        "issueType": "error",
        "issueCategory": "error",
        "isUnhandled": false,
        "count": group.count.to_string(),
        "userCount": group.user_count,
        "firstSeen": iso(group.first_seen),
        "lastSeen": iso(group.last_seen),
        "firstRelease": group.first_release.as_ref().map(|v| json!({"version": v})),
        "lastRelease": group.last_release.as_ref().map(|v| json!({"version": v})),
    })
}

fn tags(event: &Event) -> Value {
    Value::Array(
        event
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn message_text(event: &Event) -> String {
    event
        .logentry
        .as_ref()
        .and_then(|l| l.text())
        .unwrap_or("")
        .to_owned()
}

/// The short form used in event lists.
pub fn event_summary(stored: &ProcessedEvent) -> Value {
    let event = &stored.event;
    json!({
        "id": event.event_id.to_string(),
        "eventID": event.event_id.to_string(),
        "groupID": stored.group_id.0.to_string(),
        "projectID": stored.project_id.0.to_string(),
        "title": stored.title,
        "message": message_text(event),
        "culprit": stored.culprit,
        "location": stored.culprit,
        "platform": event.platform,
        "dateCreated": iso(event.timestamp),
        "dateReceived": iso(event.received),
        "event.type": event.event_type(),
        "type": event.event_type(),
        "tags": tags(event),
        "user": event.user.as_ref().map(user_interface),
    })
}

fn user_interface(user: &serde_json::Map<String, Value>) -> Value {
    let mut out = user.clone();
    if let Some(ip) = out.remove("ip_address") {
        out.insert("ip_address".into(), ip);
    }
    for key in ["id", "email", "username", "name", "ip_address"] {
        out.entry(key).or_insert(Value::Null);
    }
    Value::Object(out)
}

/// The full event as Sentry's event-details endpoints return it, with
/// interfaces as `entries`.
pub fn event_detail(stored: &ProcessedEvent, grouping_hash: Option<&str>) -> Value {
    let event = &stored.event;
    let mut detail = event_summary(stored);
    let mut entries = Vec::new();
    if !event.exception.is_empty() {
        entries.push(json!({"type": "exception", "data": exception_entry(event)}));
    }
    if let Some(entry) = &event.logentry {
        entries.push(json!({"type": "message", "data": {
            "formatted": entry.text(),
            "message": entry.message,
            "params": entry.params,
        }}));
    }
    if !event.breadcrumbs.is_empty() {
        entries.push(json!({"type": "breadcrumbs", "data": {"values": event.breadcrumbs}}));
    }
    if let Some(request) = &event.request {
        entries.push(json!({"type": "request", "data": request_entry(request)}));
    }
    if !event.debug_images.is_empty() {
        // Sentry's `debugmeta` interface: the images frames are looked up by.
        entries.push(json!({"type": "debugmeta", "data": {"images": event.debug_images}}));
    }
    let fields = detail.as_object_mut().expect("summary is an object");
    fields.insert("entries".into(), Value::Array(entries));
    fields.insert("contexts".into(), Value::Object(event.contexts.clone()));
    fields.insert("context".into(), Value::Object(event.extra.clone()));
    fields.insert("sdk".into(), event.sdk.clone().unwrap_or(Value::Null));
    fields.insert("packages".into(), Value::Object(event.modules.clone()));
    fields.insert(
        "release".into(),
        event
            .release
            .as_ref()
            .map(|v| json!({"version": v}))
            .unwrap_or(Value::Null),
    );
    fields.insert("dist".into(), json!(event.dist));
    fields.insert("environment".into(), json!(event.environment));
    fields.insert(
        "fingerprints".into(),
        json!(grouping_hash.map(|h| vec![h]).unwrap_or_default()),
    );
    fields.insert("errors".into(), json!([]));
    fields.insert("metadata".into(), json!({"title": stored.title}));
    fields.insert(
        "size".into(),
        json!(serde_json::to_vec(event).map(|v| v.len()).unwrap_or(0)),
    );
    fields.insert("_meta".into(), json!({}));
    detail
}

fn exception_entry(event: &Event) -> Value {
    let mut has_system = false;
    let values: Vec<Value> = event
        .exception
        .iter()
        .map(|exc| {
            let stacktrace = exc.stacktrace.as_ref().map(|st| {
                has_system |= st.frames.iter().any(|f| f.in_app != Some(true));
                stacktrace_json(st)
            });
            json!({
                "type": exc.ty,
                "value": exc.value,
                "module": exc.module,
                "mechanism": exc.mechanism,
                "threadId": exc.thread_id,
                "stacktrace": stacktrace,
                "rawStacktrace": exc.raw_stacktrace.as_ref().map(stacktrace_json),
            })
        })
        .collect();
    json!({"values": values, "hasSystemFrames": has_system, "excOmitted": null})
}

fn stacktrace_json(st: &Stacktrace) -> Value {
    json!({
        "frames": st.frames.iter().map(frame).collect::<Vec<_>>(),
        "framesOmitted": null,
        "registers": null,
        "hasSystemFrames": st.frames.iter().any(|f| f.in_app != Some(true)),
    })
}

/// A frame's source lines with their numbers, and whether each is the
/// frame's own line, for the API and the dashboard. The numbers come from
/// the SDK: near `u64::MAX` they saturate rather than overflow.
pub fn numbered_context(f: &Frame) -> Vec<(u64, &str, bool)> {
    let mut context = Vec::new();
    if let Some(line) = f.lineno {
        let start = line.saturating_sub(f.pre_context.len() as u64);
        for (i, text) in f.pre_context.iter().enumerate() {
            context.push((start.saturating_add(i as u64), text.as_str(), false));
        }
        if let Some(text) = &f.context_line {
            context.push((line, text.as_str(), true));
        }
        for (i, text) in f.post_context.iter().enumerate() {
            context.push((line.saturating_add(1 + i as u64), text.as_str(), false));
        }
    }
    context
}

fn frame(f: &Frame) -> Value {
    // Sentry returns source context as [[lineno, line], ...].
    let context: Vec<Value> = numbered_context(f)
        .into_iter()
        .map(|(n, text, _)| json!([n, text]))
        .collect();
    json!({
        "filename": f.filename,
        "absPath": f.abs_path,
        "module": f.module,
        "package": f.package,
        "platform": f.platform,
        "function": f.function,
        "rawFunction": f.raw_function,
        "symbol": f.symbol,
        "lineNo": f.lineno,
        "colNo": f.colno,
        "inApp": f.in_app.unwrap_or(false),
        "context": context,
        "vars": f.vars,
        "instructionAddr": f.instruction_addr,
        "trust": null,
        "errors": null,
        // How symbolication resolved the frame, or why it did not.
        "data": f.data.clone().unwrap_or_default(),
    })
}

fn request_entry(request: &Value) -> Value {
    let pairs = |v: Option<&Value>| -> Value {
        match v {
            Some(Value::Object(map)) => {
                Value::Array(map.iter().map(|(k, v)| json!([k, v])).collect())
            }
            Some(other) => other.clone(),
            None => Value::Null,
        }
    };
    json!({
        "url": request.get("url"),
        "method": request.get("method"),
        "headers": pairs(request.get("headers")),
        "query": pairs(request.get("query_string")),
        "cookies": pairs(request.get("cookies")),
        "env": request.get("env"),
        "data": request.get("data"),
        "fragment": request.get("fragment"),
        "inferredContentType": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_line_numbers_saturate() {
        let frame = Frame {
            lineno: Some(u64::MAX),
            pre_context: vec!["a".into()],
            context_line: Some("b".into()),
            post_context: vec!["c".into()],
            ..Frame::default()
        };
        assert_eq!(
            numbered_context(&frame),
            vec![
                (u64::MAX - 1, "a", false),
                (u64::MAX, "b", true),
                (u64::MAX, "c", false)
            ]
        );
    }
}
