//! Turns an SDK's event JSON (attacker-controlled, loosely typed, shaped by a
//! dozen SDK generations) into an [`Event`]. Wrongly typed fields are dropped,
//! not fatal: an SDK bug in one field must not lose the whole error report.

use std::cell::Cell;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::event::{DebugImage, Event, Exception, Frame, Level, LogEntry, Stacktrace};
use crate::ids::EventId;

/// Why an event payload cannot be kept. relay answers these as its 400's
/// detail (`invalid event payload: …`), so they read as a reason.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("not valid UTF-8 (at byte {0})")]
    InvalidUtf8(usize),
    #[error("not valid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
    #[error("JSON nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    #[error("not a JSON object")]
    NotAnObject,
}

/// Deepest nesting of objects and arrays an event may have, the event
/// itself being the first level. SDKs trim their data to a handful of
/// levels, so only broken or hostile payloads go deeper. It stays well below
/// serde_json's own limit (128), which every later reader of the event is
/// held to: stored, the event sits a level or two deeper (inside
/// `ProcessedEvent`, inside an API answer).
pub const MAX_JSON_DEPTH: usize = 100;

/// Caps that keep one event's stored size bounded whatever an SDK sends.
pub mod caps {
    pub const MESSAGE: usize = 8192;
    pub const SHORT_STRING: usize = 512;
    pub const TAG_KEY: usize = 200;
    pub const TAG_VALUE: usize = 200;
    pub const TAGS: usize = 200;
    pub const BREADCRUMBS: usize = 100;
    pub const EXCEPTIONS: usize = 25;
    pub const FRAMES: usize = 250;
    pub const CONTEXT_LINES: usize = 10;
    /// `debug_meta.images` kept (native apps load a few hundred modules).
    pub const DEBUG_IMAGES: usize = 1000;
}

#[derive(Debug, Clone)]
pub struct NormalizeOptions {
    pub received: DateTime<Utc>,
    /// Replaces `{{auto}}` in `user.ip_address`.
    pub client_ip: Option<String>,
    /// Used when the payload has no valid `event_id`.
    pub fallback_event_id: Option<EventId>,
    /// Timestamps further in the future than this are replaced by `received`.
    pub max_future_skew: Duration,
    /// Timestamps older than this are replaced by `received`.
    pub max_age: Duration,
}

impl NormalizeOptions {
    pub fn new(received: DateTime<Utc>) -> Self {
        NormalizeOptions {
            received,
            client_ip: None,
            fallback_event_id: None,
            max_future_skew: Duration::minutes(1),
            max_age: Duration::days(30),
        }
    }
}

const PLATFORMS: &[&str] = &[
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "go",
    "groovy",
    "haskell",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
    "rust",
    "dart",
    "swift",
];

pub fn normalize_event(payload: &[u8], opts: &NormalizeOptions) -> Result<Event, NormalizeError> {
    // No second `check_event_json` here: relay ran it before answering 200,
    // and it accepts nothing this parse refuses (its depth limit is below
    // serde_json's 128). Walking every event twice cost the devserver about
    // 15% more CPU per event (`cargo xtask bench ingest`).
    let Value::Object(raw) = serde_json::from_slice::<Value>(payload)? else {
        return Err(NormalizeError::NotAnObject);
    };
    Ok(normalize_object(raw, opts))
}

/// Checks that `payload` is an event [`normalize_event`] will keep: UTF-8,
/// JSON that parses as a `serde_json::Value` would (every string decoded,
/// lone surrogate escapes refused, every number parsed), an object, nested
/// at most [`MAX_JSON_DEPTH`] levels. Returns its `event_id` when it names
/// a valid one. Nothing is built, so relay can afford it on every item.
pub fn check_event_json(payload: &[u8]) -> Result<Option<EventId>, NormalizeError> {
    let text =
        std::str::from_utf8(payload).map_err(|e| NormalizeError::InvalidUtf8(e.valid_up_to()))?;
    let first = text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(b'{') {
        return Err(NormalizeError::NotAnObject);
    }
    let too_deep = Cell::new(false);
    let walk = Walk {
        depth: 0,
        too_deep: &too_deep,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let checked = serde::Deserializer::deserialize_map(&mut de, TopLevel(walk))
        .and_then(|id| de.end().map(|()| id));
    match checked {
        Ok(id) => Ok(id),
        Err(_) if too_deep.get() => Err(NormalizeError::TooDeep),
        Err(e) => Err(NormalizeError::InvalidJson(e)),
    }
}

/// Walks one JSON value the way building a `serde_json::Value` does,
/// without building it, and stops past [`MAX_JSON_DEPTH`].
#[derive(Clone, Copy)]
struct Walk<'a> {
    /// Objects and arrays around the value being walked.
    depth: usize,
    /// Set when the walk stopped for depth: serde_json's errors carry no
    /// type to tell that apart from a syntax error.
    too_deep: &'a Cell<bool>,
}

