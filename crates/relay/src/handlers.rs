//! The envelope and store endpoints.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use faultline_protocol::{
    ATTACHMENT_CHUNK_SIZE, Chunk, ContentEncoding, Dsn, Envelope, EventId, IngestHeader,
    IngestMessage, Item, ItemType, ProjectId, SentryAuth, check_event_json, decompress_bounded,
};
use faultline_storage::{Headers, Message, Topic};
use futures_util::StreamExt;
use tracing::Instrument as _;

use crate::metrics::{self, METRICS};
use crate::{RelayError, RelayState, cors};

pub async fn envelope(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<RelayState>,
) -> Result<HttpResponse, RelayError> {
    let started = Instant::now();
    let result = handle(&req, &path, payload, &state, Endpoint::Envelope)
        .instrument(request_span(&path))
        .await;
    finish(&req, started, result)
}

pub async fn store(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<RelayState>,
) -> Result<HttpResponse, RelayError> {
    let started = Instant::now();
    let result = handle(&req, &path, payload, &state, Endpoint::Store)
        .instrument(request_span(&path))
        .await;
    finish(&req, started, result)
}

/// The trace's root for one ingestion request, when traces are on: its
/// context goes to the queue with every message, so the consumers' spans
/// join it.
fn request_span(project_id: &str) -> tracing::Span {
    if !faultline_telemetry::traces::enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "relay.envelope",
        otel.kind = "server",
        project.id = project_id.parse::<i64>().ok(),
        event.id = tracing::field::Empty,
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Envelope,
    Store,
}

fn finish(
    req: &HttpRequest,
    started: Instant,
    result: Result<Option<EventId>, RelayError>,
) -> Result<HttpResponse, RelayError> {
    if let Err(e) = &result {
        metrics::rejected(e.reason());
    }
    let id = result?;
    METRICS.latency.observe(started.elapsed().as_secs_f64());
    let mut response = HttpResponse::Ok();
    cors::add_headers(&mut response, req);
    Ok(match id {
        Some(id) => response.json(serde_json::json!({ "id": id })),
        None => response.json(serde_json::json!({})),
    })
}

