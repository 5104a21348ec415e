//! `ingest-attachments`: files SDKs send beside an event. Relay cuts each
//! attachment into chunks of at most `ATTACHMENT_CHUNK_SIZE` bytes (one
//! message each, in order on one partition); the chunks wait in the blob
//! store under [`staging_key`] until the last arrives, then become one blob
//! under the attachment's key and a row in the metadata store. Redelivered
//! messages rewrite the same files and the row is kept once.

use std::io::{self, Read, Write};

use faultline_protocol::{Chunk, IngestHeader, IngestMessage};
use faultline_storage::attachments::{DEFAULT_TYPE, KNOWN_TYPES, MAX_NAME, blob_key};
use faultline_storage::{BlobDir, Delivery, NewAttachment};
use sha1::{Digest, Sha1};

use crate::metrics::count;
use crate::{IngestError, Stores};

/// Where chunk `index` of attachment `chunk.id` waits for the others.
fn staging_key(header: &IngestHeader, chunk: &Chunk, index: u32) -> String {
    format!(
        "attachment-chunks/{}/{}/{}/{index}",
        header.project_id.0, header.event_id, chunk.id
    )
}

pub async fn process_batch(stores: &Stores, deliveries: &[Delivery]) -> Result<(), IngestError> {
    let mut kept = Vec::new();
    let mut dropped = 0;
    for delivery in deliveries {
        let message = match IngestMessage::decode(delivery.payload.clone()) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(error = %e, "dropping undecodable attachment message");
                dropped += 1;
                continue;
            }
        };
        match store(&stores.blobs, &message)? {
            Stored::Whole(attachment) => kept.push(attachment),
            Stored::Waiting => {}
            Stored::Dropped(why) => {
                tracing::warn!(event_id = %message.header.event_id, why, "dropping an attachment");
                dropped += 1;
            }
        }
    }
    count("dropped", dropped);
    stores.meta.record_attachments(&kept).await?;
    count("attachment", kept.len() as u64);
    Ok(())
}