impl Walk<'_> {
    /// The walk one level further in, or an error past the limit.
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > MAX_JSON_DEPTH {
            self.too_deep.set(true);
            return Err(E::custom(NormalizeError::TooDeep));
        }
        Ok(Walk { depth, ..self })
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

/// The event object: walked like any object, noting its `event_id` (the
/// last one, as a `Value` keeps the last of repeated keys).
struct TopLevel<'a>(Walk<'a>);

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Option<EventId>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<EventId>, A::Error> {
        let inner = self.0.enter()?;
        let mut event_id = None;
        while let Some(is_event_id) = map.next_key_seed(IsEventIdKey)? {
            if is_event_id {
                event_id = map.next_value_seed(EventIdValue(inner))?;
            } else {
                map.next_value_seed(inner)?;
            }
        }
        Ok(event_id)
    }
}

/// A key of the event object: whether it is `event_id`.
struct IsEventIdKey;

impl<'de> DeserializeSeed<'de> for IsEventIdKey {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IsEventIdKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == "event_id")
    }
}

/// The value of `event_id`: an id when it is a string that parses as one,
/// walked like any other value otherwise.
struct EventIdValue<'a>(Walk<'a>);

impl<'de> DeserializeSeed<'de> for EventIdValue<'_> {
    type Value = Option<EventId>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<EventId>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventIdValue<'_> {
    type Value = Option<EventId>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event id")
    }

    fn visit_str<E>(self, s: &str) -> Result<Option<EventId>, E> {
        Ok(s.parse().ok())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Option<EventId>, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Option<EventId>, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Option<EventId>, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Option<EventId>, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Option<EventId>, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<EventId>, A::Error> {
        self.0.visit_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<EventId>, A::Error> {
        self.0.visit_map(map).map(|()| None)
    }
}

pub fn normalize_object(mut raw: Map<String, Value>, opts: &NormalizeOptions) -> Event {
    let event_id = str_field(&raw, "event_id")
        .and_then(|s| s.parse().ok())
        .or(opts.fallback_event_id)
        .unwrap_or_else(EventId::new_random);

    let timestamp = raw
        .get("timestamp")
        .and_then(parse_timestamp)
        .filter(|ts| {
            *ts <= opts.received + opts.max_future_skew && *ts >= opts.received - opts.max_age
        })
        .unwrap_or(opts.received);

    let exception = normalize_exceptions(raw.get("exception"));
    let level = str_field(&raw, "level")
        .and_then(Level::parse)
        .unwrap_or(Level::Error);
    let platform = str_field(&raw, "platform")
        .filter(|p| PLATFORMS.contains(p))
        .unwrap_or("other")
        .to_owned();

    let logentry = normalize_logentry(raw.get("logentry"), raw.get("message"));
    let user = normalize_user(raw.remove("user"), opts.client_ip.as_deref());
    let contexts = object(raw.remove("contexts"));
    let request = raw.remove("request").filter(Value::is_object);
    let breadcrumbs = normalize_breadcrumbs(raw.remove("breadcrumbs"));
    let fingerprint = raw
        .get("fingerprint")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(scalar_to_string)
                .map(|s| truncate(&s, caps::SHORT_STRING))
                .collect::<Vec<_>>()
        });

    let mut event = Event {
        event_id,
        timestamp,
        received: opts.received,
        level,
        platform,
        logger: short_string(&raw, "logger"),
        transaction: short_string(&raw, "transaction"),
        server_name: short_string(&raw, "server_name"),
        release: short_string(&raw, "release"),
        dist: short_string(&raw, "dist"),
        environment: short_string(&raw, "environment"),
        logentry,
        exception,
        tags: Vec::new(),
        user,
        contexts,
        breadcrumbs,
        request,
        extra: object(raw.remove("extra")),
        sdk: raw.remove("sdk").filter(Value::is_object),
        modules: object(raw.remove("modules")),
        fingerprint: fingerprint.filter(|f| !f.is_empty()),
        debug_images: normalize_debug_images(raw.get("debug_meta")),
    };
    event.tags = build_tags(raw.get("tags"), &event);
    event
}