async fn handle(
    req: &HttpRequest,
    path: &str,
    payload: web::Payload,
    state: &RelayState,
    endpoint: Endpoint,
) -> Result<Option<EventId>, RelayError> {
    let project_id: ProjectId = path.parse().map_err(|_| RelayError::InvalidProjectId)?;
    if project_id.0 <= 0 {
        return Err(RelayError::InvalidProjectId);
    }
    // Before anything is read: what cannot be kept is not accepted, and
    // the SDK keeps it to send again (Retry-After).
    if let Some(disk) = &state.disk {
        disk.check()?;
    }
    let auth = request_auth(req)?;
    // With the key in a header or the query, refuse strangers before reading
    // (and decompressing) anything they send.
    let early_key = match &auth {
        Some(auth) => Some(state.keys.authorize(&auth.public_key, project_id).await?),
        None => None,
    };
    let limits = &state.limits;
    let body = read_body(req, payload, limits.max_envelope_size).await?;
    METRICS.body_bytes.observe(body.len() as f64);
    let encoding_header = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let encoding = ContentEncoding::from_header(encoding_header).ok_or_else(|| {
        RelayError::UnsupportedEncoding(encoding_header.unwrap_or_default().to_owned())
    })?;
    let body = Bytes::from(decompress_bounded(
        &body,
        encoding,
        limits.max_decompressed_size,
    )?);

    let envelope = match endpoint {
        Endpoint::Envelope => Envelope::parse(body)?,
        Endpoint::Store => Envelope {
            headers: Default::default(),
            items: vec![Item {
                ty: ItemType::Event,
                headers: Default::default(),
                payload: body,
            }],
        },
    };
    // Tunnelled envelopes carry their DSN instead of an auth header.
    let key = match early_key {
        Some(key) => key,
        None => {
            let dsn = envelope
                .dsn()
                .ok_or(faultline_protocol::AuthError::Missing)?;
            state
                .keys
                .authorize(&Dsn::parse(dsn)?.public_key, project_id)
                .await?
        }
    };

    let received = Utc::now();
    let remote_addr = req.connection_info().realip_remote_addr().map(strip_port);
    // Each event item's own `event_id`, checked as the consumer will parse
    // it: what it would drop is refused now, not answered 200 and lost.
    let mut own_ids: Vec<Option<Option<EventId>>> = Vec::with_capacity(envelope.items.len());
    let mut attachments_size = 0usize;
    for item in &envelope.items {
        if topic_for(&item.ty).is_some() {
            check_item(item, limits)?;
        }
        if item.ty == ItemType::Attachment {
            attachments_size = attachments_size.saturating_add(item.payload.len());
            if attachments_size > limits.max_attachments_size {
                return Err(RelayError::AttachmentsTooLarge(limits.max_attachments_size));
            }
        }
        own_ids.push(if is_event(&item.ty) {
            Some(check_event_json(&item.payload).map_err(|e| {
                RelayError::InvalidPayload(item.ty.as_str().to_owned(), e.to_string())
            })?)
        } else {
            None
        });
    }
    let item_ids = assign_event_ids(envelope.event_id(), &own_ids);
    let first_event_id = item_ids.iter().flatten().next().copied();
    let event_id = envelope
        .event_id()
        .or_else(|| own_ids.iter().flatten().flatten().next().copied());
    let event_count = item_ids.iter().flatten().count() as i64;
    // Items that are not events (sessions, attachments, reports) still need
    // an id on the queue: the envelope's, else its first event's.
    let message_id = event_id
        .or(first_event_id)
        .unwrap_or_else(EventId::new_random);
    if let Some(id) = event_id.or(first_event_id) {
        tracing::Span::current().record("event.id", tracing::field::display(id));
    }
    let headers = Headers::traced(faultline_telemetry::traces::traceparent(
        &tracing::Span::current(),
    ));
    let mut batches: Vec<(Topic, Vec<Message>)> = Vec::new();
    for (item, item_id) in envelope.items.iter().zip(&item_ids) {
        let Some(topic) = topic_for(&item.ty) else {
            tracing::debug!(
                item_type = item.ty.as_str(),
                "skipping unknown envelope item"
            );
            continue;
        };
        let header = IngestHeader {
            project_id,
            event_id: item_id.unwrap_or(message_id),
            item_type: item.ty.as_str().to_owned(),
            received,
            remote_addr: remote_addr.clone(),
            filename: item.header_str("filename").map(str::to_owned),
            content_type: item.header_str("content_type").map(str::to_owned),
            attachment_type: item.header_str("attachment_type").map(str::to_owned),
            chunk: None,
        };
        let messages = match batches.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, messages)) => messages,
            None => {
                batches.push((topic, Vec::new()));
                &mut batches.last_mut().expect("just pushed").1
            }
        };
        let queued = |message: IngestMessage| Message {
            key: project_id.0,
            payload: Bytes::from(message.encode()),
            headers: headers.clone(),
        };
        if item.ty == ItemType::Attachment {
            messages.extend(attachment_chunks(header, &item.payload).map(queued));
        } else {
            messages.push(queued(IngestMessage {
                header,
                payload: item.payload.clone(),
            }));
        }
    }
    // An event this project already accepted (an SDK retrying after a lost
    // answer) is answered again but not queued twice.
    let dedupe_id = event_id
        .filter(|_| event_count > 0)
        .map(|id| id.to_string());
    if let Some(id) = &dedupe_id
        && state.keys.seen_event(project_id, id).await
    {
        METRICS.duplicates.inc();
        return Ok(event_id);
    }
    state.keys.check_rate_limit(&key, event_count).await?;
    for (topic, messages) in batches {
        state.queue.publish(topic, messages).await.map_err(|e| {
            tracing::error!(error = %e, topic = topic.name(), "queue publish failed");
            RelayError::Unavailable
        })?;
    }
    for item in &envelope.items {
        metrics::accepted(item.ty.as_str(), 1);
    }
    if let Some(id) = &dedupe_id {
        state.keys.remember_event(project_id, id).await;
    }
    // An event without any id still gets one, and the SDK is told it.
    Ok(event_id.or(first_event_id))
}

fn is_event(ty: &ItemType) -> bool {
    matches!(ty, ItemType::Event | ItemType::Transaction)
}

/// The id each event item goes to the queue with (`None` for other items),
/// given the ids the items name themselves (`Some(None)`: an event item
/// naming none). The consumer keeps one event per id, so every event item
/// needs its own: an item keeps the id it names, the first one naming none
/// gets the envelope's (unless an item names that itself), and the rest
/// new ones.
fn assign_event_ids(
    envelope_id: Option<EventId>,
    own_ids: &[Option<Option<EventId>>],
) -> Vec<Option<EventId>> {
    let mut spare = envelope_id.filter(|id| !own_ids.contains(&Some(Some(*id))));
    own_ids
        .iter()
        .map(|own| match own {
            None => None,
            Some(Some(id)) => Some(*id),
            Some(None) => Some(spare.take().unwrap_or_else(EventId::new_random)),
        })
        .collect()
}

fn strip_port(addr: &str) -> String {
    if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
        return sock.ip().to_string();
    }
    addr.to_owned()
}

