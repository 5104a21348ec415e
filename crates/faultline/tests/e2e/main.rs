//! End-to-end: a real `faultline devserver` process receives traffic from
//! the official Sentry SDKs and from hand-made hostile requests; every
//! assertion goes through the public REST API, as a user's would.

mod cli;
mod dashboard;
mod deploy;
mod harness;
mod ingestion;
mod sdks;
mod stack;
mod topology;
