//! Sentry's default grouping, as far as users can observe it: which events
//! become one issue, and the title, culprit and metadata.
//!
//! Order of precedence: a custom `fingerprint` (with `{{ default }}`
//! expansion); else the exception chain's in-app frames (module or normalised
//! filename plus function, never line numbers); else exception type and value;
//! else the message template. Pure functions, no I/O.

use faultline_protocol::{Event, Exception, Frame};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod normalize;

use normalize::{frame_function, frame_location};

/// What grouping decides about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    /// 32 hex digits; events with equal hashes in one project are one issue.
    pub hash: String,
    pub title: String,
    pub culprit: String,
    pub metadata: Metadata,
}

/// The `metadata` object of Sentry's issue API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

const TITLE_VALUE_CHARS: usize = 100;

pub fn group(event: &Event) -> Grouping {
    // JavaScript SDKs attach a synthetic, typeless exception (only there to
    // carry the call site's stack) to captured messages; such an event is a
    // message event and groups and titles as one.
    let stripped;
    let event = if is_synthetic_message(event) {
        stripped = Event {
            exception: Vec::new(),
            ..event.clone()
        };
        &stripped
    } else {
        event
    };
    let components = match &event.fingerprint {
        Some(fingerprint) if !fingerprint.is_empty() => expand_fingerprint(fingerprint, event),
        _ => default_components(event),
    };
    let mut hasher = Sha256::new();
    for component in &components {
        hasher.update(component.as_bytes());
        // A separator that cannot appear inside a component keeps
        // ["ab", "c"] and ["a", "bc"] apart.
        hasher.update([0u8]);
    }
    let hash = hex::encode(&hasher.finalize()[..16]);

    let top_frame = event.main_exception().and_then(culprit_frame);
    let (title, metadata) = match event.main_exception() {
        Some(exc) => {
            let ty = exc.ty.clone().unwrap_or_else(|| "Error".to_owned());
            let title = match exc
                .value
                .as_deref()
                .map(first_line)
                .filter(|v| !v.is_empty())
            {
                Some(value) => format!("{ty}: {}", truncate_chars(value, TITLE_VALUE_CHARS)),
                None => ty.clone(),
            };
            let metadata = Metadata {
                ty: Some(ty),
                value: exc.value.clone(),
                filename: top_frame.and_then(|f| f.filename.clone()),
                function: top_frame.and_then(|f| f.function.clone()),
                title: None,
            };
            (title, metadata)
        }
        None => {
            let title = event
                .logentry
                .as_ref()
                .and_then(|l| l.text())
                .map(first_line)
                .filter(|t| !t.is_empty())
                .map(|t| truncate_chars(t, TITLE_VALUE_CHARS))
                .unwrap_or_else(|| "<unlabeled event>".to_owned());
            let metadata = Metadata {
                title: Some(title.clone()),
                ..Metadata::default()
            };
            (title, metadata)
        }
    };
    let culprit = top_frame
        .map(|f| culprit_for_frame(f, &event.platform))
        .filter(|c| !c.is_empty())
        .or_else(|| event.transaction.clone())
        .unwrap_or_default();
    Grouping {
        hash,
        title,
        culprit,
        metadata,
    }
}

fn is_synthetic_message(event: &Event) -> bool {
    event.logentry.is_some()
        && event.exception.len() == 1
        && event.exception[0].ty.is_none()
        && event.exception[0]
            .mechanism
            .as_ref()
            .and_then(|m| m.get("synthetic"))
            .and_then(serde_json::Value::as_bool)
            == Some(true)
}

fn expand_fingerprint(fingerprint: &[String], event: &Event) -> Vec<String> {
    let mut out = Vec::new();
    for part in fingerprint {
        let variable = part
            .strip_prefix("{{")
            .and_then(|p| p.strip_suffix("}}"))
            .map(|v| v.trim().to_ascii_lowercase());
        match variable.as_deref() {
            Some("default") => out.extend(default_components(event)),
            Some("type") => out.push(format!(
                "type:{}",
                event
                    .main_exception()
                    .and_then(|e| e.ty.as_deref())
                    .unwrap_or("<no-type>")
            )),
            Some("message") => {
                out.push(format!("message:{}", message_template(event).unwrap_or("")))
            }
            Some("transaction") => out.push(format!(
                "transaction:{}",
                event.transaction.as_deref().unwrap_or("")
            )),
            Some("level") => out.push(format!("level:{}", event.level.as_str())),
            _ => out.push(format!("custom:{part}")),
        }
    }
    out
}

fn message_template(event: &Event) -> Option<&str> {
    let entry = event.logentry.as_ref()?;
    entry.message.as_deref().or(entry.formatted.as_deref())
}

fn default_components(event: &Event) -> Vec<String> {
    if !event.exception.is_empty() {
        // Sentry's "app" variant: only in-app frames count, unless the event
        // has none, in which case every frame does (its "system" variant).
        let any_in_app = event
            .exception
            .iter()
            .flat_map(frames)
            .any(|f| f.in_app == Some(true));
        let mut out = Vec::new();
        for exc in &event.exception {
            let ty = exc.ty.as_deref().unwrap_or("Error");
            out.push(format!("type:{ty}"));
            let contributing: Vec<String> = frames(exc)
                .filter(|f| !any_in_app || f.in_app == Some(true))
                .filter_map(frame_component)
                .collect();
            if contributing.is_empty() {
                out.push(format!("value:{}", exc.value.as_deref().unwrap_or("")));
            } else {
                out.extend(contributing);
            }
        }
        return out;
    }
    match message_template(event) {
        Some(template) => vec![format!("message:{template}")],
        None => vec!["fallback".to_owned()],
    }
}

fn frames(exc: &Exception) -> impl Iterator<Item = &Frame> {
    exc.stacktrace.iter().flat_map(|s| s.frames.iter())
}

fn frame_component(frame: &Frame) -> Option<String> {
    let location = frame_location(frame);
    let function = frame_function(frame);
    if location.is_none() && function.is_none() {
        return None;
    }
    Some(format!(
        "frame:{}|{}",
        location.unwrap_or_default(),
        function.unwrap_or_default()
    ))
}

/// The frame the culprit names: the innermost in-app frame, else the
/// innermost frame.
fn culprit_frame(exc: &Exception) -> Option<&Frame> {
    let frames = &exc.stacktrace.as_ref()?.frames;
    frames
        .iter()
        .rev()
        .find(|f| f.in_app == Some(true))
        .or_else(|| frames.last())
}

fn culprit_for_frame(frame: &Frame, platform: &str) -> String {
    let Some(location) = frame.module.as_deref().or(frame.filename.as_deref()) else {
        return String::new();
    };
    let function = frame.function.as_deref().unwrap_or("?");
    match platform {
        "javascript" | "node" => format!("{function}({location})"),
        _ => format!("{location} in {function}"),
    }
}

fn first_line(s: &str) -> &str {
    s.trim().lines().next().unwrap_or("").trim()
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests;
