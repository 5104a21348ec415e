//! The query service's gRPC contract (proto/query.proto), both ends: the
//! [`server`] adapter serves any [`EventReader`](faultline_storage::EventReader) over
//! gRPC, and [`RemoteEventReader`] is an `EventReader` that asks a query
//! service. Web runs on `RemoteEventReader` in the production topology and
//! on the embedded store in the devserver, with the same code. The
//! contract has no writes: the query service takes events from the
//! `events` topic, and retention runs where the store is (cron).

mod client;
pub mod server;

pub use client::RemoteEventReader;

/// The code generated from proto/query.proto.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("faultline.query.v1");
}
