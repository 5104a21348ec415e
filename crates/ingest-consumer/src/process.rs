//! One batch, from queued bytes to recorded issues.

use bytes::Bytes;
use faultline_grouping::group;
use faultline_protocol::{
    Event, GroupId, IngestHeader, IngestMessage, NormalizeOptions, PostProcessHeader,
    PostProcessOut, ProcessedEvent, normalize::normalize_event,
};
use faultline_storage::{Delivery, GroupedEvent, Topic};
use faultline_symbolicator::wants_symbolication;
use tracing::Instrument as _;

use crate::metrics::count;
use crate::spans::EventSpans;
use crate::{IngestError, Stores};

pub async fn process_batch(stores: &Stores, deliveries: &[Delivery]) -> Result<(), IngestError> {
    let payloads: Vec<Bytes> = deliveries.iter().map(|d| d.payload.clone()).collect();
    // Parsing and grouping are CPU work; keep them off the async workers.
    let decoded = tokio::task::spawn_blocking(move || decode(&payloads))
        .await
        .expect("decode does not panic");
    if decoded.is_empty() {
        return Ok(());
    }
    let spans = EventSpans::open(decoded.iter().map(|(index, header, _)| {
        (
            &deliveries[*index].headers,
            header.project_id,
            header.event_id,
        )
    }));
    let decoded = decoded
        .into_iter()
        .map(|(_, header, event)| (header, event));
    // Before grouping, so that titles, culprits and hashes read the code
    // that was written, not the minified names of one build.
    let mut symbolicated = Vec::with_capacity(decoded.len());
    for (header, event) in decoded {
        let event = if wants_symbolication(&event) {
            stores
                .symbolicator
                .symbolicate(header.project_id, event)
                .instrument(spans.of(header.event_id))
                .await
                .map_err(IngestError::Symbolicator)?
        } else {
            event
        };
        symbolicated.push((header, event));
    }
    // Grouping is the prepare step here and the issue records below.
    let grouping: Vec<tracing::Span> = symbolicated
        .iter()
        .map(|(header, _)| spans.group(header.project_id, header.event_id))
        .collect();
    let prepared = tokio::task::spawn_blocking(move || {
        symbolicated
            .into_iter()
            .filter_map(|(header, event)| group_one(&header, event))
            .collect::<Vec<_>>()
    })
    .await
    .expect("grouping does not panic");
    let (grouped, processed): (Vec<GroupedEvent>, Vec<ProcessedEvent>) =
        prepared.into_iter().unzip();
    let outcomes = stores.meta.record_events(&grouped).await?;
    drop(grouping);

    let mut events = Vec::with_capacity(processed.len());
    let mut post = Vec::new();
    let mut duplicates = 0;
    for ((grouped, processed), outcome) in grouped.iter().zip(processed).zip(outcomes) {
        let mut processed = processed;
        processed.group_id = outcome.group_id;
        // Re-published even for duplicates: the first delivery may have
        // crashed before reaching `events`; the event store skips repeats.
        events.push(spans.message(
            grouped.event_id,
            grouped.project_id.0,
            Bytes::from(serde_json::to_vec(&processed).expect("event serialises")),
        ));
        // Also re-announced for duplicates, with the first delivery's flags:
        // consumers of `post-process` are idempotent on the event id.
        duplicates += u64::from(outcome.duplicate);
        if !outcome.duplicate {
            crate::metrics::grouped(outcome.new_group, outcome.regression);
        }
        // What no alert rule reads stays off `post-process` (taken out,
        // not copied: `events` has been written).
        processed.event.breadcrumbs.clear();
        processed.event.extra.clear();
        processed.event.modules.clear();
        let message = PostProcessOut {
            header: PostProcessHeader {
                project_id: grouped.project_id,
                group_id: outcome.group_id,
                event_id: grouped.event_id,
                is_new: outcome.new_group,
                is_regression: outcome.regression,
                is_reappeared: outcome.reappeared,
            },
            event: &processed.event,
        };
        post.push(spans.message(
            grouped.event_id,
            grouped.project_id.0,
            Bytes::from(serde_json::to_vec(&message).expect("message serialises")),
        ));
    }
    count("duplicate", duplicates);
    count("grouped", post.len() as u64 - duplicates);
    stores.queue.publish(Topic::Events, events).await?;
    stores.queue.publish(Topic::PostProcess, post).await?;
    Ok(())
}

/// Decodes and normalises; messages that cannot be decoded are logged and
/// dropped (relay validated them, so this means corruption).
/// Each decoded event comes with the index of its message.
fn decode(payloads: &[Bytes]) -> Vec<(usize, IngestHeader, Event)> {
    let mut out = Vec::with_capacity(payloads.len());
    let mut dropped = 0;
    for (index, payload) in payloads.iter().enumerate() {
        // A bug that panics on one event must cost that event, not stall the
        // queue behind it forever.
        match std::panic::catch_unwind(|| decode_one(payload)) {
            Ok(Some((header, event))) => out.push((index, header, event)),
            Ok(None) => dropped += 1,
            Err(_) => {
                tracing::error!("dropping an event whose processing panicked");
                dropped += 1;
            }
        }
    }
    count("dropped", dropped);
    out
}

fn decode_one(payload: &Bytes) -> Option<(IngestHeader, Event)> {
    let message = match IngestMessage::decode(payload.clone()) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "dropping undecodable ingest message");
            return None;
        }
    };
    let header = message.header;
    let mut opts = NormalizeOptions::new(header.received);
    opts.client_ip = header.remote_addr.clone();
    opts.fallback_event_id = Some(header.event_id);
    let mut event = match normalize_event(&message.payload, &opts) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, event_id = %header.event_id, "dropping invalid event");
            return None;
        }
    };
    // Relay answered the SDK with this id; it is the event's identity.
    event.event_id = header.event_id;
    Some((header, event))
}

/// Groups one event; a panic in grouping costs that event only.
fn group_one(header: &IngestHeader, event: Event) -> Option<(GroupedEvent, ProcessedEvent)> {
    let event_id = event.event_id;
    match std::panic::catch_unwind(move || prepare_one(header, event)) {
        Ok(prepared) => Some(prepared),
        Err(_) => {
            tracing::error!(%event_id, "dropping an event whose grouping panicked");
            count("dropped", 1);
            None
        }
    }
}

fn prepare_one(header: &IngestHeader, event: Event) -> (GroupedEvent, ProcessedEvent) {
    let grouping = group(&event);
    let grouped = GroupedEvent {
        project_id: header.project_id,
        event_id: event.event_id,
        hash: grouping.hash.clone(),
        title: grouping.title.clone(),
        culprit: grouping.culprit.clone(),
        level: event.level,
        event_type: event.event_type().to_owned(),
        platform: event.platform.clone(),
        metadata: serde_json::to_value(&grouping.metadata).expect("metadata serialises"),
        timestamp: event.timestamp,
        release: event.release.clone(),
        user: event.user_tag(),
    };
    let processed = ProcessedEvent {
        project_id: header.project_id,
        group_id: GroupId(0),
        title: grouping.title,
        culprit: grouping.culprit,
        event,
    };
    (grouped, processed)
}
