//! Production backends on PostgreSQL (metadata). Kafka (queue) and
//! ClickHouse (events) arrive with the rest of the production topology.

mod meta;

pub use meta::PgMetaStore;
