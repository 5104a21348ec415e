//! Request bodies as SDKs compress them, decoded with a hard cap on the output
//! so that a small zip bomb cannot exhaust memory.

use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl ContentEncoding {
    /// Maps a `Content-Encoding` header value; `None` for encodings we do not
    /// speak (the caller answers 415/400).
    pub fn from_header(value: Option<&str>) -> Option<Self> {
        let value = value.map(str::trim).unwrap_or("");
        Some(match value.to_ascii_lowercase().as_str() {
            "" | "identity" => ContentEncoding::Identity,
            "gzip" | "x-gzip" => ContentEncoding::Gzip,
            "deflate" => ContentEncoding::Deflate,
            "br" => ContentEncoding::Brotli,
            "zstd" => ContentEncoding::Zstd,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error("body is not valid {encoding:?} data: {source}")]
    Corrupt {
        encoding: ContentEncoding,
        source: std::io::Error,
    },
}

/// Decodes `body` and returns at most `limit` bytes; more is an error, not a
/// truncation, so a partially read event is never accepted.
pub fn decompress_bounded(
    body: &[u8],
    encoding: ContentEncoding,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    match encoding {
        ContentEncoding::Identity => {
            if body.len() > limit {
                return Err(DecompressError::TooLarge { limit });
            }
            Ok(body.to_vec())
        }
        ContentEncoding::Gzip => {
            read_bounded(flate2::read::MultiGzDecoder::new(body), encoding, limit)
        }
        ContentEncoding::Deflate => {
            // HTTP's "deflate" is zlib-wrapped, but some clients send raw
            // deflate streams; accept both as browsers do.
            match read_bounded(flate2::read::ZlibDecoder::new(body), encoding, limit) {
                Err(DecompressError::Corrupt { .. }) => {
                    read_bounded(flate2::read::DeflateDecoder::new(body), encoding, limit)
                }
                other => other,
            }
        }
        ContentEncoding::Brotli => read_bounded(
            brotli_decompressor::Decompressor::new(body, 4096),
            encoding,
            limit,
        ),
        ContentEncoding::Zstd => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(body).map_err(|e| {
                DecompressError::Corrupt {
                    encoding,
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                }
            })?;
            read_bounded(decoder, encoding, limit)
        }
    }
}

fn read_bounded(
    reader: impl Read,
    encoding: ContentEncoding,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let read = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|source| DecompressError::Corrupt { encoding, source })?;
    if read > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    if encoding != ContentEncoding::Identity && read == 0 {
        return Err(DecompressError::Corrupt {
            encoding,
            source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "empty stream"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_roundtrip_and_bomb() {
        let data = vec![b'a'; 10_000];
        assert_eq!(
            decompress_bounded(&gzip(&data), ContentEncoding::Gzip, 10_000).unwrap(),
            data
        );
        let err = decompress_bounded(&gzip(&data), ContentEncoding::Gzip, 9_999).unwrap_err();
        assert!(matches!(err, DecompressError::TooLarge { .. }));
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let full = gzip(&vec![b'x'; 5000]);
        let err = decompress_bounded(&full[..full.len() / 2], ContentEncoding::Gzip, 1 << 20)
            .unwrap_err();
        assert!(matches!(err, DecompressError::Corrupt { .. }));
    }

    #[test]
    fn garbage_is_corrupt_for_every_encoding() {
        for enc in [
            ContentEncoding::Gzip,
            ContentEncoding::Deflate,
            ContentEncoding::Brotli,
            ContentEncoding::Zstd,
        ] {
            assert!(
                decompress_bounded(b"definitely not compressed", enc, 1 << 20).is_err(),
                "{enc:?}"
            );
        }
    }

    #[test]
    fn deflate_both_wrappings() {
        let data = b"hello deflate".to_vec();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(&data).unwrap();
        let raw = r.finish().unwrap();
        assert_eq!(
            decompress_bounded(&zlib, ContentEncoding::Deflate, 100).unwrap(),
            data
        );
        assert_eq!(
            decompress_bounded(&raw, ContentEncoding::Deflate, 100).unwrap(),
            data
        );
    }

    #[test]
    fn header_values() {
        assert_eq!(
            ContentEncoding::from_header(None),
            Some(ContentEncoding::Identity)
        );
        assert_eq!(
            ContentEncoding::from_header(Some("GZIP")),
            Some(ContentEncoding::Gzip)
        );
        assert_eq!(ContentEncoding::from_header(Some("compress")), None);
    }
}