/// `X-Sentry-Auth`, an `Authorization: Sentry …` header, or `?sentry_key=`.
/// `None` when there is none (the envelope may still carry a DSN).
fn request_auth(req: &HttpRequest) -> Result<Option<SentryAuth>, RelayError> {
    for name in ["x-sentry-auth", "authorization"] {
        if let Some(value) = req.headers().get(name) {
            let value = value
                .to_str()
                .map_err(|_| faultline_protocol::AuthError::InvalidHeader("not ASCII"))?;
            if name == "authorization"
                && !value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("sentry ")
            {
                continue;
            }
            return Ok(Some(SentryAuth::from_header(value)?));
        }
    }
    Ok(SentryAuth::from_query(req.query_string()))
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, RelayError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(RelayError::BodyTooLarge(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(8192).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| RelayError::Payload)?;
        if body.len() + chunk.len() > limit {
            return Err(RelayError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// An attachment as the messages that carry it: one per
/// [`ATTACHMENT_CHUNK_SIZE`] bytes (an empty attachment is one empty chunk),
/// all naming the same attachment id. Same key, so same partition, in order.
fn attachment_chunks(header: IngestHeader, payload: &Bytes) -> impl Iterator<Item = IngestMessage> {
    let count = payload.len().div_ceil(ATTACHMENT_CHUNK_SIZE).max(1);
    // Any unique name does: a random id's 32 hex digits.
    let id = EventId::new_random().to_string();
    let size = payload.len() as u64;
    (0..count).map(move |index| {
        let start = index * ATTACHMENT_CHUNK_SIZE;
        let end = (start + ATTACHMENT_CHUNK_SIZE).min(payload.len());
        let mut header = header.clone();
        header.chunk = Some(Chunk {
            id: id.clone(),
            // Bounded by the envelope size limit: far below u32::MAX chunks.
            index: u32::try_from(index).unwrap_or(u32::MAX),
            count: u32::try_from(count).unwrap_or(u32::MAX),
            size,
        });
        IngestMessage {
            header,
            payload: payload.slice(start..end),
        }
    })
}

fn topic_for(ty: &ItemType) -> Option<Topic> {
    Some(match ty {
        ItemType::Event => Topic::IngestEvents,
        ItemType::Transaction | ItemType::Span => Topic::IngestTransactions,
        ItemType::Attachment => Topic::IngestAttachments,
        ItemType::Session | ItemType::Sessions => Topic::IngestSessions,
        ItemType::CheckIn => Topic::IngestMonitors,
        ItemType::Feedback | ItemType::UserReport => Topic::IngestFeedback,
        ItemType::ClientReport => Topic::Outcomes,
        ItemType::Unknown(_) => return None,
    })
}

/// Size caps per item type, and JSON items must be JSON objects: a malformed
/// item is refused now rather than accepted and dropped later.
fn check_item(item: &Item, limits: &faultline_config::Limits) -> Result<(), RelayError> {
    let ty = item.ty.as_str();
    let (limit, json) = match item.ty {
        ItemType::Attachment => (limits.max_attachment_size, false),
        ItemType::Span => (limits.max_event_size, false),
        _ => (limits.max_event_size, true),
    };
    if item.payload.len() > limit {
        return Err(RelayError::ItemTooLarge(ty.to_owned(), limit));
    }
    // Events and transactions are checked whole by `check_event_json`.
    let parsed_later = is_event(&item.ty);
    if json {
        let first = item.payload.iter().find(|b| !b.is_ascii_whitespace());
        let expected = if item.ty == ItemType::UserReport
            || item.ty == ItemType::Sessions
            || first == Some(&b'{')
        {
            b'{'
        } else {
            0
        };
        if first != Some(&expected) {
            return Err(RelayError::InvalidPayload(
                ty.to_owned(),
                "expected a JSON object".into(),
            ));
        }
        if !parsed_later {
            serde_json::from_slice::<serde::de::IgnoredAny>(&item.payload)
                .map_err(|e| RelayError::InvalidPayload(ty.to_owned(), e.to_string()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_item_gets_an_id_of_its_own() {
        let header = EventId::new_random();
        let named = EventId::new_random();
        // A session, three events naming no id, one naming its own.
        let own = [None, Some(None), Some(None), Some(Some(named)), Some(None)];
        let ids = assign_event_ids(Some(header), &own);
        assert_eq!(ids[0], None);
        assert_eq!(
            ids[1],
            Some(header),
            "the first without an id gets the envelope's"
        );
        assert_eq!(ids[3], Some(named));
        let mut events: Vec<EventId> = ids.iter().flatten().copied().collect();
        events.sort();
        events.dedup();
        assert_eq!(events.len(), 4, "no two items share an id: {ids:?}");

        // An item naming the envelope's id keeps it; the others get new ones.
        let ids = assign_event_ids(Some(header), &[Some(None), Some(Some(header))]);
        assert_eq!(ids[1], Some(header));
        assert!(ids[0].is_some() && ids[0] != Some(header));
        // Without any id, a thousand items are a thousand events.
        let ids = assign_event_ids(None, &vec![Some(None); 1000]);
        let mut unique: Vec<EventId> = ids.iter().flatten().copied().collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 1000);
    }
}
