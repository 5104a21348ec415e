//! Event payloads are kept zstd-compressed in the embedded event store,
//! with a dictionary trained on the store's own first events.
//!
//! Level 3 (zstd's default) was chosen by measurement on the Python SDK's
//! exception event (3,978 bytes of JSON, 2,000 variants): level 1 keeps
//! 1,551 bytes, 3 keeps 1,513, 6 keeps 1,464 and 19 keeps 1,432, each level
//! above 3 costing several times the CPU for 3% less. One event alone
//! shares little with itself; events of one application share most of
//! their keys, SDK, contexts and modules, which is what a dictionary
//! carries, so each is compressed against it once one is trained.
//!
//! A frame names its dictionary (zstd writes the id in the frame header),
//! so rows compressed before a dictionary existed, with any dictionary
//! since, and plain JSON rows from before compression (which can never
//! start with zstd's magic number) all read back without a marker column.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use faultline_storage::{Result, StorageError};

const LEVEL: i32 = 3;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// No stored event inflates past this: normalisation caps events far
/// below it, so a larger frame is damage, not data.
const MAX_INFLATED: u64 = 64 << 20;
/// A dictionary is trained once this many events were stored without one…
pub(crate) const TRAINING_SAMPLES: usize = 1000;
/// …or once they add up to this many bytes, whichever comes first.
pub(crate) const TRAINING_BYTES: usize = 8 << 20;
/// 32 KiB did best in a measurement on SDK events (16 KiB and 64 KiB
/// kept more bytes per event).
const DICTIONARY_SIZE: usize = 32 << 10;

/// The dictionaries of one store: the newest compresses, all decompress.
#[derive(Default)]
pub(crate) struct Codec {
    current: Option<Arc<EncoderDictionary<'static>>>,
    decoders: HashMap<u32, Arc<DecoderDictionary<'static>>>,
}

impl Codec {
    /// The store's dictionaries, oldest first.
    pub(crate) fn new(dictionaries: &[(u32, Vec<u8>)]) -> Codec {
        let mut codec = Codec::default();
        for (id, data) in dictionaries {
            codec = codec.with(*id, data);
        }
        codec
    }

    /// This codec with `data` (dictionary `id`) as its newest.
    pub(crate) fn with(&self, id: u32, data: &[u8]) -> Codec {
        let mut decoders = self.decoders.clone();
        decoders.insert(id, Arc::new(DecoderDictionary::copy(data)));
        Codec {
            current: Some(Arc::new(EncoderDictionary::copy(data, LEVEL))),
            decoders,
        }
    }

    pub(crate) fn has_dictionary(&self) -> bool {
        self.current.is_some()
    }

    /// Compresses each payload, against the newest dictionary if any.
    pub(crate) fn compress_all(&self, payloads: &[Bytes]) -> Vec<Vec<u8>> {
        let mut compressor = match &self.current {
            Some(dictionary) => zstd::bulk::Compressor::with_prepared_dictionary(dictionary),
            None => zstd::bulk::Compressor::new(LEVEL),
        }
        .ok();
        payloads
            .iter()
            .map(|json| {
                // Compressing into memory fails only for an invalid level;
                // the payload is then kept as it is, which reads back too.
                compressor
                    .as_mut()
                    .and_then(|c| c.compress(json).ok())
                    .unwrap_or_else(|| json.to_vec())
            })
            .collect()
    }

    pub(crate) fn decompress<'a>(&self, data: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        if !data.starts_with(&ZSTD_MAGIC) {
            return Ok(Cow::Borrowed(data));
        }
        let decoder: Box<dyn Read + '_> = match zstd::zstd_safe::get_dict_id_from_frame(data) {
            None => Box::new(zstd::stream::read::Decoder::new(data).map_err(corrupt)?),
            Some(id) => {
                let dictionary = self.decoders.get(&id.get()).ok_or_else(|| {
                    StorageError::Corrupt(format!("event payload: no dictionary {id}"))
                })?;
                Box::new(
                    zstd::stream::read::Decoder::with_prepared_dictionary(data, dictionary)
                        .map_err(corrupt)?,
                )
            }
        };
        let mut out = Vec::with_capacity(data.len() * 4);
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
}

/// A dictionary trained on `samples` and its id, or why there is none
/// (too few or too small samples to learn from).
pub(crate) fn train(samples: &[Bytes]) -> std::io::Result<(u32, Vec<u8>)> {
    let data = zstd::dict::from_samples(samples, DICTIONARY_SIZE)?;
    let id = zstd::zstd_safe::get_dict_id_from_dict(&data)
        .ok_or_else(|| std::io::Error::other("the trained dictionary has no id"))?;
    Ok((id.get(), data))
}

fn corrupt(e: std::io::Error) -> StorageError {
    StorageError::Corrupt(format!("event payload: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Bytes> {
        (0..n)
            .map(|i| {
                Bytes::from(
                    serde_json::json!({
                        "event_id": format!("{i:032x}"),
                        "level": "error",
                        "platform": "python",
                        "message": format!("request {i} failed after {} ms", i * 7 % 1000),
                        "sdk": {"name": "sentry.python", "version": "2.75.0"},
                        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}},
                        "modules": {"requests": "2.32.3", "urllib3": "2.2.3", "certifi": "2024.8.30"},
                        "tags": {"server": format!("web-{}", i % 5)},
                    })
                    .to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn every_kind_of_row_reads_back() {
        let payloads = events(TRAINING_SAMPLES);
        let plain = Codec::default();
        let before = plain.compress_all(&payloads[..1]);
        assert!(before[0].starts_with(&ZSTD_MAGIC));
        let (id, dictionary) = train(&payloads).unwrap();
        let trained = plain.with(id, &dictionary);
        let after = trained.compress_all(&payloads[..1]);
        assert!(
            after[0].len() < before[0].len() / 2,
            "{} vs {}",
            after[0].len(),
            before[0].len()
        );
        for row in [&before[0][..], &after[0][..], &payloads[0][..]] {
            assert_eq!(&trained.decompress(row).unwrap()[..], &payloads[0][..]);
        }
        // A frame whose dictionary the store does not have is damage.
        assert!(plain.decompress(&after[0]).is_err());
        // Reopened from the stored dictionaries.
        let reopened = Codec::new(&[(id, dictionary)]);
        assert_eq!(
            &reopened.decompress(&after[0]).unwrap()[..],
            &payloads[0][..]
        );
    }

    #[test]
    fn damaged_frames_are_errors() {
        let mut packed = Codec::default().compress_all(&[Bytes::from(vec![b'a'; 10_000])]);
        let len = packed[0].len();
        packed[0].truncate(len - 3);
        assert!(Codec::default().decompress(&packed[0]).is_err());
    }
}