/// `debug_meta.images`: objects with a `type`, their known fields only,
/// strings cut to [`caps::SHORT_STRING`], at most [`caps::DEBUG_IMAGES`].
fn normalize_debug_images(debug_meta: Option<&Value>) -> Vec<DebugImage> {
    let Some(images) = debug_meta
        .and_then(|m| m.get("images"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    images
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|image| {
            let text = |key: &str| {
                image
                    .get(key)
                    .and_then(scalar_to_string)
                    .map(|s| truncate(s.trim(), caps::SHORT_STRING))
                    .filter(|s| !s.is_empty())
            };
            Some(DebugImage {
                ty: text("type")?,
                debug_id: text("debug_id"),
                debug_file: text("debug_file"),
                code_id: text("code_id"),
                code_file: text("code_file"),
                image_addr: text("image_addr"),
                image_size: image.get("image_size").and_then(Value::as_u64),
                image_vmaddr: text("image_vmaddr"),
                arch: text("arch"),
            })
        })
        .take(caps::DEBUG_IMAGES)
        .collect()
}

fn str_field<'a>(raw: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    raw.get(key).and_then(Value::as_str)
}

fn short_string(raw: &Map<String, Value>, key: &str) -> Option<String> {
    str_field(raw, key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| truncate(s, caps::SHORT_STRING))
}

fn object(value: Option<Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Cuts at a character boundary so multibyte text never splits.
pub fn truncate(s: &str, max_bytes: usize) -> String {
    if s.len() <= max_bytes {
        return s.to_owned();
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn parse_timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => {
            let secs = n.as_f64()?;
            if !secs.is_finite() || !(0.0..=1e11).contains(&secs) {
                return None;
            }
            let whole = secs.trunc() as i64;
            let nanos = ((secs - secs.trunc()) * 1e9) as u32;
            Utc.timestamp_opt(whole, nanos).single()
        }
        Value::String(s) => {
            if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
                return Some(dt.with_timezone(&Utc));
            }
            // Older SDKs send naive UTC timestamps without an offset.
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
                .or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .and_then(|f| parse_timestamp(&Value::from(f)))
                })
        }
        _ => None,
    }
}

fn normalize_logentry(logentry: Option<&Value>, message: Option<&Value>) -> Option<LogEntry> {
    let mut entry = match logentry {
        Some(Value::Object(obj)) => LogEntry {
            message: obj
                .get("message")
                .and_then(Value::as_str)
                .map(|s| truncate(s, caps::MESSAGE)),
            formatted: obj
                .get("formatted")
                .and_then(Value::as_str)
                .map(|s| truncate(s, caps::MESSAGE)),
            params: obj
                .get("params")
                .filter(|p| p.is_array() || p.is_object())
                .cloned(),
        },
        Some(Value::String(s)) => LogEntry {
            message: Some(truncate(s, caps::MESSAGE)),
            ..LogEntry::default()
        },
        _ => LogEntry::default(),
    };
    // The legacy `message` attribute: a string or an object like logentry.
    match message {
        Some(Value::String(s)) if entry.message.is_none() && entry.formatted.is_none() => {
            entry.message = Some(truncate(s, caps::MESSAGE));
        }
        Some(Value::Object(_)) if entry.message.is_none() && entry.formatted.is_none() => {
            return normalize_logentry(message, None);
        }
        _ => {}
    }
    if entry.message.is_none() && entry.formatted.is_none() {
        return None;
    }
    if entry.formatted.is_none()
        && let (Some(template), Some(Value::Array(params))) = (&entry.message, &entry.params)
    {
        entry.formatted = Some(format_percent(template, params));
    }
    if entry.formatted == entry.message {
        entry.formatted = None;
    }
    Some(entry)
}

