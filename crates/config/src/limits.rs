//! Size limits at ingestion, modelled on Relay's defaults and documented in
//! docs/operations.md. Each is a `limits.*` key; the defaults are in KEYS.

use crate::{ConfigError, RawConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One event, transaction or feedback item after decompression (Relay: 1 MiB).
    pub max_event_size: usize,
    /// One attachment item.
    pub max_attachment_size: usize,
    /// All the attachment items of one envelope together.
    pub max_attachments_size: usize,
    /// The request body as sent, before decompression.
    pub max_envelope_size: usize,
    /// The request body after decompression; bounds zip bombs.
    pub max_decompressed_size: usize,
    /// JSON bodies of the REST API.
    pub max_api_payload_size: usize,
    /// One file assembled from uploaded chunks (chunk-upload's `maxFileSize`).
    pub max_upload_file_size: u64,
    /// Bytes of uploaded chunks and bundles one organization may keep.
    pub upload_quota: u64,
    /// One source map or minified file the symbolicator reads.
    pub max_sourcemap_size: u64,
}

impl Default for Limits {
    /// The limits of an empty config.
    fn default() -> Self {
        Limits::from_raw(&RawConfig::default()).expect("the default limits in KEYS are valid")
    }
}

impl Limits {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let size = |key| raw.at_least(key, 1usize);
        Ok(Limits {
            max_event_size: size("limits.max-event-size")?,
            max_attachment_size: size("limits.max-attachment-size")?,
            max_attachments_size: size("limits.max-attachments-size")?,
            max_envelope_size: size("limits.max-envelope-size")?,
            max_decompressed_size: size("limits.max-decompressed-size")?,
            max_api_payload_size: size("limits.max-api-payload-size")?,
            max_upload_file_size: raw.at_least("limits.max-upload-file-size", 1u64)?,
            upload_quota: raw.at_least("limits.upload-quota", 0u64)?,
            max_sourcemap_size: raw.at_least("limits.max-sourcemap-size", 1u64)?,
        })
    }
}
