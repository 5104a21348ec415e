//! End-to-end: a real `faultline devserver` process, and the production
//! topology (each service its own process on PostgreSQL, ClickHouse and a
//! Kafka-protocol broker, behind nginx), receive traffic from the official
//! Sentry SDKs and from hand-made hostile requests; every assertion goes
//! through the public REST API, as a user's would.

/// Runs each test function (taking a fresh server) twice: on a devserver
/// and on the production topology.
#[macro_export]
macro_rules! on_devserver_and_stack {
    ($($name:ident),* $(,)?) => {
        mod on_devserver {
            $(#[test] fn $name() { super::$name($crate::harness::Devserver::start()) })*
        }
        mod on_stack {
            $(#[test] fn $name() { super::$name($crate::harness::Devserver::start_stack()) })*
        }
    };
}

mod cli;
mod dashboard;
mod deploy;
mod hardening_access;
mod hardening_input;
mod hardening_session;
mod harness;
mod ingestion;
mod sdks;
mod stack;
mod topology;
