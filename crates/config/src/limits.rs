//! Size limits at ingestion, modelled on Relay's defaults and documented in
//! docs/operations.md. Each is a `limits.*` key.

use crate::{ConfigError, RawConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One event, transaction or feedback item after decompression (Relay: 1 MiB).
    pub max_event_size: usize,
    /// One attachment item.
    pub max_attachment_size: usize,
    /// The request body as sent, before decompression.
    pub max_envelope_size: usize,
    /// The request body after decompression; bounds zip bombs.
    pub max_decompressed_size: usize,
    /// JSON bodies of the REST API.
    pub max_api_payload_size: usize,
}

const MIB: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_size: MIB,
            max_attachment_size: 20 * MIB,
            max_envelope_size: 20 * MIB,
            max_decompressed_size: 40 * MIB,
            max_api_payload_size: 20 * MIB,
        }
    }
}

impl Limits {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let d = Limits::default();
        let size = |key: &str, default: usize| -> Result<usize, ConfigError> {
            let v = raw.parse(key, default)?;
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
            Ok(v)
        };
        Ok(Limits {
            max_event_size: size("limits.max-event-size", d.max_event_size)?,
            max_attachment_size: size("limits.max-attachment-size", d.max_attachment_size)?,
            max_envelope_size: size("limits.max-envelope-size", d.max_envelope_size)?,
            max_decompressed_size: size("limits.max-decompressed-size", d.max_decompressed_size)?,
            max_api_payload_size: size("limits.max-api-payload-size", d.max_api_payload_size)?,
        })
    }
}
