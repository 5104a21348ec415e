//! The one test harness of the workspace: what the end-to-end tests,
//! `cargo xtask stack` and the benchmarks share, so that they start
//! servers and talk to them the same way.
//!
//! - [`process`]: free ports, waiting for a port, stopping a child;
//! - [`devserver`]: `faultline devserver` started and waited for, DSNs,
//!   API tokens;
//! - [`http`]: a minimal HTTP/1.1 client with keep-alive and timings;
//! - [`envelope`] and [`fixtures`]: envelopes as SDKs send them, and the
//!   captured SDK requests under `tests/fixtures/sdk`;
//! - the compose topology run natively (ClickHouse, tansu, Redis, nginx
//!   and each service as its own process), at the crate's root.
//!
//! Light on purpose, since it sits in the test and xtask builds: the
//! standard library, and `serde_json` and `flate2`, which both already use.

pub mod devserver;
pub mod envelope;
pub mod fixtures;
pub mod http;
pub mod process;
mod stack;

pub use process::{free_port, port_open, terminate, wait_for_port};
pub use stack::*;
