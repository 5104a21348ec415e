//! Sentry envelopes: a JSON header line, then items, each a JSON header line and
//! a payload that is either `length` bytes long or runs to the next newline.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::ids::EventId;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("empty envelope")]
    Empty,
    #[error("invalid envelope header: {0}")]
    InvalidHeader(String),
    #[error("invalid item header: {0}")]
    InvalidItemHeader(String),
    #[error("item payload shorter than its declared length")]
    Truncated,
    #[error("envelope has more than {0} items")]
    TooManyItems(usize),
}

/// What an item carries. Unknown types are kept so they can be counted and
/// skipped without failing the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemType {
    Event,
    Transaction,
    Span,
    Attachment,
    Session,
    Sessions,
    ClientReport,
    CheckIn,
    Feedback,
    UserReport,
    Unknown(String),
}

impl ItemType {
    pub fn parse(s: &str) -> Self {
        match s {
            "event" => ItemType::Event,
            "transaction" => ItemType::Transaction,
            "span" => ItemType::Span,
            "attachment" => ItemType::Attachment,
            "session" => ItemType::Session,
            "sessions" => ItemType::Sessions,
            "client_report" => ItemType::ClientReport,
            "check_in" => ItemType::CheckIn,
            "feedback" => ItemType::Feedback,
            "user_report" => ItemType::UserReport,
            other => ItemType::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ItemType::Event => "event",
            ItemType::Transaction => "transaction",
            ItemType::Span => "span",
            ItemType::Attachment => "attachment",
            ItemType::Session => "session",
            ItemType::Sessions => "sessions",
            ItemType::ClientReport => "client_report",
            ItemType::CheckIn => "check_in",
            ItemType::Feedback => "feedback",
            ItemType::UserReport => "user_report",
            ItemType::Unknown(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub ty: ItemType,
    pub headers: Map<String, Value>,
    pub payload: Bytes,
}

impl Item {
    pub fn header_str(&self, key: &str) -> Option<&str> {
        self.headers.get(key).and_then(Value::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct Envelope {
    pub headers: Map<String, Value>,
    pub items: Vec<Item>,
}

/// Upper bound on items so an envelope of a million empty items cannot cost
/// a million allocations.
pub const MAX_ITEMS: usize = 1000;

impl Envelope {
    pub fn parse(body: Bytes) -> Result<Self, EnvelopeError> {
        let mut rest = body;
        let header_line = take_line(&mut rest).ok_or(EnvelopeError::Empty)?;
        let headers = parse_object(&header_line).map_err(EnvelopeError::InvalidHeader)?;
        let mut items = Vec::new();
        loop {
            // Blank lines between items (and the trailing newline) are allowed.
            while rest.first() == Some(&b'\n') || rest.starts_with(b"\r\n") {
                let skip = if rest[0] == b'\n' { 1 } else { 2 };
                let _ = rest.split_to(skip);
            }
            let Some(line) = take_line(&mut rest) else {
                break;
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if items.len() == MAX_ITEMS {
                return Err(EnvelopeError::TooManyItems(MAX_ITEMS));
            }
            let item_headers = parse_object(&line).map_err(EnvelopeError::InvalidItemHeader)?;
            let ty = item_headers
                .get("type")
                .and_then(Value::as_str)
                .map(ItemType::parse)
                .ok_or_else(|| EnvelopeError::InvalidItemHeader("missing type".into()))?;
            let payload = match item_headers.get("length") {
                Some(length) => {
                    let length = length
                        .as_u64()
                        .and_then(|l| usize::try_from(l).ok())
                        .ok_or_else(|| EnvelopeError::InvalidItemHeader("bad length".into()))?;
                    if rest.len() < length {
                        return Err(EnvelopeError::Truncated);
                    }
                    let payload = rest.split_to(length);
                    if rest.first() == Some(&b'\n') {
                        let _ = rest.split_to(1);
                    } else if rest.starts_with(b"\r\n") {
                        let _ = rest.split_to(2);
                    }
                    payload
                }
                None => take_line(&mut rest).unwrap_or_default(),
            };
            items.push(Item {
                ty,
                headers: item_headers,
                payload,
            });
        }
        Ok(Envelope { headers, items })
    }

    pub fn event_id(&self) -> Option<EventId> {
        self.headers
            .get("event_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    }

    pub fn dsn(&self) -> Option<&str> {
        self.headers.get("dsn").and_then(Value::as_str)
    }
}

/// Splits off the next line (without its `\n` or `\r\n`); `None` at the end.
fn take_line(rest: &mut Bytes) -> Option<Bytes> {
    if rest.is_empty() {
        return None;
    }
    let line = match rest.iter().position(|&b| b == b'\n') {
        Some(pos) => {
            let line = rest.split_to(pos);
            let _ = rest.split_to(1);
            line
        }
        None => rest.split_to(rest.len()),
    };
    Some(match line.last() {
        Some(b'\r') => line.slice(..line.len() - 1),
        _ => line,
    })
}

fn parse_object(line: &[u8]) -> Result<Map<String, Value>, String> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_with_and_without_length() {
        let body =
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"http://k@h/1\"}\n\
{\"type\":\"attachment\",\"length\":10,\"filename\":\"a.txt\"}\n\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\"}\n{\"message\":\"hi\"}\n\
{\"type\":\"something_new\"}\n{}\n";
        let env = Envelope::parse(Bytes::from_static(body)).unwrap();
        assert_eq!(
            env.event_id().unwrap().to_string(),
            "9ec79c33ec9942ab8353589fcb2e04dc"
        );
        assert_eq!(env.dsn(), Some("http://k@h/1"));
        assert_eq!(env.items.len(), 3);
        assert_eq!(env.items[0].ty, ItemType::Attachment);
        assert_eq!(&env.items[0].payload[..], b"\xef\xbb\xbfHello\r\n");
        assert_eq!(env.items[1].ty, ItemType::Event);
        assert_eq!(&env.items[1].payload[..], b"{\"message\":\"hi\"}");
        assert_eq!(env.items[2].ty, ItemType::Unknown("something_new".into()));
    }

    #[test]
    fn last_item_without_trailing_newline() {
        let env = Envelope::parse(Bytes::from_static(
            b"{}\n{\"type\":\"event\",\"length\":2}\n{}",
        ))
        .unwrap();
        assert_eq!(&env.items[0].payload[..], b"{}");
    }

    #[test]
    fn malformed_envelopes() {
        assert_eq!(
            Envelope::parse(Bytes::new()).unwrap_err(),
            EnvelopeError::Empty
        );
        assert!(matches!(
            Envelope::parse(Bytes::from_static(b"garbage\n")),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        assert!(matches!(
            Envelope::parse(Bytes::from_static(b"{}\n[1]\n")),
            Err(EnvelopeError::InvalidItemHeader(_))
        ));
        assert!(matches!(
            Envelope::parse(Bytes::from_static(b"{}\n{\"length\":1}\n")),
            Err(EnvelopeError::InvalidItemHeader(_))
        ));
        assert_eq!(
            Envelope::parse(Bytes::from_static(
                b"{}\n{\"type\":\"event\",\"length\":100}\n{}"
            ))
            .unwrap_err(),
            EnvelopeError::Truncated
        );
        assert!(matches!(
            Envelope::parse(Bytes::from_static(
                b"{}\n{\"type\":\"event\",\"length\":-1}\n{}"
            )),
            Err(EnvelopeError::InvalidItemHeader(_))
        ));
    }
}
