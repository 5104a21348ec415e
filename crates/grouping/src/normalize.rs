//! What of a frame identifies the code path: stable across deploys, line
//! edits, build hashes and machines.

use faultline_protocol::Frame;

/// Module when the SDK knows it, else the filename with build hashes,
/// query strings and origins removed.
pub fn frame_location(frame: &Frame) -> Option<String> {
    if let Some(module) = frame.module.as_deref().filter(|m| !m.is_empty()) {
        return Some(replace_hex_runs(module));
    }
    let filename = frame.filename.as_deref().or(frame.abs_path.as_deref())?;
    let mut path = filename.split(['?', '#']).next().unwrap_or(filename);
    if let Some((_, rest)) = path.split_once("://") {
        path = rest.find('/').map_or("", |i| &rest[i..]);
    }
    // Native frames carry absolute build paths that differ per machine.
    if matches!(frame.platform.as_deref(), Some("native" | "c" | "rust")) {
        path = path.rsplit('/').next().unwrap_or(path);
    }
    (!path.is_empty()).then(|| replace_hex_runs(&path.to_ascii_lowercase()))
}

/// The function name without addresses, Rust symbol hashes or generics noise.
pub fn frame_function(frame: &Frame) -> Option<String> {
    let function = frame
        .function
        .as_deref()
        .filter(|f| !f.is_empty() && *f != "?")?;
    let mut f = function.trim();
    // Rust legacy mangling appends `::h0123456789abcdef`.
    if let Some(idx) = f.rfind("::h") {
        let tail = &f[idx + 3..];
        if tail.len() == 16 && tail.bytes().all(|b| b.is_ascii_hexdigit()) {
            f = &f[..idx];
        }
    }
    Some(replace_hex_runs(f))
}

/// Replaces runs of 8+ hex digits (content hashes, addresses) with a marker
/// so rebuilt bundles group with their predecessors.
fn replace_hex_runs(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let has_digit = bytes[i..i + run].iter().any(u8::is_ascii_digit);
        if run >= 8 && has_digit {
            out.push_str("<hex>");
            i += run;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch = s[i..].chars().next().expect("i is within the string");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_hashes_and_origins() {
        let frame = Frame {
            filename: Some("https://cdn.example.com/static/app.3f9a1c2b7d.js?v=2".into()),
            ..Frame::default()
        };
        assert_eq!(
            frame_location(&frame).as_deref(),
            Some("/static/app.<hex>.js")
        );
    }

    #[test]
    fn rust_hash_suffix_is_removed() {
        let frame = Frame {
            function: Some("my_app::run::h0123456789abcdef".into()),
            ..Frame::default()
        };
        assert_eq!(frame_function(&frame).as_deref(), Some("my_app::run"));
    }

    #[test]
    fn words_made_of_hex_letters_stay() {
        let frame = Frame {
            function: Some("deadbeefcafe".into()),
            ..Frame::default()
        };
        assert_eq!(frame_function(&frame).as_deref(), Some("deadbeefcafe"));
    }
}
