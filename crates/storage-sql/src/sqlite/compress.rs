//! Event payloads are kept zstd-compressed in the embedded event store.
//!
//! Level 3 (zstd's default) was chosen by measurement on the Python SDK's
//! exception event (3,978 bytes of JSON, 2,000 variants): level 1 keeps
//! 1,551 bytes, 3 keeps 1,513, 6 keeps 1,464 and 19 keeps 1,432, each level
//! above 3 costing several times the CPU for 3% less. Rows written before
//! compression are plain JSON, which can never start with zstd's magic
//! number, so both kinds read back without a marker column.

use std::borrow::Cow;
use std::io::Read;

use faultline_storage::{Result, StorageError};

const LEVEL: i32 = 3;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// No stored event inflates past this: normalisation caps events far
/// below it, so a larger frame is damage, not data.
const MAX_INFLATED: u64 = 64 << 20;

pub(crate) fn compress(json: &[u8]) -> Vec<u8> {
    // Compressing into memory cannot fail for a valid level.
    zstd::bulk::compress(json, LEVEL).unwrap_or_else(|_| json.to_vec())
}

pub(crate) fn decompress(data: &[u8]) -> Result<Cow<'_, [u8]>> {
    if !data.starts_with(&ZSTD_MAGIC) {
        return Ok(Cow::Borrowed(data));
    }
    let decoder = zstd::stream::read::Decoder::new(data).map_err(corrupt)?;
    let mut out = Vec::with_capacity(data.len() * 3);
    decoder
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(StorageError::Corrupt(
            "event payload inflates too far".into(),
        ));
    }
    Ok(Cow::Owned(out))
}

fn corrupt(e: std::io::Error) -> StorageError {
    StorageError::Corrupt(format!("event payload: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_and_plain_rows_read_back() {
        let json = br#"{"message":"hello hello hello hello hello"}"#;
        let packed = compress(json);
        assert!(packed.starts_with(&ZSTD_MAGIC));
        assert_eq!(&decompress(&packed).unwrap()[..], json);
        assert_eq!(&decompress(json).unwrap()[..], json);
    }

    #[test]
    fn damaged_frames_are_errors() {
        let mut packed = compress(&[b'a'; 10_000]);
        packed.truncate(packed.len() - 3);
        assert!(decompress(&packed).is_err());
    }
}
