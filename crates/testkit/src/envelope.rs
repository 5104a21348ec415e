//! Envelopes as the SDKs send them, made for tests and benchmarks: one
//! event in an envelope, gzipped or not, and the one-event envelope of a
//! captured fixture taken apart so that copies of it can be made.

use std::io::{self, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

/// Writes the envelope of `header`, one item of `item_header` (its `length`
/// set here) and `payload` into `raw`, replacing what was there (so that
/// one buffer serves many envelopes).
pub fn write_envelope(
    header: &Value,
    item_header: &mut Value,
    payload: &Value,
    raw: &mut Vec<u8>,
) -> io::Result<()> {
    let payload = serde_json::to_vec(payload)?;
    item_header["length"] = payload.len().into();
    raw.clear();
    serde_json::to_writer(&mut *raw, header)?;
    raw.push(b'\n');
    serde_json::to_writer(&mut *raw, item_header)?;
    raw.push(b'\n');
    raw.extend_from_slice(&payload);
    raw.push(b'\n');
    Ok(())
}

/// A minimal envelope with one event item.
pub fn event_envelope(event_id: &str, event: &Value) -> Vec<u8> {
    let mut raw = Vec::new();
    write_envelope(
        &json!({ "event_id": event_id }),
        &mut json!({ "type": "event" }),
        event,
        &mut raw,
    )
    .expect("writing JSON to memory cannot fail");
    raw
}

/// `data` gzipped, fast rather than small (as the benchmarks need many).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::with_capacity(data.len() / 2), Compression::fast());
    gz.write_all(data)
        .and_then(|()| gz.finish())
        .expect("gzip into memory cannot fail")
}

/// [`write_envelope`], gzipped as the Python SDK sends every envelope.
pub fn gzip_envelope(
    header: &Value,
    item_header: &mut Value,
    event: &Value,
    raw: &mut Vec<u8>,
) -> io::Result<Vec<u8>> {
    write_envelope(header, item_header, event, raw)?;
    Ok(gzip(raw))
}

/// `body` gunzipped if it is gzip (by its magic bytes), else as it is.
pub fn gunzip_if_gzipped(body: &[u8]) -> io::Result<Vec<u8>> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body.to_vec());
    }
    let mut raw = Vec::new();
    GzDecoder::new(body).read_to_end(&mut raw)?;
    Ok(raw)
}

/// A one-event envelope, decoded: header, item header and event payload.
pub struct OneEvent {
    pub header: Value,
    pub item_header: Value,
    pub event: Value,
    /// The size of the decoded envelope.
    pub raw_len: usize,
}

fn invalid(path: &Path, what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

impl OneEvent {
    /// Reads a captured envelope (gzipped or plain) holding one event.
    pub fn load(path: &Path) -> io::Result<OneEvent> {
        let body = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("reading {}: {e}", path.display())))?;
        let raw = gunzip_if_gzipped(&body).map_err(|e| invalid(path, e.to_string()))?;
        let text = std::str::from_utf8(&raw).map_err(|e| invalid(path, e.to_string()))?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let [header, item_header, event] = lines[..] else {
            return Err(invalid(
                path,
                format!(
                    "{} lines; expected an envelope header, one item header and its payload",
                    lines.len()
                ),
            ));
        };
        let parse = |what: &str, line: &str| {
            serde_json::from_str::<Value>(line)
                .map_err(|e| invalid(path, format!("the {what}: {e}")))
        };
        let envelope = OneEvent {
            header: parse("envelope header", header)?,
            item_header: parse("item header", item_header)?,
            event: parse("event", event)?,
            raw_len: raw.len(),
        };
        if envelope.item_header.get("type").and_then(Value::as_str) != Some("event") {
            return Err(invalid(path, "its item is not an event".into()));
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_their_payload_length() {
        let raw = event_envelope("abc", &json!({"message": "hi"}));
        let text = String::from_utf8(raw).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"event_id":"abc"}"#);
        let item: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(item["type"], "event");
        assert_eq!(item["length"].as_u64(), Some(lines[2].len() as u64));
        assert_eq!(
            gunzip_if_gzipped(&gzip(text.as_bytes())).unwrap(),
            text.as_bytes()
        );
    }

    #[test]
    fn the_captured_python_exception_is_one_event() {
        let path = crate::fixtures::path(crate::fixtures::PYTHON_SDK, "exception");
        let envelope = OneEvent::load(&path).unwrap();
        assert_eq!(envelope.header["event_id"], envelope.event["event_id"]);
        assert!(envelope.raw_len > 1000);
    }
}
