//! End-to-end: a real `faultline devserver` process, and the production
//! topology (each service its own process on PostgreSQL, ClickHouse and a
//! Kafka-protocol broker, behind nginx), receive traffic from the official
//! Sentry SDKs and from hand-made hostile requests; every assertion goes
//! through the public REST API, as a user's would.

/// Runs each test function (taking a fresh server) twice: on a devserver
/// and on the production topology. The stack's runs need its servers, so
/// they are ignored unless `cargo xtask test` runs them; attributes before
/// a name (an `#[ignore = "needs …"]` for a test that drives an SDK) go on
/// its devserver run.
#[macro_export]
macro_rules! on_devserver_and_stack {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod on_devserver {
            $(#[test] $(#[$attr])* fn $name() { super::$name($crate::harness::Devserver::start()) })*
        }
        mod on_stack {
            $(
                #[test]
                #[ignore = "needs PostgreSQL, ClickHouse, Redis, tansu and nginx: run with cargo xtask test"]
                fn $name() { super::$name($crate::harness::Devserver::start_stack()) }
            )*
        }
    };
}

mod alerts;
mod attachments;
mod channels;
mod cli;
mod config;
mod dashboard;
mod deploy;
mod disk;
mod feedback;
mod hardening_access;
mod hardening_input;
mod hardening_session;
mod harness;
mod ingestion;
mod metrics;
mod monitoring;
mod notifications;
mod releases;
mod sdks;
mod sourcemaps;
mod stack;
mod topology;
mod traces;
