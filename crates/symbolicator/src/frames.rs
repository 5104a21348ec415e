//! One frame through its map: original file, line, column, function and
//! the lines around it.

use faultline_protocol::Frame;

use crate::maps::LoadedMap;
use crate::outcome::Unresolved;
use crate::urls::{display_name, join};

/// Lines of context above and below the frame's line, as Sentry shows.
const CONTEXT_LINES: usize = 5;
/// Longest context line kept (minified or generated sources have lines of
/// megabytes).
const MAX_LINE_CHARS: usize = 300;

/// What mapping a frame gave beside the frame itself.
pub struct Mapped {
    /// The identifier at the frame's position in the original source: the
    /// callee's name when the frame is a call (its caller's frame names
    /// the function the next frame is in).
    pub call_site_name: Option<String>,
    /// Whether the function name came from the minified source's scope.
    pub named_from_scope: bool,
}

/// The frame as the SDK saw it, one-based, as a map looks up (zero-based).
fn position(frame: &Frame) -> Option<(u32, u32)> {
    let line = u32::try_from(frame.lineno?.checked_sub(1)?).ok()?;
    let column = u32::try_from(frame.colno.unwrap_or(1).saturating_sub(1)).ok()?;
    Some((line, column))
}

/// Maps `frame` (at `url`) through `loaded`, or says why it cannot be.
pub fn map_frame(frame: &mut Frame, url: &str, loaded: &LoadedMap) -> Result<Mapped, Unresolved> {
    let no_mapping = || Unresolved::NoMappingAtPosition {
        line: frame.lineno.unwrap_or(0),
        column: frame.colno.unwrap_or(0),
    };
    let (line, column) = position(frame).ok_or_else(no_mapping)?;
    let token = loaded
        .map
        .lookup_token(line, column)
        // The nearest token before the position may be on an earlier line:
        // then the map has nothing for this one.
        .filter(|t| t.get_dst_line() == line)
        .ok_or_else(no_mapping)?;
    let source = token.get_source().ok_or_else(no_mapping)?.to_owned();

    let minified_name = frame
        .function
        .as_deref()
        .map(|f| f.rsplit('.').next().unwrap_or(f));
    let scope_name = match (&loaded.minified, minified_name) {
        (Some(source), Some(name)) => {
            crate::scope::original_function_name(&loaded.map, source, token, name)
        }
        _ => None,
    };
    let mapped = Mapped {
        call_site_name: token.get_name().map(str::to_owned),
        named_from_scope: scope_name.is_some(),
    };
    if let Some(name) = scope_name {
        frame.function = Some(name.to_owned());
    }
    let src_line = token.get_src_line();
    let src_id = token.get_src_id();

    frame.abs_path = Some(join(url, &source));
    frame.filename = Some(display_name(&source));
    // The file's module (`app.min`) named the bundle, not the source.
    frame.module = None;
    frame.lineno = Some(u64::from(src_line) + 1);
    frame.colno = Some(u64::from(token.get_src_col()) + 1);
    if source.contains("/node_modules/") {
        frame.in_app = Some(false);
    }
    frame.pre_context.clear();
    frame.context_line = None;
    frame.post_context.clear();
    let line = src_line as usize;
    let first = line.saturating_sub(CONTEXT_LINES);
    set_context(
        frame,
        &loaded.source_lines(src_id, first, line - first + CONTEXT_LINES + 1),
        line - first,
    );
    Ok(mapped)
}

fn clip(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// The frame's context from `lines`, the frame's own at `at`; none when
/// the map points past the source's end.
fn set_context(frame: &mut Frame, lines: &[&str], at: usize) {
    let Some(current) = lines.get(at) else {
        return;
    };
    frame.context_line = Some(clip(current));
    frame.pre_context = lines[..at].iter().map(|l| clip(l)).collect();
    frame.post_context = lines[at + 1..].iter().map(|l| clip(l)).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_the_lines_around_the_frames_own() {
        let lines = [
            "line 5", "line 6", "line 7", "line 8", "line 9", "line 10", "line 11",
        ];
        let mut frame = Frame::default();
        set_context(&mut frame, &lines, 5);
        assert_eq!(frame.context_line.as_deref(), Some("line 10"));
        assert_eq!(frame.pre_context, lines[..5]);
        assert_eq!(frame.post_context, ["line 11"]);
        // A line past the end: no context rather than a wrong one.
        let mut past = Frame::default();
        set_context(&mut past, &lines[..2], 5);
        assert_eq!(past.context_line, None);
        assert!(past.pre_context.is_empty());
    }

    #[test]
    fn long_lines_are_clipped() {
        let long = "x".repeat(10_000);
        assert_eq!(clip(&long).chars().count(), MAX_LINE_CHARS + 1);
        assert_eq!(clip("short"), "short");
    }
}
