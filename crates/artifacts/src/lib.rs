//! Uploaded artifacts, shared by web (which receives and assembles them)
//! and the symbolicator (which reads them): chunks named by SHA-1 and
//! their assembly into one file ([`chunks`]), and sentry-cli's artifact
//! bundles ([`bundle`]).

pub mod bundle;
pub mod chunks;

pub use bundle::{Bundle, BundleError, Manifest, is_safe_name, normalize_debug_id};
pub use chunks::{
    AssembleError, assemble, bundle_key, chunk_key, gunzip_bounded, is_sha1_hex, sha1_hex,
};
