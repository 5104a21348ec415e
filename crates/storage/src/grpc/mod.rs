//! The query service's gRPC contract (proto/query.proto), both ends: the
//! [`server`] adapter serves any [`EventStore`](crate::EventStore) over
//! gRPC, and [`RemoteEventStore`] is an `EventStore` that asks a query
//! service. Web runs on `RemoteEventStore` in the production topology and on
//! the embedded store in the devserver, with the same code.

mod client;
pub mod server;

pub use client::RemoteEventStore;

/// The code generated from proto/query.proto.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("faultline.query.v1");
}
