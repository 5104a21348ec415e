//! What symbolication says about each frame: how it was resolved, or why
//! it was not, in the frame's `data` (Sentry's keys where Sentry has them).

use serde_json::{Map, Value, json};

/// How a frame's map was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedWith {
    /// The event's `debug_meta` named the file's debug id.
    DebugId,
    /// The event's release (and dist) and the file's URL.
    Release,
}

impl ResolvedWith {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedWith::DebugId => "debug-id",
            ResolvedWith::Release => "release",
        }
    }
}

/// Why a frame was left as the SDK sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No file, line or column to look up (runtime internals, `native`).
    NotASourceFrame,
    /// The event names no debug id for the file, and no release.
    MissingDebugId,
    /// A debug id was named but no bundle has it.
    NoBundleWithDebugId { debug_id: String },
    /// The release has no file at any candidate URL.
    UrlNotInRelease { release: String, url: String },
    /// The minified file was found, but no map beside it.
    MapNotInBundle { map: String },
    /// The map has no mapping at the frame's line and column.
    NoMappingAtPosition { line: u64, column: u64 },
    /// The map (or its minified file) is larger than the limit.
    SourceMapTooLarge { limit: u64 },
    /// The map could not be read as a source map.
    MalformedSourceMap { error: String },
}

impl Unresolved {
    /// The stable code, for filters and the dashboard.
    pub fn code(&self) -> &'static str {
        match self {
            Unresolved::NotASourceFrame => "not_a_source_frame",
            Unresolved::MissingDebugId => "missing_debug_id",
            Unresolved::NoBundleWithDebugId { .. } => "no_bundle_with_debug_id",
            Unresolved::UrlNotInRelease { .. } => "url_not_in_release",
            Unresolved::MapNotInBundle { .. } => "map_not_in_bundle",
            Unresolved::NoMappingAtPosition { .. } => "no_mapping_at_position",
            Unresolved::SourceMapTooLarge { .. } => "sourcemap_too_large",
            Unresolved::MalformedSourceMap { .. } => "malformed_sourcemap",
        }
    }

    /// What a person reads under the frame: the cause, and what to do.
    pub fn detail(&self) -> String {
        match self {
            Unresolved::NotASourceFrame => {
                "no file, line and column to look up (runtime or native code)".into()
            }
            Unresolved::MissingDebugId => "the event has no debug id for this file and no \
                 release: run `sentry-cli sourcemaps inject` before uploading, or set a release"
                .into(),
            Unresolved::NoBundleWithDebugId { debug_id } => format!(
                "no uploaded bundle has debug id {debug_id}: upload this build's maps with \
                 `sentry-cli sourcemaps upload`"
            ),
            Unresolved::UrlNotInRelease { release, url } => format!(
                "release {release} has no file at {url} (nor at its ~/ path): check \
                 `--url-prefix` and the dist"
            ),
            Unresolved::MapNotInBundle { map } => {
                format!("the minified file names the map {map}, which was not uploaded")
            }
            Unresolved::NoMappingAtPosition { line, column } => format!(
                "the source map has no mapping at line {line}, column {column}: \
                 is it the map of this build?"
            ),
            Unresolved::SourceMapTooLarge { limit } => {
                format!("the source map is larger than limits.max-sourcemap-size ({limit} bytes)")
            }
            Unresolved::MalformedSourceMap { error } => {
                format!("the source map cannot be read: {error}")
            }
        }
    }
}

/// `data` of a frame that was mapped with the map at `sourcemap`.
pub fn resolved(with: ResolvedWith, sourcemap: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "symbolicated": true,
        "resolved_with": with.as_str(),
        "sourcemap": sourcemap,
    }) else {
        unreachable!("an object literal")
    };
    map
}

/// `data` of a frame left as it was, and why.
pub fn unresolved(why: &Unresolved, with: Option<ResolvedWith>) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("symbolicated".into(), Value::Bool(false));
    if let Some(with) = with {
        data.insert("resolved_with".into(), with.as_str().into());
    }
    data.insert("unresolved_reason".into(), why.code().into());
    data.insert("unresolved_detail".into(), why.detail().into());
    data
}