/// Fills `%s`/`%d`-style placeholders in order, as Python's logging does.
fn format_percent(template: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut params = params.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('%') => {
                chars.next();
                out.push('%');
            }
            Some(spec) if spec.is_ascii_alphabetic() => {
                chars.next();
                match params.next() {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => out.push('%'),
                }
            }
            _ => out.push('%'),
        }
    }
    truncate(&out, caps::MESSAGE)
}

fn normalize_exceptions(value: Option<&Value>) -> Vec<Exception> {
    let values = match value {
        Some(Value::Object(obj)) => match obj.get("values") {
            Some(Value::Array(values)) => values.as_slice(),
            // A single exception object without the `values` wrapper.
            _ if obj.contains_key("type") || obj.contains_key("value") => {
                std::slice::from_ref(value.expect("matched Some"))
            }
            _ => &[],
        },
        Some(Value::Array(values)) => values.as_slice(),
        _ => &[],
    };
    let skip = values.len().saturating_sub(caps::EXCEPTIONS);
    values
        .iter()
        .skip(skip)
        .filter_map(Value::as_object)
        .map(normalize_exception)
        .filter(|e| e.ty.is_some() || e.value.is_some() || e.stacktrace.is_some())
        .collect()
}

fn normalize_exception(obj: &Map<String, Value>) -> Exception {
    let mut ty = obj
        .get("type")
        .and_then(Value::as_str)
        .map(|s| truncate(s, caps::SHORT_STRING));
    let mut value = obj
        .get("value")
        .and_then(scalar_to_string)
        .map(|s| truncate(&s, caps::MESSAGE));
    // Some SDKs put "Type: value" into value only.
    if ty.is_none()
        && let Some((t, v)) = value.as_deref().and_then(|v| v.split_once(": "))
        && !t.is_empty()
        && !t.contains(char::is_whitespace)
    {
        let (t, v) = (t.to_owned(), v.to_owned());
        ty = Some(t);
        value = Some(v);
    }
    Exception {
        ty,
        value,
        module: obj
            .get("module")
            .and_then(Value::as_str)
            .map(|s| truncate(s, caps::SHORT_STRING)),
        mechanism: obj.get("mechanism").filter(|m| m.is_object()).cloned(),
        stacktrace: obj.get("stacktrace").and_then(normalize_stacktrace),
        // Symbolication's, never the SDK's.
        raw_stacktrace: None,
        thread_id: obj
            .get("thread_id")
            .filter(|t| t.is_number() || t.is_string())
            .cloned(),
    }
}

fn normalize_stacktrace(value: &Value) -> Option<Stacktrace> {
    let frames = value.get("frames")?.as_array()?;
    // Keep the frames nearest the crash when there are too many.
    let skip = frames.len().saturating_sub(caps::FRAMES);
    let frames: Vec<Frame> = frames
        .iter()
        .skip(skip)
        .filter_map(Value::as_object)
        .map(normalize_frame)
        .collect();
    (!frames.is_empty()).then_some(Stacktrace { frames })
}

