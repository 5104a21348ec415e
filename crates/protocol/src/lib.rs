//! The Sentry wire protocol as Faultline understands it: typed ids, SDK
//! authentication, bounded decompression, envelopes, and the event model with
//! its normalisation.
//!
//! Untrusted bytes become typed values here; every other crate works on those
//! types. This crate does no I/O and knows nothing about HTTP servers or storage.

pub mod auth;
pub mod decompress;
pub mod envelope;
pub mod event;
pub mod ids;
pub mod messages;
pub mod normalize;

pub use auth::{AuthError, Dsn, SentryAuth};
pub use decompress::{ContentEncoding, DecompressError, decompress_bounded};
pub use envelope::{Envelope, EnvelopeError, Item, ItemType};
pub use event::{DebugImage, Event, Exception, Frame, Level, LogEntry, Stacktrace};
pub use ids::{EventId, GroupId, OrgId, ProjectId, short_id};
pub use messages::{
    ATTACHMENT_CHUNK_SIZE, Chunk, IngestHeader, IngestMessage, MessageError, PostProcessHeader,
    PostProcessMessage, PostProcessOut, ProcessedEvent,
};
pub use normalize::{
    MAX_JSON_DEPTH, NormalizeError, NormalizeOptions, check_event_json, normalize_event,
};
