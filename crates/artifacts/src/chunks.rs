//! Chunks: the pieces chunk-upload receives, each named by its SHA-1, and
//! the file assembled from them in order.

use std::io::{self, Read, Write};

use faultline_storage::{BlobDir, BlobWriter};
use flate2::read::GzDecoder;
use sha1::{Digest, Sha1};

/// SHA-1 in lowercase hex, as sentry-cli names chunks and files.
pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

/// Whether `s` is a SHA-1 as sentry-cli writes one.
pub fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The blob key of `org`'s chunk `checksum` (checked by the caller).
pub fn chunk_key(org: i64, checksum: &str) -> String {
    format!("chunks/{org}/{checksum}")
}

/// The blob key of `org`'s bundle `checksum`.
pub fn bundle_key(org: i64, checksum: &str) -> String {
    format!("bundles/{org}/{checksum}.bundle")
}

/// A gzip part decoded, unless it inflates past `limit` bytes (`None`).
pub fn gunzip_bounded(bytes: &[u8], limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("chunk {0} is gone")]
    MissingChunk(String),
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the chunks make a file whose SHA-1 is {actual}, not {expected}")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("writing the file: {0}")]
    Io(#[from] io::Error),
}

/// Concatenates `org`'s chunks into the blob `target`, checking the whole
/// against `checksum` and `max_size`; returns its size. Nothing is left
/// under `target` unless all of it is right.
pub fn assemble(
    blobs: &BlobDir,
    org: i64,
    chunks: &[String],
    checksum: &str,
    target: &str,
    max_size: u64,
) -> Result<u64, AssembleError> {
    let mut writer: BlobWriter = blobs.writer(target)?;
    let mut hasher = Sha1::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for chunk in chunks {
        let mut file = match blobs.open(&chunk_key(org, chunk)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(AssembleError::MissingChunk(chunk.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size = size.saturating_add(n as u64);
            if size > max_size {
                return Err(AssembleError::TooLarge(max_size));
            }
            hasher.update(&buf[..n]);
            writer.write_all(&buf[..n])?;
        }
    }
    let actual = hex::encode(hasher.finalize());
    if actual != checksum {
        return Err(AssembleError::ChecksumMismatch {
            expected: checksum.to_owned(),
            actual,
        });
    }
    writer.commit()?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_in_order_and_checks_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path());
        let parts: [&[u8]; 2] = [b"hello ", b"world"];
        let names: Vec<String> = parts.iter().map(|p| sha1_hex(p)).collect();
        for (name, part) in names.iter().zip(parts) {
            blobs.write(&chunk_key(1, name), part).unwrap();
        }
        let whole = sha1_hex(b"hello world");
        let size = assemble(&blobs, 1, &names, &whole, "out/a", 100).unwrap();
        assert_eq!(size, 11);
        assert_eq!(
            std::fs::read(blobs.path("out/a").unwrap()).unwrap(),
            b"hello world"
        );
        let reversed: Vec<String> = names.iter().rev().cloned().collect();
        assert!(matches!(
            assemble(&blobs, 1, &reversed, &whole, "out/b", 100),
            Err(AssembleError::ChecksumMismatch { .. })
        ));
        assert!(!blobs.exists("out/b"));
        assert!(matches!(
            assemble(&blobs, 1, &names, &whole, "out/c", 10),
            Err(AssembleError::TooLarge(10))
        ));
        assert!(matches!(
            assemble(&blobs, 2, &names, &whole, "out/d", 100),
            Err(AssembleError::MissingChunk(_))
        ));
    }

    #[test]
    fn gzip_is_bounded() {
        use flate2::{Compression, write::GzEncoder};
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&[0u8; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip_bounded(&gz, 10_000).unwrap().unwrap().len(), 10_000);
        assert_eq!(gunzip_bounded(&gz, 9_999).unwrap(), None);
        assert!(gunzip_bounded(b"not gzip", 100).is_err());
    }

    #[test]
    fn names() {
        assert!(is_sha1_hex(&sha1_hex(b"x")));
        assert!(!is_sha1_hex("ABCDEF0123456789ABCDEF0123456789ABCDEF01"));
        assert!(!is_sha1_hex("../../../../etc/passwd/../../../../../../.."));
    }
}