fn normalize_frame(obj: &Map<String, Value>) -> Frame {
    let s = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| truncate(s, caps::SHORT_STRING))
    };
    let lines = |key: &str| -> Vec<String> {
        obj.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                let skip = a.len().saturating_sub(caps::CONTEXT_LINES);
                a.iter()
                    .skip(skip)
                    .map(|l| {
                        l.as_str()
                            .map(|l| truncate(l, caps::SHORT_STRING))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let number = |key: &str| {
        obj.get(key)
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    };
    let mut frame = Frame {
        filename: s("filename"),
        abs_path: s("abs_path"),
        function: s("function"),
        raw_function: s("raw_function"),
        module: s("module"),
        package: s("package"),
        platform: s("platform"),
        lineno: number("lineno"),
        colno: number("colno"),
        pre_context: lines("pre_context"),
        context_line: s("context_line"),
        post_context: lines("post_context"),
        in_app: obj.get("in_app").and_then(Value::as_bool),
        vars: obj.get("vars").filter(|v| v.is_object()).cloned(),
        instruction_addr: s("instruction_addr"),
        symbol: s("symbol"),
        // What symbolication says about the frame: the server's own.
        data: None,
    };
    if frame.filename.is_none() {
        frame.filename = frame.abs_path.clone();
    }
    if frame.in_app.is_none() {
        frame.in_app = Some(!looks_like_library(&frame));
    }
    frame
}

/// For frames an SDK did not mark: third-party and runtime code is not the
/// user's app. Mirrors what the official SDKs decide when they do mark frames.
fn looks_like_library(frame: &Frame) -> bool {
    let path = frame
        .abs_path
        .as_deref()
        .or(frame.filename.as_deref())
        .unwrap_or("");
    let function = frame.function.as_deref().unwrap_or("");
    const LIBRARY_PATHS: &[&str] = &[
        "/node_modules/",
        "site-packages/",
        "dist-packages/",
        "/.cargo/registry/",
        "/rustc/",
        "node:internal",
        "/usr/lib/python",
    ];
    const RUNTIME_FUNCTIONS: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "<std::",
        "<core::",
        "<alloc::",
        "sentry::",
        "sentry_core::",
        "sentry_backtrace::",
        "sentry_panic::",
        "backtrace::",
        "test::",
        "tokio::",
        "__rust",
        "_start",
        "__libc_start",
    ];
    LIBRARY_PATHS.iter().any(|p| path.contains(p))
        || RUNTIME_FUNCTIONS.iter().any(|p| function.starts_with(p))
        || path.starts_with("node:")
}

fn normalize_user(value: Option<Value>, client_ip: Option<&str>) -> Option<Map<String, Value>> {
    let Some(Value::Object(mut user)) = value else {
        return None;
    };
    for key in ["id", "email", "username", "name", "ip_address", "segment"] {
        match user.get(key) {
            Some(Value::String(s)) if s.is_empty() => {
                user.remove(key);
            }
            Some(Value::String(_)) | None => {}
            Some(v) => match scalar_to_string(v) {
                Some(s) => {
                    user.insert(key.to_owned(), Value::String(s));
                }
                None => {
                    user.remove(key);
                }
            },
        }
    }
    if user.get("ip_address").and_then(Value::as_str) == Some("{{auto}}") {
        match client_ip {
            Some(ip) => user.insert("ip_address".into(), Value::String(ip.to_owned())),
            None => user.remove("ip_address"),
        };
    }
    (!user.is_empty()).then_some(user)
}

fn normalize_breadcrumbs(value: Option<Value>) -> Vec<Value> {
    let list = match value {
        Some(Value::Object(mut obj)) => match obj.remove("values") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        },
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    // The most recent breadcrumbs matter most; Sentry keeps the last 100.
    let skip = list.len().saturating_sub(caps::BREADCRUMBS);
    list.into_iter()
        .skip(skip)
        .filter(Value::is_object)
        .map(|mut crumb| {
            if let Some(ts) = crumb.get("timestamp").and_then(parse_timestamp) {
                crumb["timestamp"] =
                    Value::String(ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            }
            crumb
        })
        .collect()
}

/// SDK tags (object, `[[k, v]]` or `[{key, value}]`), then the tags Sentry
/// derives from event fields, which win over SDK tags of the same name.
fn build_tags(raw_tags: Option<&Value>, event: &Event) -> Vec<(String, String)> {
    let mut sdk_tags: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            sdk_tags.push((k.to_owned(), v));
        }
    };
    match raw_tags {
        Some(Value::Object(obj)) => obj.iter().for_each(|(k, v)| push(k, scalar_to_string(v))),
        Some(Value::Array(list)) => {
            for entry in list {
                match entry {
                    Value::Array(pair) if pair.len() == 2 => {
                        if let Some(k) = pair[0].as_str() {
                            push(k, scalar_to_string(&pair[1]));
                        }
                    }
                    Value::Object(obj) => {
                        if let Some(k) = obj.get("key").and_then(Value::as_str) {
                            push(k, obj.get("value").and_then(scalar_to_string));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }

    let derived = derived_tags(event);
    let mut tags: Vec<(String, String)> = Vec::new();
    for (k, v) in sdk_tags.into_iter().chain(derived.iter().cloned()) {
        let k = truncate(k.trim(), caps::TAG_KEY);
        let v = truncate(v.trim(), caps::TAG_VALUE);
        if k.is_empty() || v.is_empty() || k.contains(char::is_whitespace) {
            continue;
        }
        if let Some(existing) = tags.iter_mut().find(|(ek, _)| *ek == k) {
            if derived.iter().any(|(dk, _)| *dk == k) {
                existing.1 = v;
            }
            continue;
        }
        if tags.len() < caps::TAGS {
            tags.push((k, v));
        }
    }
    tags
}

fn derived_tags(event: &Event) -> Vec<(String, String)> {
    let mut tags = vec![("level".to_owned(), event.level.as_str().to_owned())];
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            tags.push((k.to_owned(), v.to_owned()));
        }
    };
    add("environment", event.environment.as_deref());
    add("release", event.release.as_deref());
    add("dist", event.dist.as_deref());
    add("server_name", event.server_name.as_deref());
    add("transaction", event.transaction.as_deref());
    add("logger", event.logger.as_deref());
    if let Some(mechanism) = event.main_exception().and_then(|e| e.mechanism.as_ref()) {
        add("mechanism", mechanism.get("type").and_then(Value::as_str));
        if let Some(handled) = mechanism.get("handled").and_then(Value::as_bool) {
            add("handled", Some(if handled { "yes" } else { "no" }));
        }
    }
    let context = |name: &str, field: &str| {
        event
            .contexts
            .get(name)
            .and_then(|c| c.get(field))
            .and_then(Value::as_str)
    };
    let name_version = |name: &str| {
        let n = context(name, "name")?;
        Some(match context(name, "version") {
            Some(v) => format!("{n} {v}"),
            None => n.to_owned(),
        })
    };
    add("os", name_version("os").as_deref());
    add("os.name", context("os", "name"));
    add("runtime", name_version("runtime").as_deref());
    add("runtime.name", context("runtime", "name"));
    add("browser", name_version("browser").as_deref());
    add("browser.name", context("browser", "name"));
    add("device", context("device", "model"));
    add(
        "url",
        event
            .request
            .as_ref()
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str),
    );
    add("user", event.user_tag().as_deref());
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts() -> NormalizeOptions {
        NormalizeOptions::new(Utc.with_ymd_and_hms(2026, 11, 23, 13, 17, 20).unwrap())
    }

    fn norm(v: Value) -> Event {
        normalize_event(v.to_string().as_bytes(), &opts()).unwrap()
    }

    #[test]
    fn python_exception_chain() {
        let ev = norm(json!({
            "event_id": "4b96a58379d24cd38f4785854f2682bf",
            "timestamp": "2026-11-23T13:17:13.104545Z",
            "platform": "python", "level": "error", "release": "app@1", "environment": "production",
            "exception": {"values": [
                {"type": "ZeroDivisionError", "value": "division by zero", "mechanism": {"type": "generic", "handled": true},
                 "stacktrace": {"frames": [{"filename": "main.py", "function": "load_order", "module": "__main__", "lineno": 33, "in_app": true}]}},
                {"type": "OrderError", "value": "failed", "mechanism": {"type": "generic", "handled": false},
                 "stacktrace": {"frames": [{"filename": "main.py", "function": "process", "module": "__main__", "lineno": "42"}]}}
            ]},
            "user": {"id": 42, "ip_address": "{{auto}}"},
            "tags": {"feature": "checkout", "level": "bogus"}
        }));
        assert_eq!(ev.exception.len(), 2);
        assert_eq!(
            ev.main_exception().unwrap().ty.as_deref(),
            Some("OrderError")
        );
        let frame = &ev.exception[1].stacktrace.as_ref().unwrap().frames[0];
        assert_eq!(frame.lineno, Some(42));
        assert_eq!(frame.in_app, Some(true));
        assert_eq!(ev.timestamp.timestamp(), 1_795_439_833);
        assert_eq!(ev.user.as_ref().unwrap()["id"], "42");
        assert!(!ev.user.as_ref().unwrap().contains_key("ip_address"));
        assert_eq!(ev.tag("feature"), Some("checkout"));
        assert_eq!(ev.tag("level"), Some("error"));
        assert_eq!(ev.tag("handled"), Some("no"));
        assert_eq!(ev.tag("user"), Some("id:42"));
        assert_eq!(ev.tag("environment"), Some("production"));
    }

    #[test]
    fn debug_meta_images_are_kept_bounded() {
        let mut images = vec![
            json!({"type": "sourcemap", "code_file": "app:///bundle.min.js", "debug_id": "c941d872-b1a4-4b16-8f6b-1b7ac5f3c0a1"}),
            json!({"type": "elf", "code_file": "/usr/lib/libc.so.6", "debug_id": "a1b2", "image_addr": "0x7f00", "image_size": 4096, "arch": "x86_64", "extra": "dropped"}),
            json!({"code_file": "no type"}),
            json!("not an object"),
        ];
        images.extend(
            (0..2000).map(|i| json!({"type": "sourcemap", "code_file": format!("f{i}.js")})),
        );
        let ev = norm(json!({"message": "m", "debug_meta": {"images": images}}));
        assert_eq!(ev.debug_images.len(), caps::DEBUG_IMAGES);
        assert_eq!(ev.debug_images[0].ty, "sourcemap");
        assert_eq!(
            ev.debug_images[0].debug_id.as_deref(),
            Some("c941d872-b1a4-4b16-8f6b-1b7ac5f3c0a1")
        );
        assert_eq!(ev.debug_images[1].image_size, Some(4096));
        assert_eq!(ev.debug_images[1].image_addr.as_deref(), Some("0x7f00"));
        assert_eq!(ev.debug_images[2].code_file.as_deref(), Some("f0.js"));
        // Absent or malformed: nothing, and nothing fails.
        assert!(norm(json!({"message": "m"})).debug_images.is_empty());
        assert!(
            norm(json!({"message": "m", "debug_meta": {"images": 7}}))
                .debug_images
                .is_empty()
        );
    }

    #[test]
    fn wrong_types_are_dropped_not_fatal() {
        let ev = norm(json!({
            "level": 7, "platform": "klingon", "timestamp": "yesterday", "tags": "nope",
            "exception": "broken", "user": [1], "breadcrumbs": {"values": [1, {"message": "ok"}]},
            "fingerprint": ["a", 1, null]
        }));
        assert_eq!(ev.level, Level::Error);
        assert_eq!(ev.platform, "other");
        assert_eq!(ev.timestamp, opts().received);
        assert!(ev.exception.is_empty() && ev.user.is_none());
        assert_eq!(ev.breadcrumbs.len(), 1);
        assert_eq!(ev.fingerprint, Some(vec!["a".to_owned(), "1".to_owned()]));
        assert!(normalize_event(b"[1,2]", &opts()).is_err());
        assert!(normalize_event(b"{\"a\":", &opts()).is_err());
    }

    #[test]
    fn future_and_ancient_timestamps_are_clamped() {
        assert_eq!(
            norm(json!({"timestamp": 4_000_000_000.0})).timestamp,
            opts().received
        );
        assert_eq!(norm(json!({"timestamp": 1.0})).timestamp, opts().received);
        assert_eq!(
            norm(json!({"timestamp": 1_795_439_830.5}))
                .timestamp
                .timestamp(),
            1_795_439_830
        );
    }

    #[test]
    fn message_forms() {
        let ev = norm(json!({"message": "plain text"}));
        assert_eq!(ev.logentry.unwrap().message.as_deref(), Some("plain text"));
        let ev = norm(json!({"logentry": {"message": "hello %s", "params": ["world"]}}));
        let entry = ev.logentry.unwrap();
        assert_eq!(entry.message.as_deref(), Some("hello %s"));
        assert_eq!(entry.formatted.as_deref(), Some("hello world"));
        let ev = norm(json!({"message": {"formatted": "done"}}));
        assert_eq!(ev.logentry.unwrap().text(), Some("done"));
    }

    #[test]
    fn frames_without_in_app_are_guessed() {
        let ev = norm(
            json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                {"function": "std::panicking::begin_panic"},
                {"abs_path": "/app/node_modules/x/index.js", "function": "f"},
                {"function": "my_app::run"}
            ]}}]}}),
        );
        let frames = &ev.exception[0].stacktrace.as_ref().unwrap().frames;
        let in_app: Vec<_> = frames.iter().map(|f| f.in_app).collect();
        assert_eq!(in_app, vec![Some(false), Some(false), Some(true)]);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é");
        let long = "x".repeat(10_000);
        let ev = norm(json!({"message": long, "tags": {"k": "v".repeat(500)}}));
        assert_eq!(
            ev.logentry
                .as_ref()
                .unwrap()
                .message
                .as_ref()
                .unwrap()
                .len(),
            caps::MESSAGE
        );
        assert_eq!(ev.tag("k").unwrap().len(), caps::TAG_VALUE);
    }

    /// `{"a": [[…]]}` with the event object as level 1 and `depth` levels in all.
    fn nested(depth: usize, innermost: &str) -> String {
        let arrays = depth - 1;
        format!(
            "{{\"a\":{}{innermost}{}}}",
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    }

    #[test]
    fn the_check_accepts_only_what_normalisation_keeps_and_names_what_it_refuses() {
        let id = "9ec79c33ec9942ab8353589fcb2e04dc";
        let named = format!("{{\"event_id\":\"{id}\",\"message\":\"caf\u{e9} \\ud83d\\ude00\"}}");
        assert_eq!(
            check_event_json(named.as_bytes())
                .unwrap()
                .unwrap()
                .to_string(),
            id
        );
        // The last of repeated keys, as a Value keeps; anything else is no id.
        let twice = format!("{{\"event_id\":\"nope\",\"event_id\":\"{id}\"}}");
        assert!(check_event_json(twice.as_bytes()).unwrap().is_some());
        for no_id in [
            r#"{"event_id": 7}"#,
            r#"{"event_id": [[1]]}"#,
            r#"{"event_id": "not a uuid"}"#,
            r#"{"extra": {"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}}"#,
            " \r\n{}",
        ] {
            assert_eq!(check_event_json(no_id.as_bytes()).unwrap(), None, "{no_id}");
        }

        // At the limit, with every kind of value at the bottom, is kept.
        for innermost in ["", "1", "-1", "1.5e3", "\"s\"", "true", "null", "{}"] {
            let depth = if innermost == "{}" {
                MAX_JSON_DEPTH - 1
            } else {
                MAX_JSON_DEPTH
            };
            let payload = nested(depth, innermost);
            check_event_json(payload.as_bytes()).unwrap();
            normalize_event(payload.as_bytes(), &opts()).unwrap();
        }
        let refused: Vec<(Vec<u8>, &str)> = vec![
            (nested(MAX_JSON_DEPTH + 1, "").into_bytes(), "100 levels"),
            (nested(MAX_JSON_DEPTH, "{}").into_bytes(), "100 levels"),
            (nested(500, "").into_bytes(), "100 levels"),
            (b"{\"message\":\"caf\xe9\"}".to_vec(), "UTF-8 (at byte 15)"),
            (b"{\"\xff\":1}".to_vec(), "UTF-8"),
            (br#"{"message":"\ud800"}"#.to_vec(), "escape"),
            (br#"{"message":"\udc00\ud800"}"#.to_vec(), "escape"),
            (br#"{"n":1e400}"#.to_vec(), "out of range"),
            (br#"{"a":1} trailing"#.to_vec(), "trailing"),
            (br#"{"a":1"#.to_vec(), "EOF"),
            (b"[1]".to_vec(), "not a JSON object"),
            (b"\"text\"".to_vec(), "not a JSON object"),
            (b"\x0c{}".to_vec(), "not a JSON object"),
            (b"".to_vec(), "not a JSON object"),
        ];
        for (payload, said) in refused {
            let shown = String::from_utf8_lossy(&payload).into_owned();
            let err = check_event_json(&payload).unwrap_err().to_string();
            assert!(err.contains(said), "{shown}: {err}");
        }
    }
}