enum Stored {
    /// The attachment's last chunk: it is whole in the blob store.
    Whole(NewAttachment),
    /// A chunk that waits for the rest.
    Waiting,
    /// Not an attachment this consumer can keep (said why).
    Dropped(&'static str),
}

/// Writes a message's bytes to the blob store. File system errors are
/// errors (the batch is retried: a full disk must not lose attachments);
/// malformed messages are dropped.
fn store(blobs: &BlobDir, message: &IngestMessage) -> Result<Stored, IngestError> {
    let header = &message.header;
    if header.item_type != "attachment" {
        return Ok(Stored::Dropped("not an attachment"));
    }
    // Messages queued by relays before chunking hold the whole attachment.
    let chunk = header.chunk.clone().unwrap_or(Chunk {
        id: "0".repeat(32),
        index: 0,
        count: 1,
        size: message.payload.len() as u64,
    });
    let id_ok = chunk.id.len() == 32
        && chunk
            .id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !id_ok || chunk.count == 0 || chunk.index >= chunk.count {
        return Ok(Stored::Dropped("malformed chunk header"));
    }
    if chunk.count == 1 {
        if message.payload.len() as u64 != chunk.size {
            return Ok(Stored::Dropped("size differs from its header"));
        }
        let sha1 = hex::encode(Sha1::digest(&message.payload));
        blobs.write(
            &blob_key(header.project_id, header.event_id, &sha1),
            &message.payload,
        )?;
        return Ok(Stored::Whole(describe(header, chunk.size, sha1)));
    }
    blobs.write(&staging_key(header, &chunk, chunk.index), &message.payload)?;
    if chunk.index + 1 < chunk.count {
        return Ok(Stored::Waiting);
    }
    let assembled = assemble(blobs, header, &chunk);
    for index in 0..chunk.count {
        blobs.delete(&staging_key(header, &chunk, index))?;
    }
    blobs.prune_empty_dirs(&staging_key(header, &chunk, 0));
    match assembled? {
        Some(sha1) => Ok(Stored::Whole(describe(header, chunk.size, sha1))),
        None => Ok(Stored::Dropped("chunks missing or of the wrong size")),
    }
}

/// Joins the staged chunks into the attachment's blob and returns its
/// SHA-1; `None` when a chunk is missing or they do not add up to the size
/// relay said.
fn assemble(blobs: &BlobDir, header: &IngestHeader, chunk: &Chunk) -> io::Result<Option<String>> {
    // The key names the content, so hash first, then copy.
    let mut hasher = Sha1::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for index in 0..chunk.count {
        let mut file = match blobs.open(&staging_key(header, chunk, index)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > chunk.size {
                return Ok(None);
            }
            hasher.update(&buf[..n]);
        }
    }
    if total != chunk.size {
        return Ok(None);
    }
    let sha1 = hex::encode(hasher.finalize());
    let mut out = blobs.writer(&blob_key(header.project_id, header.event_id, &sha1))?;
    for index in 0..chunk.count {
        io::copy(
            &mut blobs.open(&staging_key(header, chunk, index))?,
            &mut out,
        )?;
    }
    out.flush()?;
    out.commit()?;
    Ok(Some(sha1))
}

fn describe(header: &IngestHeader, size: u64, sha1: String) -> NewAttachment {
    let name = header
        .filename
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("attachment");
    let attachment_type = header
        .attachment_type
        .as_deref()
        .filter(|t| KNOWN_TYPES.contains(t))
        .unwrap_or(DEFAULT_TYPE);
    let content_type = header
        .content_type
        .as_deref()
        .filter(|t| t.len() <= 128 && !t.contains(['\r', '\n']))
        .unwrap_or("application/octet-stream");
    NewAttachment {
        project_id: header.project_id,
        event_id: header.event_id,
        name: cut(name, MAX_NAME),
        attachment_type: attachment_type.to_owned(),
        content_type: content_type.to_owned(),
        size,
        sha1,
        date_created: header.received,
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use chrono::Utc;
    use faultline_protocol::{ATTACHMENT_CHUNK_SIZE, EventId, ProjectId};

    fn header(chunk: Option<Chunk>) -> IngestHeader {
        IngestHeader {
            project_id: ProjectId(7),
            event_id: EventId::new_random(),
            item_type: "attachment".into(),
            received: Utc::now(),
            remote_addr: None,
            filename: Some("app.log".into()),
            content_type: Some("text/plain".into()),
            attachment_type: None,
            chunk,
        }
    }

    #[test]
    fn chunks_become_one_blob_once_the_last_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path());
        let bytes: Vec<u8> = (0..ATTACHMENT_CHUNK_SIZE * 2 + 10)
            .map(|i| (i % 251) as u8)
            .collect();
        let first = header(None);
        let id = "ab".repeat(16);
        let messages: Vec<IngestMessage> = bytes
            .chunks(ATTACHMENT_CHUNK_SIZE)
            .enumerate()
            .map(|(index, part)| {
                let mut header = first.clone();
                header.chunk = Some(Chunk {
                    id: id.clone(),
                    index: index as u32,
                    count: 3,
                    size: bytes.len() as u64,
                });
                IngestMessage {
                    header,
                    payload: Bytes::copy_from_slice(part),
                }
            })
            .collect();
        assert!(matches!(
            store(&blobs, &messages[0]).unwrap(),
            Stored::Waiting
        ));
        assert!(matches!(
            store(&blobs, &messages[1]).unwrap(),
            Stored::Waiting
        ));
        let Stored::Whole(attachment) = store(&blobs, &messages[2]).unwrap() else {
            panic!("the last chunk makes the attachment whole");
        };
        assert_eq!(attachment.size, bytes.len() as u64);
        assert_eq!(attachment.sha1, hex::encode(Sha1::digest(&bytes)));
        assert_eq!(attachment.attachment_type, "event.attachment");
        let key = blob_key(first.project_id, first.event_id, &attachment.sha1);
        let mut back = Vec::new();
        blobs.open(&key).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == bytes, "the blob holds the bytes sent");
        assert!(
            !dir.path().join("attachment-chunks").join("7").exists(),
            "the staged chunks are gone"
        );

        // The last chunk alone (its others lost) is dropped, not kept short.
        let mut lone = messages[2].clone();
        lone.header.event_id = EventId::new_random();
        assert!(matches!(store(&blobs, &lone).unwrap(), Stored::Dropped(_)));
    }

    #[test]
    fn malformed_headers_are_dropped_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path());
        for chunk in [
            Chunk {
                id: "../../etc".into(),
                index: 0,
                count: 2,
                size: 4,
            },
            Chunk {
                id: "ab".repeat(16),
                index: 2,
                count: 2,
                size: 4,
            },
            Chunk {
                id: "ab".repeat(16),
                index: 0,
                count: 1,
                size: 5,
            },
        ] {
            let message = IngestMessage {
                header: header(Some(chunk)),
                payload: Bytes::from_static(b"abcd"),
            };
            assert!(matches!(
                store(&blobs, &message).unwrap(),
                Stored::Dropped(_)
            ));
        }
    }

    #[test]
    fn names_and_types_are_what_is_safe_to_show() {
        let mut h = header(None);
        h.filename = Some("é".repeat(200));
        h.content_type = Some("text/html\r\nSet-Cookie: a=b".into());
        h.attachment_type = Some("event.minidump".into());
        let a = describe(&h, 1, "00".into());
        assert!(a.name.len() <= MAX_NAME);
        assert_eq!(a.content_type, "application/octet-stream");
        assert_eq!(a.attachment_type, "event.minidump");
        h.attachment_type = Some("made.up".into());
        assert_eq!(describe(&h, 1, "00".into()).attachment_type, DEFAULT_TYPE);
    }
}
